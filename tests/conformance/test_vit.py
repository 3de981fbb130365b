"""nabla's VisionTransformer against torchvision.models.VisionTransformer of the same small configuration:
torchvision's weights loaded through from_torchvision_state_dict (strict), identical logits and gradients.
torchvision's ViT takes 3-channel images, so both are built for 3x28x28."""
import numpy as np
import pytest

import nabla as nb
from nabla.models.vit import VisionTransformer, from_torchvision_state_dict

from .torchvision_shim import import_torchvision

torch = pytest.importorskip("torch")

CONFIG = dict(patch_size=7, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10)


def _pair():
    tv = import_torchvision()
    torch.manual_seed(0)
    theirs = tv.models.VisionTransformer(image_size=28, **CONFIG)
    with torch.no_grad():  # its zero head (and near-zero biases) would hide most of the model: perturb everything
        for p in theirs.parameters():
            p.add_(0.1 * torch.randn_like(p))
    ours = VisionTransformer(28, CONFIG["patch_size"], CONFIG["num_layers"], CONFIG["num_heads"], CONFIG["hidden_dim"],
                             CONFIG["mlp_dim"], 0.0, CONFIG["num_classes"], in_channels=3)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    ours.load_state_dict(from_torchvision_state_dict(state))   # strict: every key matched
    return theirs, ours


def test_torchvision_weights_give_the_same_logits_and_gradients():
    theirs, ours = _pair()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 3, 28, 28)).astype(np.float32)
    r = rng.normal(size=(4, 10)).astype(np.float32)
    tx = torch.from_numpy(x).requires_grad_(True)
    out_t = theirs(tx)
    (out_t * torch.from_numpy(r)).sum().backward()
    nx = nb.tensor(x, requires_grad=True)
    out_n = ours(nx)
    (out_n * nb.tensor(r)).sum().backward()
    np.testing.assert_allclose(out_n.data, out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(nx.grad.data, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    grads = from_torchvision_state_dict({k: p.grad.numpy() for k, p in theirs.named_parameters()})
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, grads[name], rtol=1e-3, atol=1e-5, err_msg=name)
