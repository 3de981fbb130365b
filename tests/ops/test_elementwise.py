"""gradcheck and gradgradcheck for every entry of tests/ops/db_elementwise.py, and hand-written cases."""
from .db_elementwise import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


# ---------------------------------------------------------------------- hand-written cases
import math

import numpy as np
import pytest

import nabla as nb


def _grad(y, x, seed=None):
    (g,) = nb.autograd.grad(y, [x], grad_outputs=nb.ones(y.shape, dtype=y.dtype) if seed is None else seed)
    return g.data


def test_clamp_gradient_passes_at_the_bounds_like_pytorch():
    vals = [-1.0, -0.5, 0.0, 0.5, 1.0]
    x = nb.tensor(vals, requires_grad=True)
    np.testing.assert_array_equal(_grad(nb.clamp(x, -0.5, 0.5), x), [0, 1, 1, 1, 0])
    np.testing.assert_array_equal(_grad(nb.clamp(x, min=-0.5), x), [0, 1, 1, 1, 1])
    np.testing.assert_array_equal(_grad(nb.clamp(x, max=0.5), x), [1, 1, 1, 1, 0])
    torch = pytest.importorskip("torch")
    for kw in ({"min": -0.5, "max": 0.5}, {"min": -0.5}, {"max": 0.5}, {"min": 0.5, "max": -0.5}):
        xt = torch.tensor(vals, requires_grad=True)
        torch.clamp(xt, **kw).sum().backward()
        np.testing.assert_array_equal(_grad(nb.clamp(x, **kw), x), xt.grad.numpy(), err_msg=str(kw))
        np.testing.assert_array_equal(nb.clamp(x, **kw).data, torch.clamp(xt, **kw).detach().numpy())


def test_clamp_needs_a_bound():
    with pytest.raises(ValueError, match="clamp"):
        nb.clamp(nb.tensor([1.0]))
    with pytest.raises(TypeError, match="clamp"):
        nb.clamp(nb.tensor([1.0]), min="0")


def test_clamp_keeps_dtype():
    assert nb.clamp(nb.tensor([1.5, -3.0]), -1.0, 1.0).dtype == np.float32
    assert nb.tensor([1.5, -3.0]).clip(0.0).tolist() == [1.5, 0.0]


def test_abs_gradient_at_zero_is_zero():
    x = nb.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    np.testing.assert_array_equal(_grad(abs(x), x), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("name", ["sign", "floor", "ceil", "round", "trunc"])
def test_rounding_ops_are_cut_from_the_graph(name):
    x = nb.tensor([-1.5, 0.4, 2.5], requires_grad=True)
    y = getattr(nb, name)(x)
    assert not y.requires_grad and y.grad_fn is None
    assert getattr(x, name)().tolist() == y.tolist()


def test_round_halves_to_even():
    assert nb.round(nb.tensor([0.5, 1.5, 2.5, -0.5])).tolist() == [0.0, 2.0, 2.0, -0.0]


def test_clone_copies_memory_and_passes_gradient():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = nb.clone(x)
    assert y.data is not x.data and not np.shares_memory(y.data, x.data)
    np.testing.assert_array_equal(_grad(y * 3.0, x), [3.0, 3.0])


def test_integer_inputs_promote_to_default_float_like_pytorch():
    x = nb.tensor([1, 4])
    for fn in (nb.exp, nb.log, nb.sqrt, nb.rsqrt, nb.sin, nb.erf, nb.reciprocal):
        assert fn(x).dtype == np.float32, fn.__name__
    assert nb.square(x).dtype == np.int64 and nb.abs(nb.tensor([-3])).tolist() == [3]


def test_float32_stays_float32():
    x = nb.tensor([0.5, 2.0])
    for fn in (nb.exp, nb.log, nb.log1p, nb.expm1, nb.sqrt, nb.rsqrt, nb.square, nb.erf, nb.erfc, nb.clone):
        assert fn(x).dtype == np.float32, fn.__name__


def test_erf_and_erfc_accuracy_float64():
    xs = np.concatenate([np.linspace(-7, 7, 1401), np.geomspace(1e-10, 30, 200), [0.0]])
    ref = np.array([math.erf(v) for v in xs])
    refc = np.array([math.erfc(v) for v in xs])
    got = nb.erf(nb.tensor(xs, dtype=nb.float64)).data
    gotc = nb.erfc(nb.tensor(xs, dtype=nb.float64)).data
    np.testing.assert_allclose(got, ref, rtol=1e-15, atol=0)
    np.testing.assert_allclose(gotc, refc, rtol=1e-13, atol=1e-16)
    tail = xs > 2
    np.testing.assert_allclose(gotc[tail], refc[tail], rtol=1e-15, atol=0)  # relative accuracy in the tail


def test_erf_special_values_without_warnings():
    x = np.array([np.inf, -np.inf, 1e300, -1e300, 0.0, -0.0, np.nan])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        e = nb.erf(nb.tensor(x)).data
        ec = nb.erfc(nb.tensor(x)).data
    np.testing.assert_array_equal(e[:6], [1, -1, 1, -1, 0, 0])
    np.testing.assert_array_equal(ec[:6], [0, 2, 0, 2, 1, 1])
    assert np.isnan(e[6]) and np.isnan(ec[6])


def test_exp_backward_uses_output_and_detects_inplace_change():
    x = nb.tensor([0.0, 1.0], requires_grad=True)
    y = nb.exp(x)
    with nb.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="Exp"):
        y.backward(nb.ones(2))


def test_erf_and_erfc_accuracy_float32():
    xs = np.linspace(-9, 9, 3601).astype(np.float32)
    ref = np.array([math.erf(float(v)) for v in xs])
    refc = np.array([math.erfc(float(v)) for v in xs])
    got = nb.erf(nb.tensor(xs)).data
    gotc = nb.erfc(nb.tensor(xs)).data
    assert got.dtype == np.float32 and gotc.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=3e-7, atol=1e-30)
    np.testing.assert_allclose(gotc, refc, rtol=1e-6, atol=3e-7)
    tail = (xs > 2) & (refc > 1e-37)
    np.testing.assert_allclose(gotc[tail], refc[tail], rtol=1e-6, atol=0)
