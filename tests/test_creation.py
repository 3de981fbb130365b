"""Creation functions: values, shapes, dtypes, requires_grad, copying versus sharing."""
import numpy as np
import pytest

import nabla as nb
from nabla import Tensor


def test_tensor_from_python_and_numpy():
    assert nb.tensor([[1.0, 2.0]]).dtype == np.float32
    assert nb.tensor([1, 2]).dtype == np.int64
    assert nb.tensor(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert nb.tensor(3.5).shape == () and nb.tensor(3.5).item() == 3.5
    assert nb.tensor([1, 2], dtype=nb.float64).dtype == np.float64
    t = nb.tensor([1.0, 2.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_tensor_copies_its_data():
    a = np.ones(3)
    t = nb.tensor(a)
    assert not np.shares_memory(t.data, a)
    a[0] = 5.0
    assert t.data[0] == 1.0
    u = nb.tensor(t)
    assert not np.shares_memory(u.data, t.data)
    v = nb.tensor(a, dtype=np.float64)  # same dtype: still a copy
    assert not np.shares_memory(v.data, a)


def test_as_tensor_shares_memory_when_it_can():
    a = np.ones(3, dtype=np.float32)
    t = nb.as_tensor(a)
    assert np.shares_memory(t.data, a)
    assert nb.as_tensor(t) is t
    c = nb.as_tensor(a, dtype=nb.float64)
    assert c.dtype == np.float64 and not np.shares_memory(c.data, a)
    assert nb.as_tensor([1.0, 2.0]).dtype == np.float32
    f = nb.from_numpy(a)
    assert np.shares_memory(f.data, a)


@pytest.mark.parametrize("fn, value", [(nb.zeros, 0.0), (nb.ones, 1.0)])
def test_zeros_ones(fn, value):
    for t in (fn(2, 3), fn((2, 3)), fn([2, 3])):
        assert t.shape == (2, 3) and t.dtype == np.float32 and (t.numpy() == value).all()
    assert fn(4, dtype=nb.int64).dtype == np.int64
    assert fn(2, dtype=nb.float64, requires_grad=True).requires_grad
    assert fn(()).shape == ()


def test_empty():
    t = nb.empty(3, 2, dtype=nb.float64)
    assert t.shape == (3, 2) and t.dtype == np.float64
    assert nb.empty(2, requires_grad=True).requires_grad


def test_full():
    t = nb.full((2, 2), 1.5)
    assert t.dtype == np.float32 and (t.numpy() == 1.5).all()
    assert nb.full((2,), 3).dtype == np.int64
    assert nb.full((2,), True).dtype == np.bool_
    assert nb.full(3, 2.0).shape == (3,)
    assert nb.full((2,), 7, dtype=nb.float64).dtype == np.float64
    assert nb.full((2,), 1.0, requires_grad=True).requires_grad


def test_arange():
    assert nb.arange(5).tolist() == [0, 1, 2, 3, 4] and nb.arange(5).dtype == np.int64
    assert nb.arange(2, 8, 2).tolist() == [2, 4, 6]
    t = nb.arange(0.0, 1.0, 0.25)
    assert t.dtype == np.float32 and t.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert nb.arange(0, 1, 0.5).dtype == np.float32
    assert nb.arange(3, dtype=nb.float64).dtype == np.float64
    assert nb.arange(3.0, requires_grad=True).requires_grad


def test_linspace():
    t = nb.linspace(0, 1, 5)
    assert t.dtype == np.float32
    np.testing.assert_allclose(t.numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    assert nb.linspace(-1, 1, 3, dtype=nb.float64).dtype == np.float64


def test_eye():
    np.testing.assert_array_equal(nb.eye(3).numpy(), np.eye(3))
    assert nb.eye(2, 3).shape == (2, 3) and nb.eye(2).dtype == np.float32
    assert nb.eye(2, dtype=nb.int64).dtype == np.int64


def test_rand_randn_ranges_and_dtypes():
    nb.manual_seed(0)
    r = nb.rand(1000)
    assert r.dtype == np.float32 and r.numpy().min() >= 0 and r.numpy().max() < 1
    n = nb.randn(20_000, dtype=nb.float64)
    assert n.dtype == np.float64
    assert abs(n.numpy().mean()) < 0.05 and abs(n.numpy().std() - 1) < 0.05
    assert nb.randn(2, 3, requires_grad=True).requires_grad
    assert nb.rand((2, 3)).shape == (2, 3)


def test_randint():
    nb.manual_seed(0)
    t = nb.randint(3, 7, (1000,))
    assert t.dtype == np.int64 and t.numpy().min() == 3 and t.numpy().max() == 6
    assert nb.randint(5, size=(2, 2)).numpy().max() < 5
    assert nb.randint(5, (2, 2)).shape == (2, 2)  # PyTorch's randint(high, size)
    assert nb.randint(0, 5, (3,), dtype=nb.int32).dtype == np.int32


def test_normal():
    nb.manual_seed(0)
    t = nb.normal(2.0, 0.5, (10_000,))
    assert t.dtype == np.float32
    assert abs(t.numpy().mean() - 2.0) < 0.05 and abs(t.numpy().std() - 0.5) < 0.05
    m = nb.normal(nb.tensor([0.0, 100.0]), 1e-3)
    assert m.shape == (2,) and abs(m.numpy()[1] - 100.0) < 0.1


def test_like_functions_keep_shape_and_dtype():
    base = nb.ones(2, 3, dtype=nb.float64)
    for t in (nb.zeros_like(base), nb.ones_like(base), nb.empty_like(base), nb.full_like(base, 4.0),
              nb.rand_like(base), nb.randn_like(base)):
        assert isinstance(t, Tensor) and t.shape == (2, 3) and t.dtype == np.float64
        assert not t.requires_grad
    assert (nb.zeros_like(base).numpy() == 0).all() and (nb.full_like(base, 4.0).numpy() == 4.0).all()
    assert nb.zeros_like(base, dtype=nb.float32).dtype == np.float32
    assert nb.ones_like(base, requires_grad=True).requires_grad
    ri = nb.randint_like(nb.zeros(4, dtype=nb.int64), 0, 3)
    assert ri.dtype == np.int64 and ri.shape == (4,) and ri.numpy().max() < 3


def test_like_functions_ignore_source_graph():
    x = nb.ones(2, requires_grad=True) * 2.0
    z = nb.zeros_like(x)
    assert not z.requires_grad and z.grad_fn is None


def test_randperm():
    nb.manual_seed(0)
    p = nb.randperm(10)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(10))


def test_requires_grad_on_integer_creation_is_an_error():
    with pytest.raises(RuntimeError, match="floating"):
        nb.zeros(2, dtype=nb.int64, requires_grad=True)
