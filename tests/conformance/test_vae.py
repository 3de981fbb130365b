"""The VAE's loss against PyTorch: the same weights (copied arrays, the same state-dict names) and the same
eps give the same reconstruction and KL terms per image, the same loss and the same parameter gradients
(rtol 1e-10 in float64, 1e-4 in float32), for the MLP VAE and the convolutional one."""
import numpy as np
import pytest

import nabla as nb
from nabla.models import ConvVAE, VAE
from nabla.models.vae import elbo_terms

torch = pytest.importorskip("torch")
tnn = torch.nn


def torch_twin(model):
    """A torch module with nabla ``model``'s layers under the same names, holding copies of its weights."""
    twin = tnn.Module()
    c, h, w = model.in_shape
    if isinstance(model, VAE):
        hidden, d = model.fc_mu.in_features, c * h * w
        twin.encoder = tnn.Sequential(tnn.Flatten(), tnn.Linear(d, hidden), tnn.ReLU())
        twin.decoder = tnn.Sequential(tnn.Linear(model.latent_dim, hidden), tnn.ReLU(), tnn.Linear(hidden, d),
                                      tnn.Unflatten(1, (c, h, w)))
    else:
        width, hidden = model.encoder[0].out_channels, model.fc_mu.in_features
        small = (2 * width, h // 4, w // 4)
        twin.encoder = tnn.Sequential(tnn.Conv2d(c, width, 4, 2, 1), tnn.ReLU(), tnn.Conv2d(width, 2 * width, 4, 2, 1),
                                      tnn.ReLU(), tnn.Flatten(), tnn.Linear(int(np.prod(small)), hidden), tnn.ReLU())
        twin.decoder = tnn.Sequential(tnn.Linear(model.latent_dim, hidden), tnn.ReLU(),
                                      tnn.Linear(hidden, int(np.prod(small))), tnn.ReLU(), tnn.Unflatten(1, small),
                                      tnn.ConvTranspose2d(2 * width, width, 4, 2, 1), tnn.ReLU(),
                                      tnn.ConvTranspose2d(width, c, 4, 2, 1))
    twin.fc_mu = tnn.Linear(model.fc_mu.in_features, model.latent_dim)
    twin.fc_logvar = tnn.Linear(model.fc_mu.in_features, model.latent_dim)
    state = {k: torch.from_numpy(v.data.copy()) for k, v in model.state_dict().items()}
    twin.load_state_dict(state, strict=True)
    return twin.to(torch.float64 if model.fc_mu.weight.dtype == np.float64 else torch.float32)


def torch_terms(twin, x, eps):
    """PyTorch's VAE loss (the pytorch/examples formulation, per image)."""
    h = twin.encoder(x)
    mu, logvar = twin.fc_mu(h), twin.fc_logvar(h)
    z = mu + torch.exp(0.5 * logvar) * eps
    logits = twin.decoder(z)
    rec = tnn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1)
    return rec, kl


@pytest.mark.parametrize("dtype,rtol", [(np.float64, 1e-10), (np.float32, 1e-4)], ids=["float64", "float32"])
@pytest.mark.parametrize("make", [lambda: VAE((1, 28, 28), 10, hidden=64, latent=6),
                                  lambda: ConvVAE((1, 12, 8), 10, latent=5, width=4, hidden=16)],
                         ids=["vae", "conv-vae"])
def test_loss_terms_and_gradients_match_pytorch(make, dtype, rtol):
    nb.manual_seed(0)
    model = make().to(dtype)
    twin = torch_twin(model)
    rng = np.random.default_rng(1)
    x = (rng.random((5,) + model.in_shape) < 0.3).astype(dtype)
    x[0] = rng.random(model.in_shape)                       # one grey-level image too
    eps = np.random.default_rng(2).standard_normal((5, model.latent_dim), dtype=dtype)  # reparameterize's draw

    rec, kl = elbo_terms(model, nb.tensor(x), generator=np.random.default_rng(2))
    loss = (rec + kl).mean()
    loss.backward()
    t_rec, t_kl = torch_terms(twin, torch.from_numpy(x), torch.from_numpy(eps))
    t_loss = (t_rec + t_kl).mean()
    t_loss.backward()

    np.testing.assert_allclose(rec.data, t_rec.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(kl.data, t_kl.detach().numpy(), rtol=rtol)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=rtol)
    t_grads = dict(twin.named_parameters())
    for name, p in model.named_parameters():
        g = t_grads[name].grad.numpy()
        np.testing.assert_allclose(p.grad.data, g, rtol=rtol, atol=rtol * np.abs(g).max(), err_msg=name)
