"""Finite differences and gradcheck: the second way to a gradient, and the check of the third."""
import numpy as np
import pytest

import nabla as nb
from nabla.autograd import Function, GradcheckError, grad, gradcheck, gradgradcheck, numerical_grad

RNG = np.random.default_rng(0)


def f64(data, requires_grad=True):
    return nb.tensor(data, dtype=nb.float64, requires_grad=requires_grad)


def cubic(x):
    return (x * x * x).sum()


def test_central_difference_matches_autodiff():
    xs = RNG.standard_normal((2, 3))
    x = f64(xs)
    num = numerical_grad(cubic, x, method="central", eps=1e-5)
    (ad,) = grad(cubic(x), x)
    assert isinstance(num, np.ndarray) and num.shape == (2, 3)
    np.testing.assert_allclose(num, ad.numpy(), rtol=1e-7, atol=1e-8)


def test_forward_difference_matches_autodiff_to_first_order():
    xs = RNG.standard_normal(5)
    x = f64(xs)
    (ad,) = grad(cubic(x), x)
    num = numerical_grad(cubic, x, method="forward", eps=1e-6)
    np.testing.assert_allclose(num, ad.numpy(), atol=1e-4)
    # error O(h) for forward, O(h^2) for central: central is much closer at the same h
    h = 1e-3
    err_fwd = np.abs(numerical_grad(cubic, x, method="forward", eps=h) - ad.numpy()).max()
    err_cen = np.abs(numerical_grad(cubic, x, method="central", eps=h) - ad.numpy()).max()
    assert err_cen < err_fwd / 10


def test_numerical_grad_several_inputs_and_grad_outputs():
    a, b = f64(RNG.standard_normal(3)), f64(RNG.standard_normal(3))
    u = RNG.standard_normal(3)
    ga, gb = numerical_grad(lambda p, q: p * q, (a, b), grad_outputs=u)
    np.testing.assert_allclose(ga, u * b.data, atol=1e-8)
    np.testing.assert_allclose(gb, u * a.data, atol=1e-8)


def test_numerical_grad_restores_inputs_and_records_nothing():
    xs = RNG.standard_normal(4)
    x = f64(xs)
    numerical_grad(cubic, x)
    np.testing.assert_array_equal(x.data, xs)
    assert x.grad is None


def test_numerical_grad_errors():
    x = f64([1.0, 2.0])
    with pytest.raises(ValueError, match="method"):
        numerical_grad(cubic, x, method="backward")
    with pytest.raises(ValueError, match="grad_outputs"):
        numerical_grad(lambda t: t * 2.0, x)


# ---------------------------------------------------------------------- gradcheck
class BadSquare(Function):
    """y = x^2 with a wrong backward for one element: dx = 2 x g, but element 2 gets 3 x g."""

    def forward(self, x):
        return x * x

    def backward(self, g):
        (x,) = self.inputs
        w = np.full(x.shape, 2.0)
        w.flat[2] = 3.0
        return g * x * nb.tensor(w, dtype=x.dtype)


class GoodSquare(Function):
    def forward(self, x):
        return x * x

    def backward(self, g):
        (x,) = self.inputs
        return g * x * 2.0


class FlatBackwardSquare(Function):
    """Right first derivative, but written on raw arrays: not differentiable a second time
    (the gradient is a constant to the graph, so its derivative comes out as 0 instead of 2 g)."""

    def forward(self, x):
        return x * x

    def backward(self, g):
        (x,) = self.inputs
        return nb.tensor(g.data * x.data * 2.0, dtype=x.dtype)


def test_gradcheck_passes_for_correct_function():
    assert gradcheck(GoodSquare.apply, f64(RNG.standard_normal((2, 3))))
    assert gradcheck(lambda a, b: a @ b, (f64(RNG.standard_normal((2, 3))), f64(RNG.standard_normal((3, 2)))))


def test_gradcheck_catches_wrong_backward_and_names_worst_element():
    x = f64(RNG.standard_normal((2, 3)) + 3.0)  # away from 0, so the bad element stands out
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 3\)\) at element \(0, 2\)"):
        gradcheck(BadSquare.apply, x)
    assert gradcheck(BadSquare.apply, x, raise_exception=False) is False


def test_gradcheck_directional_check_catches_large_inputs():
    # too big for the element-by-element check: the random directions still catch the error
    x = f64(RNG.standard_normal(50) + 3.0)
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(BadSquare.apply, x, max_elementwise=10)


def test_gradcheck_requires_float64_and_a_grad_input():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(GoodSquare.apply, nb.tensor([1.0, 2.0], requires_grad=True))
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(GoodSquare.apply, f64([1.0], requires_grad=False))


def test_gradgradcheck_passes_for_correct_op():
    x = f64(RNG.standard_normal((2, 3)))
    assert gradgradcheck(GoodSquare.apply, x)
    assert gradgradcheck(lambda t: t * t * t, x)
    assert gradgradcheck(lambda a, b: (a @ b) * (a @ b),
                         (f64(RNG.standard_normal((2, 3))), f64(RNG.standard_normal((3, 2)))))


def test_gradgradcheck_catches_non_differentiable_backward():
    x = f64(RNG.standard_normal(4) + 2.0)
    assert gradcheck(FlatBackwardSquare.apply, x)  # first order is right
    with pytest.raises(GradcheckError):
        gradgradcheck(FlatBackwardSquare.apply, x)


def test_gradcheck_leaves_inputs_and_grads_untouched():
    xs = RNG.standard_normal(3)
    x = f64(xs)
    gradcheck(GoodSquare.apply, x)
    np.testing.assert_array_equal(x.data, xs)
    assert x.grad is None
