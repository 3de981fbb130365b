"""PyTorch comparison of the reductions: every OpInfo sample, plus ties, zeros and dim edge cases."""
import numpy as np
import pytest

import nabla as nb
from tests.ops.db_reduce import OPS
from tests.ops.opinfo import conformance_test

test_matches_torch = conformance_test(OPS)

torch = pytest.importorskip("torch")


def _pair(a, grad=True):
    a = np.asarray(a, dtype=np.float64)
    return nb.Tensor(a.copy(), requires_grad=grad), torch.tensor(a.copy(), requires_grad=grad)


@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, True), (-1, False)])
@pytest.mark.parametrize("op", ["max", "min"])
def test_max_dim_values_indices_match_torch(op, dim, keepdim):
    x, tx = _pair(np.random.default_rng(0).standard_normal((4, 5)))
    r, tr = getattr(nb, op)(x, dim, keepdim), getattr(torch, op)(tx, dim, keepdim)
    np.testing.assert_array_equal(r.values.data, tr.values.detach().numpy())
    np.testing.assert_array_equal(r.indices.data, tr.indices.numpy())
    assert r.indices.dtype == np.int64
    r.values.sum().backward()
    tr.values.sum().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())


@pytest.mark.parametrize("data,dim", [
    ([[2.0, 0, 3], [0, 0, 1], [1, 2, 3]], 1), ([[2.0, 0, 3], [0, 0, 1]], 0), ([[2.0, 0, 3], [4, 5, 1]], None),
    ([[2.0, 0, 3], [0, 5, 1]], None), ([0.0, 0.0], None)])
def test_prod_with_zeros_gradients_match_torch(data, dim):
    x, tx = _pair(data)
    y = nb.prod(x) if dim is None else nb.prod(x, dim)
    ty = torch.prod(tx) if dim is None else torch.prod(tx, dim)
    u = np.random.default_rng(1).standard_normal(ty.shape)
    (g,) = nb.autograd.grad(y, x, grad_outputs=nb.Tensor(u), create_graph=True)
    (tg,) = torch.autograd.grad(ty, tx, grad_outputs=torch.tensor(u), create_graph=True)
    np.testing.assert_allclose(g.data, tg.detach().numpy())
    v = np.random.default_rng(2).standard_normal(tx.shape)
    (h,) = nb.autograd.grad(g, x, grad_outputs=nb.Tensor(v))
    (th,) = torch.autograd.grad(tg, tx, grad_outputs=torch.tensor(v))
    np.testing.assert_allclose(h.data, th.numpy(), atol=1e-12)


@pytest.mark.parametrize("dim", [None, 0, 1, (0, 1)])
def test_amax_amin_ties_match_torch(dim):
    data = [[1.0, 3.0, 3.0], [3.0, 2.0, 2.0]]
    for op in ("amax", "amin"):
        x, tx = _pair(data)
        kw = {} if dim is None else {"dim": dim}
        getattr(nb, op)(x, **kw).sum().backward()
        getattr(torch, op)(tx, **kw).sum().backward()
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy())
    for op in ("max", "min"):
        x, tx = _pair(data)
        getattr(nb, op)(x).backward()
        getattr(torch, op)(tx).backward()
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


def test_sum_over_empty_tuple_matches_torch():
    a = np.random.default_rng(0).standard_normal((2, 3))
    x, tx = _pair(a)
    for dim in ((), []):
        np.testing.assert_allclose(nb.sum(x, dim).data, torch.sum(tx, dim).detach().numpy())
        assert nb.sum(x, dim, keepdim=True).shape == tuple(torch.sum(tx, dim, keepdim=True).shape)
    np.testing.assert_allclose(nb.mean(x, ()).data, torch.mean(tx, ()).detach().numpy())


@pytest.mark.parametrize("kw", [{"correction": 0}, {"dim": 1, "correction": 0}, {"dim": 0, "unbiased": False},
                                {"dim": 1, "correction": 0, "keepdim": True}])
def test_var_std_correction0_match_torch(kw):
    a = np.random.default_rng(0).standard_normal((3, 4))
    for op in ("var", "std"):
        x, tx = _pair(a)
        getattr(nb, op)(x, **kw).sum().backward()
        ty = getattr(torch, op)(tx, **kw)
        ty.sum().backward()
        np.testing.assert_allclose(getattr(nb, op)(x, **kw).data, ty.detach().numpy())
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy())


def test_std_of_constant_gradient_matches_torch():
    x, tx = _pair(np.ones((2, 3)))
    nb.std(x, 1).sum().backward()
    torch.std(tx, 1).sum().backward()
    np.testing.assert_array_equal(x.grad.data, tx.grad.numpy())


def test_int_dtypes_match_torch():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    for name in ("sum", "prod"):
        assert getattr(nb, name)(nb.tensor(a)).dtype == np.dtype(str(getattr(torch, name)(torch.tensor(a)).dtype)[6:])
    assert nb.cumsum(nb.tensor(a), 0).dtype == np.int64 and torch.cumsum(torch.tensor(a), 0).dtype == torch.int64
    with pytest.raises(RuntimeError):
        torch.mean(torch.tensor(a))
    with pytest.raises(RuntimeError, match="mean"):
        nb.mean(nb.tensor(a))
