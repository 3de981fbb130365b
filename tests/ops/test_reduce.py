"""gradcheck / gradgradcheck of every reduction sample, plus errors and special cases."""
import numpy as np
import pytest

import nabla as nb
from nabla.ops.reduce import norm

from .db_reduce import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


def _x(*shape, seed=0, grad=True):
    return nb.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=grad)


@pytest.mark.parametrize("name,call", [
    ("sum", lambda x: nb.sum(x, 2)), ("mean", lambda x: x.mean(-3)), ("prod", lambda x: nb.prod(x, 5)),
    ("amax", lambda x: nb.amax(x, (0, 2))), ("amin", lambda x: x.amin(-4)), ("max", lambda x: nb.max(x, 2)),
    ("min", lambda x: x.min(-3)), ("argmax", lambda x: nb.argmax(x, 2)), ("argmin", lambda x: x.argmin(7)),
    ("var", lambda x: nb.var(x, 3)), ("std", lambda x: x.std(dim=(0, 9))), ("logsumexp", lambda x: nb.logsumexp(x, 2)),
    ("norm", lambda x: norm(x, dim=2)), ("cumsum", lambda x: nb.cumsum(x, 2)), ("all", lambda x: x.all(2)),
])
def test_bad_dim_names_op(name, call):
    with pytest.raises(IndexError, match=rf"^{name}: dim .* out of range .* 2 dimensions"):
        call(_x(3, 4))


@pytest.mark.parametrize("call", [lambda x: nb.sum(x, 1.0), lambda x: nb.mean(x, "0"), lambda x: nb.max(x, (0, 1)),
                                  lambda x: nb.cumsum(x, None), lambda x: nb.amax(x, [0, True])])
def test_bad_dim_type(call):
    with pytest.raises(TypeError, match=r"(sum|mean|max|cumsum|amax).*dim"):
        call(_x(3, 4))


def test_repeated_dim():
    with pytest.raises(ValueError, match="sum: dim .* names an axis twice"):
        nb.sum(_x(3, 4), (0, -2))


def test_cumsum_needs_dim():
    with pytest.raises(TypeError):
        nb.cumsum(_x(3))


def test_sum_empty_tuple_sums_everything():
    x = _x(2, 3)
    assert nb.sum(x, ()).shape == ()
    np.testing.assert_allclose(x.sum(dim=()).item(), x.data.sum())
    np.testing.assert_allclose(nb.mean(x, []).item(), x.data.mean())


def test_int_sum_gives_int64_and_mean_of_int_raises():
    x = nb.tensor(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert nb.sum(x).dtype == np.int64 and nb.sum(x).item() == 15
    assert x.sum(0).dtype == np.int64 and nb.prod(x + 1).dtype == np.int64
    assert nb.sum(nb.tensor([True, True, False])).item() == 2
    assert nb.cumsum(x, 1).dtype == np.int64
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype.*int32"):
        nb.mean(x)
    assert nb.mean(x, dtype=nb.float64).item() == 2.5


def test_sum_dtype_casts_first():
    x = nb.Tensor(np.ones(3, np.float32), requires_grad=True)
    y = nb.sum(x, dtype=nb.float64)
    assert y.dtype == np.float64
    y.backward()
    assert x.grad.dtype == np.float32


def test_var_correction():
    x = _x(4, 5)
    np.testing.assert_allclose(nb.var(x, 1, correction=0).data, np.var(x.data, axis=1))
    np.testing.assert_allclose(nb.var(x, 1).data, np.var(x.data, axis=1, ddof=1))
    np.testing.assert_allclose(x.var(unbiased=False).data, np.var(x.data))
    np.testing.assert_allclose(nb.var(x, False).data, np.var(x.data))
    np.testing.assert_allclose(nb.std(x, 0, correction=2).data, np.std(x.data, axis=0, ddof=2))
    with pytest.raises(ValueError, match="var"):
        nb.var(x, unbiased=True, correction=0)
    with pytest.raises(RuntimeError, match="var.*int64"):
        nb.var(nb.tensor([1, 2, 3]))


def test_var_too_few_elements_is_nan():
    assert np.isnan(nb.var(nb.tensor([1.0])).item())


def test_std_gradient_zero_for_constant_input():
    x = nb.zeros(3, requires_grad=True)
    nb.std(x).backward()
    np.testing.assert_array_equal(x.grad.data, 0)


def test_max_with_dim_returns_values_and_indices():
    x = _x(3, 4)
    r = nb.max(x, 1)
    values, indices = r
    assert r.values is values and r.indices is indices
    np.testing.assert_array_equal(indices.data, np.argmax(x.data, 1))
    np.testing.assert_array_equal(values.data, np.max(x.data, 1))
    assert indices.dtype == np.int64 and not indices.requires_grad
    v, i = x.min(0, keepdim=True)
    assert v.shape == (1, 4) and i.shape == (1, 4)
    values.sum().backward()
    expected = np.zeros((3, 4))
    expected[np.arange(3), np.argmax(x.data, 1)] = 1
    np.testing.assert_array_equal(x.grad.data, expected)


def test_max_of_0d_with_dim():
    v, i = nb.max(nb.tensor(3.0), 0)
    assert v.item() == 3.0 and i.item() == 0 and i.shape == ()


def test_max_binary_is_maximum():
    a, b = _x(3), _x(3, seed=1)
    np.testing.assert_array_equal(a.max(b).data, np.maximum(a.data, b.data))
    np.testing.assert_array_equal(nb.min(a, other=b).data, np.minimum(a.data, b.data))


def test_ties_split_evenly():
    x = nb.tensor([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]], requires_grad=True)
    nb.amax(x, 1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [[0, 0.5, 0.5], [0, 0, 0]])


