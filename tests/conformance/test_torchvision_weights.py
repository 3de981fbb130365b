"""torchvision's ResNet-18/34/50, GoogLeNet (with its auxiliary heads) and AlexNet, and nabla's models of the
same configuration: weights both ways, eval-mode outputs equal (rtol 1e-3, atol 1e-4, float32) on two 3x32x32
images (AlexNet: 3x64x64; every model here ends in adaptive pooling; 10 classes keep the heads small); how is in
torchvision_weights_common.  GoogLeNet's aux1/aux2 weights load both ways and its three outputs agree in a
training-mode forward with dropout off.  A state dict of another architecture lists the missing, unexpected and
mis-shaped keys, as PyTorch does.  ResNet-101/152: test_torchvision_weights_deep.py; VGG:
test_torchvision_weights_vgg*.py."""
import importlib

import numpy as np
import pytest

import nabla as nb
from nabla import nn

from . import torchvision_weights_common as common
from .torchvision_weights_common import TOL, both_ways, ours, random_state, theirs, torch, tv

weights_module = common.weights_module  # autouse: torch on one thread, the shared draws dropped at the end

_ours = {n: importlib.import_module(f"nabla.models.{n}") for n in ("resnet", "alexnet", "googlenet")}
MODELS = {  # name: (torchvision builder, nabla builder, through a file); AlexNet's pools need 64x64 images
    "resnet18": (lambda: tv.models.resnet18(num_classes=10), lambda: _ours["resnet"].resnet18(num_classes=10), True),
    "resnet34": (lambda: tv.models.resnet34(num_classes=10), lambda: _ours["resnet"].resnet34(num_classes=10), True),
    "resnet50": (lambda: tv.models.resnet50(num_classes=10), lambda: _ours["resnet"].resnet50(num_classes=10), True),
    "alexnet": (lambda: tv.models.alexnet(num_classes=10), lambda: _ours["alexnet"].alexnet(num_classes=10), False),
}


@pytest.mark.parametrize("name", MODELS)
def test_torchvision_weights_both_ways(name, tmp_path):
    torch_build, nabla_build, through_file = MODELS[name]
    shape = (2, 3, 64, 64) if name == "alexnet" else (2, 3, 32, 32)
    both_ways(torch_build, nabla_build, tmp_path, through_file, shape)


def _train_mode_dropout_off(model, dropout):
    """Training mode (BatchNorm on batch statistics, the auxiliary heads run) with every dropout switched off."""
    model.train()
    for m in model.modules():
        if isinstance(m, dropout):
            m.eval()
    return model


def test_googlenet_with_aux_heads_both_ways(tmp_path):
    tm, nm = both_ways(lambda: tv.models.googlenet(num_classes=10, aux_logits=True, init_weights=False),
                       lambda: _ours["googlenet"].googlenet(num_classes=10, aux_logits=True, init_weights=False),
                       tmp_path)
    keys = list(nm.state_dict())
    assert "aux1.conv.conv.weight" in keys and "aux2.fc2.bias" in keys
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ref = _train_mode_dropout_off(tm, torch.nn.Dropout)(torch.from_numpy(x))
    with nb.no_grad():
        out = _train_mode_dropout_off(nm, nn.Dropout)(nb.tensor(x))
    assert type(ref).__name__ == type(out).__name__ == "GoogLeNetOutputs"
    for name in ("logits", "aux_logits2", "aux_logits1"):
        np.testing.assert_allclose(getattr(out, name).data, getattr(ref, name).numpy(), **TOL, err_msg=name)


def test_another_architecture_lists_missing_unexpected_and_mis_shaped_keys():
    """ResNet-50's weights (Bottleneck blocks, 1000 classes) offered to a ResNet-18 of 10 classes."""
    shapes = {k: tuple(v.shape) for k, v in theirs(lambda: tv.models.resnet50()).state_dict().items()}
    nm = ours(lambda: _ours["resnet"].resnet18(num_classes=10))
    with pytest.raises(RuntimeError) as e:
        nm.load_state_dict(random_state(shapes, seed=0), strict=True)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for ResNet:")
    assert 'Missing key(s) in state_dict: "layer1.0.conv1.weight"' not in msg  # present in both, only re-shaped
    assert "Unexpected key(s) in state_dict: " in msg
    assert '"layer1.0.conv3.weight"' in msg and '"layer3.5.bn1.bias"' in msg
    assert ("size mismatch for layer1.0.conv1.weight: copying a param with shape (64, 64, 1, 1) from checkpoint, "
            "the shape in current model is (64, 64, 3, 3)") in msg
    assert "size mismatch for fc.weight: copying a param with shape (1000, 2048)" in msg and "(10, 512)" in msg
    # and the keys a ResNet-34 has beyond ResNet-18's, when ResNet-18's weights are offered to it
    small = {k: tuple(v.shape) for k, v in theirs(lambda: tv.models.resnet18(num_classes=10)).state_dict().items()}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "layer1\.2\.conv1\.weight"'):
        ours(lambda: _ours["resnet"].resnet34(num_classes=10)).load_state_dict(random_state(small, seed=0))
    result = nm.load_state_dict(random_state(small, seed=0) | {"extra": np.zeros(1, np.float32)}, strict=False)
    assert result.missing_keys == [] and result.unexpected_keys == ["extra"]
    with pytest.raises(RuntimeError, match="size mismatch for fc.weight"):   # strict=False or not, as in PyTorch
        nm.load_state_dict(random_state(shapes, seed=0), strict=False)
