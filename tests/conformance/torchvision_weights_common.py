"""What the torchvision weight tests share (test_torchvision_weights*.py): torchvision's classifier and nabla's
model of the same configuration exchange weights both ways, and their eval-mode outputs agree (rtol 1e-3,
atol 1e-4, float32).

* torchvision -> nabla: torchvision's model is built on the meta device (no initialisation), given random
  weights and BatchNorm statistics (strict, ``assign``), and its state_dict goes to nabla's model (strict),
  through a safetensors file (``safetensors.torch.save_file`` -> ``nabla.load``) or, for AlexNet, VGG and
  ResNet-101/152 (45-144M parameters), as arrays in memory: the file format is exercised by the others
  (ResNet-18/34/50, GoogLeNet) and files of hundreds of megabytes stay out of the test run.
* nabla -> torchvision: nabla's model gets other random weights, and its state_dict (``nabla.save`` ->
  ``safetensors.torch.load_file``, or in memory) goes strict into a fresh meta-device torchvision model.

nabla's model is built ``uninitialised()``: its random initialisers do nothing (as torchvision's meta device),
since the strict load then writes every parameter and buffer; VGG's classifier alone would take seconds to
initialise.  The random values are int8 levels (a fifth of the time of normal draws), drawn per key; tensors
of over a million elements (VGG's and AlexNet's classifiers and widest convolutions) are drawn once per key and
shape and shared by the models and directions of one test module that have that key (VGG's classifier), each
still unlike either library's initialisation and unlike the other keys' draws.  torch runs on one thread during
these modules (the machine's cores are the test runner's).
"""
from __future__ import annotations

import contextlib
import zlib

import numpy as np
import pytest

import nabla as nb
from nabla.nn import init as nabla_init

from .torchvision_shim import import_torchvision

tv = import_torchvision()
torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")

TOL = dict(rtol=1e-3, atol=1e-4)
BIG = 1 << 20                      # elements above which a tensor's draw is shared (see the module docstring)
_RANDOM_INITS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                 "xavier_uniform_", "xavier_normal_", "orthogonal_")
_shared: dict = {}


@contextlib.contextmanager
def uninitialised():
    """nabla's random initialisers as no-ops while a model is built (its arrays stay as allocated)."""
    saved = {name: getattr(nabla_init, name) for name in _RANDOM_INITS}
    try:
        for name in _RANDOM_INITS:
            setattr(nabla_init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(nabla_init, name, fn)


def _levels(rng, shape, scale):
    """Random int8 levels -127..127 scaled to standard deviation ``scale`` (the levels' own is 73.3): a fifth of
    the time of normal draws, and 255 distinct values per tensor."""
    return rng.integers(-127, 128, shape, dtype=np.int8).astype(np.float32) * np.float32(scale / 73.3)


def _shared_draw(key, shape, scale):
    """``_levels`` made once per key and shape, from a seed of its own."""
    if (key, shape) not in _shared:
        _shared[key, shape] = _levels(np.random.default_rng(zlib.crc32(key.encode())), shape, scale)
    return _shared[key, shape]


def random_state(keys_shapes, seed):
    """Weights and BatchNorm statistics unlike either library's initialisation (outputs of order one, variances
    positive, ``num_batches_tracked`` zero)."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, shape in keys_shapes.items():
        if k.endswith("num_batches_tracked"):
            out[k] = np.zeros(shape, np.int64)
        elif k.endswith("running_var"):
            out[k] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            scale = 1 / np.sqrt(np.prod(shape[1:])) if len(shape) > 1 else 0.1
            out[k] = _shared_draw(k, shape, scale) if np.prod(shape) > BIG else _levels(rng, shape, scale)
    return out


def theirs(build, state=None):
    """torchvision's model on the meta device, given ``state`` (strict, assigned) when there is one."""
    with torch.device("meta"):
        model = build()
    if state is not None:
        model.load_state_dict(state, strict=True, assign=True)
    return model


def ours(build):
    """nabla's model, built uninitialised (every value is written by the strict load that follows)."""
    with uninitialised():
        return build()


def compare(tm, nm, shape):
    """Eval-mode outputs of the two models on one random input agree (and vary: a near-constant output would
    hide wrong weights)."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = tm.eval()(torch.from_numpy(x)).numpy()
    with nb.no_grad():
        out = nm.eval()(nb.tensor(x)).data
    assert ref.std() > 1e-3, f"torchvision's outputs are near constant (std {ref.std():.3g})"
    np.testing.assert_allclose(out, ref, **TOL)


def torch_to_nabla(torch_build, nm, tmp_path, through_file, seed=1):
    """torchvision's randomised weights loaded strict into ``nm``; returns the torchvision model."""
    shapes = {k: tuple(v.shape) for k, v in theirs(torch_build).state_dict().items()}
    tm = theirs(torch_build, {k: torch.from_numpy(v) for k, v in random_state(shapes, seed).items()})
    sd = {k: v.contiguous() for k, v in tm.state_dict().items()}
    if through_file:
        st_torch.save_file(sd, str(tmp_path / "tv.safetensors"))
        loaded = nb.load(tmp_path / "tv.safetensors")
    else:
        loaded = {k: v.numpy() for k, v in sd.items()}
    nm.load_state_dict(loaded, strict=True)
    return tm


def nabla_to_torch(torch_build, nm, tmp_path, through_file, seed=2):
    """``nm`` given other random weights, and its state_dict loaded strict into a fresh torchvision model."""
    nm.load_state_dict(random_state({k: tuple(v.shape) for k, v in nm.state_dict().items()}, seed), strict=True)
    if through_file:
        nb.save(nm.state_dict(), tmp_path / "nabla.safetensors")
        loaded = st_torch.load_file(str(tmp_path / "nabla.safetensors"))
    else:
        loaded = {k: torch.from_numpy(np.asarray(getattr(v, "data", v))) for k, v in nm.state_dict().items()}
    return theirs(torch_build, loaded)


def both_ways(torch_build, nabla_build, tmp_path, through_file=True, shape=(2, 3, 32, 32)):
    """The two directions on one nabla model; returns (torchvision model, nabla model) of the second."""
    nm = ours(nabla_build)
    compare(torch_to_nabla(torch_build, nm, tmp_path, through_file), nm, shape)
    tm = nabla_to_torch(torch_build, nm, tmp_path, through_file)
    compare(tm, nm, shape)
    return tm, nm


@pytest.fixture(scope="module", autouse=True)
def weights_module():
    """torch on one thread for the module, and the shared draws (half a gigabyte for VGG) dropped at its end."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield _shared
    torch.set_num_threads(threads)
    _shared.clear()
