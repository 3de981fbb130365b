"""torchvision's classifiers (imported through torchvision_shim beside the CPU torch) and nabla's models of
the same configuration, weights both ways, eval-mode outputs equal (rtol 1e-3, atol 1e-4, float32) on a
3x64x64 input (every model here ends in adaptive pooling; 10 classes keep the heads small).  ResNet-18,
ResNet-50 and GoogLeNet go through safetensors files (``safetensors.torch.save_file`` then
``safetensors.numpy.load_file`` into nabla; ``nabla.save`` then ``safetensors.torch.load_file`` into
torch); AlexNet and VGG-11 (61M and 129M parameters) are handed over as arrays in memory, to keep
half-gigabyte files out of the test run: the file format is exercised by the others."""
import importlib

import numpy as np
import pytest

import nabla as nb

from .torchvision_shim import import_torchvision

tv = import_torchvision()
torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
from safetensors.numpy import load_file  # noqa: E402 - nabla's own dependency

TOL = dict(rtol=1e-3, atol=1e-4)
_ours = {n: importlib.import_module(f"nabla.models.{n}") for n in ("resnet", "alexnet", "googlenet", "vgg")}
NO_AUX = dict(aux_logits=False, init_weights=False)
MODELS = {  # name: (torchvision builder, nabla builder, through a file)
    "resnet18": (lambda: tv.models.resnet18(num_classes=10), lambda: _ours["resnet"].resnet18(num_classes=10), True),
    "resnet50": (lambda: tv.models.resnet50(num_classes=10), lambda: _ours["resnet"].resnet50(num_classes=10), True),
    "googlenet": (lambda: tv.models.googlenet(num_classes=10, **NO_AUX),
                  lambda: _ours["googlenet"].googlenet(num_classes=10, **NO_AUX), True),
    "alexnet": (lambda: tv.models.alexnet(num_classes=10), lambda: _ours["alexnet"].alexnet(num_classes=10), False),
    "vgg11": (lambda: tv.models.vgg11(num_classes=10, init_weights=False),
              lambda: _ours["vgg"].vgg11(num_classes=10, init_weights=False), False),
}


def _random_state(keys_shapes, seed):
    """Weights and BatchNorm statistics unlike either library's initialisation (variances positive)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, shape in keys_shapes.items():
        if k.endswith("num_batches_tracked"):
            out[k] = np.zeros(shape, np.int64)
            continue
        scale = 1 / np.sqrt(np.prod(shape[1:])) if len(shape) > 1 else 0.1  # outputs of order one
        a = rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)  # float32 draws: 129M of them
        out[k] = rng.uniform(0.5, 1.5, shape).astype(np.float32) if k.endswith("running_var") else a
    return out


_built = {}


def _ours_built(name):
    """nabla's model, built once per test run (VGG-11's default initialisation alone takes seconds); each test
    overwrites every weight with a strict load, so sharing it carries nothing over."""
    if name not in _built:
        _built[name] = MODELS[name][1]()
    return _built[name]


def _theirs_loaded(name, state):
    """torchvision's model built on the meta device (no initialisation) and given ``state`` (strict)."""
    with torch.device("meta"):
        tm = MODELS[name][0]()
    tm.load_state_dict(state, strict=True, assign=True)
    return tm


def _compare(tm, nm):
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        ref = tm.eval()(torch.from_numpy(x)).numpy()
    with nb.no_grad():
        out = nm.eval()(nb.tensor(x)).data
    np.testing.assert_allclose(out, ref, **TOL)


@pytest.mark.parametrize("name", MODELS)
def test_torchvision_weights_load_strict_into_nabla(name, tmp_path):
    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in MODELS[name][0]().state_dict().items()}
    tm = _theirs_loaded(name, {k: torch.from_numpy(v) for k, v in _random_state(shapes, seed=1).items()})
    sd = {k: v.contiguous() for k, v in tm.state_dict().items()}
    if MODELS[name][2]:
        st_torch.save_file(sd, str(tmp_path / "tv.safetensors"))
        loaded = load_file(str(tmp_path / "tv.safetensors"))
    else:
        loaded = {k: v.numpy() for k, v in sd.items()}
    nm = _ours_built(name)
    nm.load_state_dict(loaded, strict=True)
    _compare(tm, nm)


@pytest.mark.parametrize("name", MODELS)
def test_nabla_weights_load_strict_into_torchvision(name, tmp_path):
    nm = _ours_built(name)
    nm.load_state_dict(_random_state({k: tuple(v.shape) for k, v in nm.state_dict().items()}, seed=2), strict=True)
    if MODELS[name][2]:
        nb.save(nm.state_dict(), tmp_path / "nabla.safetensors")
        loaded = st_torch.load_file(str(tmp_path / "nabla.safetensors"))
    else:
        loaded = {k: torch.from_numpy(np.array(v.data if hasattr(v, "data") else v))
                  for k, v in nm.state_dict().items()}
    _compare(_theirs_loaded(name, loaded), nm)
