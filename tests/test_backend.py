"""The backend: default dtype, seeded random generator, the array module."""
import numpy as np
import pytest

import nabla as nb
from nabla import backend


@pytest.fixture
def restore_default_dtype():
    prev = nb.get_default_dtype()
    yield
    nb.set_default_dtype(prev)


def test_default_dtype_is_float32():
    assert nb.get_default_dtype() == np.float32
    assert nb.tensor([1.0]).dtype == np.float32
    assert nb.zeros(2).dtype == np.float32 and nb.randn(2).dtype == np.float32


def test_set_default_dtype_float64_then_restore(restore_default_dtype):
    nb.set_default_dtype(nb.float64)
    assert nb.get_default_dtype() == np.float64
    assert nb.tensor([1.0]).dtype == np.float64
    assert nb.ones(2).dtype == np.float64 and nb.rand(2).dtype == np.float64
    assert nb.arange(0.0, 1.0, 0.5).dtype == np.float64
    assert nb.tensor([1, 2]).dtype == np.int64  # integers are not affected
    assert (nb.ones(2) * 2.0).dtype == np.float64
    nb.set_default_dtype(nb.float32)
    assert nb.tensor([1.0]).dtype == np.float32


def test_set_default_dtype_accepts_numpy_names(restore_default_dtype):
    nb.set_default_dtype("float64")
    assert nb.get_default_dtype() == np.float64
    nb.set_default_dtype(np.float32)
    assert nb.get_default_dtype() == np.float32


def test_set_default_dtype_rejects_non_floating(restore_default_dtype):
    with pytest.raises(TypeError, match="floating.*int64"):
        nb.set_default_dtype(nb.int64)
    assert nb.get_default_dtype() == np.float32


def test_manual_seed_reproducibility():
    nb.manual_seed(123)
    a = (nb.randn(3, 4), nb.rand(5), nb.randint(0, 10, (6,)), nb.randperm(7), nb.normal(0.0, 1.0, (2,)))
    nb.manual_seed(123)
    b = (nb.randn(3, 4), nb.rand(5), nb.randint(0, 10, (6,)), nb.randperm(7), nb.normal(0.0, 1.0, (2,)))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.numpy(), y.numpy())
    nb.manual_seed(124)
    assert not np.array_equal(nb.randn(3, 4).numpy(), a[0].numpy())


def test_in_place_random_fills_use_the_seeded_generator():
    nb.manual_seed(7)
    a = nb.empty(4).uniform_(-1, 1).numpy().copy()
    b = nb.empty(4).normal_(0, 2).numpy().copy()
    nb.manual_seed(7)
    np.testing.assert_array_equal(nb.empty(4).uniform_(-1, 1).numpy(), a)
    np.testing.assert_array_equal(nb.empty(4).normal_(0, 2).numpy(), b)
    assert ((a >= -1) & (a < 1)).all()


def test_rng_state_save_and_restore():
    nb.manual_seed(0)
    state = nb.get_rng_state()
    first = nb.randn(5).numpy().copy()
    nb.randn(5)
    nb.set_rng_state(state)
    np.testing.assert_array_equal(nb.randn(5).numpy(), first)


def test_manual_seed_returns_generator():
    g = nb.manual_seed(1)
    assert isinstance(g, np.random.Generator) and backend.rng() is g


def test_dtype_aliases():
    assert nb.float32 == np.float32 and nb.float64 == np.float64 and nb.double == np.float64
    assert nb.int64 == np.int64 and nb.long == np.int64 and nb.half == np.float16
    assert nb.bool == np.bool_ and nb.uint8 == np.uint8 and nb.int32 == np.int32


def test_array_module_is_numpy_and_swappable():
    assert backend.xp is np
    calls = []

    class Spy:
        def __getattr__(self, name):
            calls.append(name)
            return getattr(np, name)

    backend.set_array_module(Spy())
    try:
        t = nb.zeros(2, 3)
    finally:
        backend.set_array_module(np)
    assert "zeros" in calls and t.shape == (2, 3)
    assert backend.xp is np


def test_resolve_dtype_and_is_floating():
    assert backend.resolve_dtype(None) is None
    assert backend.resolve_dtype("float64") == np.float64
    assert backend.is_floating(np.float16) and not backend.is_floating(np.int32)