def test_empty_reductions():
    e = nb.zeros(0, 3)
    assert nb.sum(e).item() == 0 and nb.prod(e).item() == 1
    assert np.isnan(nb.mean(e).item())
    assert nb.amax(e, 1).shape == (0,)
    with pytest.raises(RuntimeError, match="max"):
        nb.max(e)
    with pytest.raises(IndexError, match="amax"):
        nb.amax(e, 0)
    with pytest.raises(IndexError, match="max"):
        nb.max(e, 0)
    assert nb.logsumexp(e, 0).data.tolist() == [-np.inf] * 3


def test_logsumexp_stable():
    x = nb.tensor([[1e4, 1e4 - 1.0], [-1e4, -1e4]], dtype=nb.float32, requires_grad=True)
    y = nb.logsumexp(x, 1)
    np.testing.assert_allclose(y.data, [1e4 + np.log1p(np.exp(-1.0)), -1e4 + np.log(2)], rtol=1e-6)
    y.sum().backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data.sum(1), [1, 1], rtol=1e-6)
    assert nb.logsumexp(nb.tensor([-np.inf, -np.inf]), 0).item() == -np.inf
    assert nb.logsumexp(nb.tensor([0, 0]), 0).dtype == nb.get_default_dtype()


def test_norm_gradient_at_zero_is_zero():
    for p in (2, "fro", 1, 3, 1.5, float("inf")):
        x = nb.zeros(2, 3, requires_grad=True)
        norm(x, p).backward()
        np.testing.assert_array_equal(x.grad.data, 0)


def test_nabla_norm_is_the_reduction():
    # a submodule of nabla.ops named `norm` would rebind nabla.ops.norm (and so nabla.norm) to the module;
    # batch/layer norm live in ops/normalization.py for that reason.
    assert callable(nb.norm) and nb.norm is norm


def test_norm_rejects():
    with pytest.raises(ValueError, match="norm.*nuc"):
        norm(_x(3, 3), "nuc")
    with pytest.raises(RuntimeError, match="norm.*int64"):
        norm(nb.tensor([1, 2]))


def test_prod_zero_gradient_second_order():
    # d2/dx2 of prod(x) with x = (0, a, b): the Hessian entries are the products of the other two
    x = nb.tensor([0.0, 2.0, 3.0], dtype=nb.float64, requires_grad=True)
    (g,) = nb.autograd.grad(nb.prod(x), x, create_graph=True)
    np.testing.assert_allclose(g.data, [6, 0, 0])
    u = nb.tensor([1.0, 1.0, 1.0], dtype=nb.float64)
    (h,) = nb.autograd.grad(g, x, grad_outputs=u)
    np.testing.assert_allclose(h.data, [5, 3, 2])


def test_cumsum_backward_is_reversed_cumsum():
    x = _x(2, 4)
    g = nb.Tensor(np.random.default_rng(3).standard_normal((2, 4)))
    nb.cumsum(x, 1).backward(g)
    np.testing.assert_allclose(x.grad.data, np.flip(np.cumsum(np.flip(g.data, 1), 1), 1))


def test_argmax():
    x = _x(3, 4, grad=False)
    assert nb.argmax(x).item() == np.argmax(x.data)
    assert nb.argmax(x, keepdim=True).shape == (1, 1)
    np.testing.assert_array_equal(x.argmin(1, keepdim=True).data, np.argmin(x.data, 1)[:, None])
    assert not nb.argmax(_x(3)).requires_grad


def test_sum_double_backward():
    x = _x(3, 4)
    (g,) = nb.autograd.grad((x * x).sum(1).sum(), x, create_graph=True)
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.ones((3, 4)))


def test_all_any_count_nonzero():
    x = nb.tensor([[1, 0], [2, 3]])
    assert x.all(1).tolist() == [False, True] and nb.any(x).item() and nb.count_nonzero(x).item() == 3
