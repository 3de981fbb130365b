"""gradcheck and gradgradcheck for every entry of tests/ops/db_activation.py, and hand-written cases."""
from .db_activation import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


# ---------------------------------------------------------------------- hand-written cases
import warnings

import numpy as np
import pytest

import nabla as nb


def _quiet():
    """Turn every warning, and NumPy overflow / invalid / divide-by-zero, into an error."""
    class _Ctx:
        def __enter__(self):
            self.w = warnings.catch_warnings()
            self.w.__enter__()
            warnings.simplefilter("error")
            self.e = np.errstate(over="raise", invalid="raise", divide="raise")
            self.e.__enter__()

        def __exit__(self, *exc):
            self.e.__exit__(*exc)
            self.w.__exit__(*exc)
    return _Ctx()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_of_huge_values_is_finite_and_exact(dtype):
    x = nb.tensor(np.array([1e4, -1e4, 0.0], dtype), requires_grad=True)
    with _quiet():
        y = nb.softmax(x, 0)
        ly = nb.log_softmax(x, 0)
        (gx,) = nb.autograd.grad(y, [x], grad_outputs=nb.tensor(np.array([1.0, 2.0, 3.0], dtype)))
        (glx,) = nb.autograd.grad(ly, [x], grad_outputs=nb.tensor(np.array([1.0, 2.0, 3.0], dtype)))
    np.testing.assert_array_equal(y.data, [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(ly.data, [0.0, -2e4, -1e4])
    assert y.dtype == dtype and ly.dtype == dtype
    # softmax: y (g - <g, y>) = 0 everywhere;  log_softmax: g - e^y sum(g) = [1 - 6, 2, 3]
    np.testing.assert_array_equal(gx.data, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(glx.data, [-5.0, 2.0, 3.0])


def test_softmax_large_rows_match_closed_form():
    x = nb.tensor(np.array([[1e4, 1e4 - 1.0], [-1e4, -1e4 - 2.0]]), dtype=nb.float64)
    with _quiet():
        y = nb.softmax(x, dim=1).data
        ly = nb.log_softmax(x, dim=-1).data
    s1, s2 = 1 / (1 + np.exp(-1.0)), 1 / (1 + np.exp(-2.0))
    np.testing.assert_allclose(y, [[s1, 1 - s1], [s2, 1 - s2]], rtol=1e-14)
    np.testing.assert_allclose(ly, np.log([[s1, 1 - s1], [s2, 1 - s2]]), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_saturating_activations_at_huge_inputs_are_finite_without_warnings(dtype):
    x = nb.tensor(np.array([1e4, -1e4, 0.0], dtype), requires_grad=True)
    fns = {"sigmoid": nb.sigmoid, "tanh": nb.tanh, "logsigmoid": nb.logsigmoid, "softplus": nb.softplus,
           "silu": nb.silu, "gelu": nb.gelu, "gelu_tanh": lambda t: nb.gelu(t, approximate="tanh"),
           "elu": nb.elu, "leaky_relu": nb.leaky_relu, "relu": nb.relu}
    for name, fn in fns.items():
        with _quiet():
            y = fn(x)
            (g,) = nb.autograd.grad(y, [x], grad_outputs=nb.ones(3, dtype=dtype))
        assert np.isfinite(y.data).all() and np.isfinite(g.data).all(), name
    with _quiet():
        s = nb.sigmoid(x)
    np.testing.assert_array_equal(s.data, [1.0, 0.0, 0.5])
    np.testing.assert_array_equal(nb.logsigmoid(x).data, [0.0, -1e4, -np.log(2.0).astype(dtype)])


def test_relu_gradient_at_zero_is_zero():
    x = nb.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    nb.relu(x).backward(nb.ones(3))
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_relu_keeps_dtype_and_integers():
    assert nb.relu(nb.tensor([1.0, -2.0])).dtype == np.float32
    y = nb.relu(nb.tensor([3, -2]))
    assert y.dtype == np.int64 and y.tolist() == [3, 0]


def test_relu_inplace_writes_into_a_tensor_without_graph():
    x = nb.tensor([-1.0, 2.0])
    assert nb.relu(x, inplace=True) is x
    assert x.tolist() == [0.0, 2.0]
    w = nb.tensor([-1.0, 2.0], requires_grad=True)
    y = nb.relu(w, inplace=True)  # recorded: out of place, same values and gradient
    assert y is not w and y.tolist() == [0.0, 2.0]


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_bad_dim_names_the_op(op):
    x = nb.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match=op):
        getattr(nb, op)(x, dim=2)
    with pytest.raises(IndexError, match=op):
        getattr(x, op)(-3)
    with pytest.raises(TypeError, match=op):
        getattr(nb, op)(x, dim=1.5)


def test_softmax_without_dim_warns_and_uses_pytorch_choice():
    x = nb.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.warns(UserWarning, match="implicit dimension"):
        y = nb.softmax(x)
    np.testing.assert_allclose(y.data, nb.softmax(x, 1).data)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="gelu"):
        nb.gelu(nb.tensor([1.0]), approximate="fast")


def test_softplus_rejects_zero_beta():
    with pytest.raises(ValueError, match="softplus"):
        nb.softplus(nb.tensor([1.0]), beta=0)


def test_integer_inputs_promote_to_default_float():
    x = nb.tensor([0, 1, 2])
    for fn in (nb.sigmoid, nb.tanh, nb.gelu, nb.silu, nb.softplus, lambda t: nb.softmax(t, 0)):
        assert fn(x).dtype == np.float32


def test_gelu_matches_closed_form_in_float64():
    from math import erfc, sqrt
    xs = np.linspace(-12, 12, 241)
    y = nb.gelu(nb.tensor(xs, dtype=nb.float64)).data
    # Phi(x) = erfc(-x / sqrt 2) / 2 keeps its relative accuracy for negative x, where 1 + erf cancels
    ref = np.array([v * 0.5 * erfc(-v / sqrt(2)) for v in xs])
    np.testing.assert_allclose(y, ref, rtol=1e-13, atol=1e-300)


def test_double_backward_of_softmax_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a, u, v = rng.standard_normal((3, 2, 4))
    x = nb.tensor(a, requires_grad=True)
    (g,) = nb.autograd.grad(nb.softmax(x, 1), [x], grad_outputs=nb.tensor(u), create_graph=True)
    (h,) = nb.autograd.grad(g, [x], grad_outputs=nb.tensor(v))
    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(torch.softmax(xt, 1), xt, torch.tensor(u), create_graph=True)
    (ht,) = torch.autograd.grad(gt, xt, torch.tensor(v))
    np.testing.assert_allclose(h.data, ht.numpy(), rtol=1e-10, atol=1e-12)
