"""The functional API: grad, vjp, jvp, jacobian, hessian, hvp against closed forms."""
import numpy as np
import pytest

import nabla as nb
from nabla.autograd import grad, hessian, hvp, jacobian, jvp, vjp

RNG = np.random.default_rng(0)
A_NP = RNG.standard_normal((4, 4))
B_NP = RNG.standard_normal((3, 4))
X_NP = RNG.standard_normal(4)
V_NP = RNG.standard_normal(4)


def f64(data, requires_grad=False):
    return nb.tensor(data, dtype=nb.float64, requires_grad=requires_grad)


def quadratic(x):
    """x^T A x, whose Hessian is A + A^T."""
    return x @ (f64(A_NP) @ x)


def nonlinear(x):
    """R^4 -> R^3: B x^3 (elementwise cube), whose Jacobian B diag(3 x^2) depends on x."""
    return f64(B_NP) @ (x * x * x)


def nonlinear_jacobian(x):
    return B_NP * (3 * x ** 2)[None, :]


def test_hessian_of_quadratic_form_is_a_plus_a_transpose():
    H = hessian(quadratic, f64(X_NP))
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H.numpy(), A_NP + A_NP.T, atol=1e-12)


def test_hessian_of_cubic_depends_on_x():
    # f = sum x^3 / 3 * w -> H = diag(2 x w)
    w = RNG.standard_normal(4)
    H = hessian(lambda x: (x * x * x * f64(w / 3.0)).sum(), f64(X_NP))
    np.testing.assert_allclose(H.numpy(), np.diag(2 * X_NP * w), atol=1e-12)


def test_hessian_of_non_scalar_is_an_error():
    with pytest.raises(RuntimeError, match="scalar"):
        hessian(lambda x: x * 2.0, f64(X_NP))


def test_jacobian_of_linear_map_is_the_matrix():
    J = jacobian(lambda x: f64(B_NP) @ x, f64(X_NP))
    np.testing.assert_allclose(J.numpy(), B_NP, atol=1e-12)


def test_jacobian_shape_out_by_in():
    J = jacobian(lambda x: x * 2.0, f64(np.ones((2, 3))))
    assert J.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(J.numpy().reshape(6, 6), 2 * np.eye(6))


def test_jvp_equals_jacobian_times_v():
    x, v = f64(X_NP), f64(V_NP)
    out, jv = jvp(nonlinear, x, v)
    np.testing.assert_allclose(out.numpy(), B_NP @ X_NP ** 3, atol=1e-12)
    np.testing.assert_allclose(jv.numpy(), nonlinear_jacobian(X_NP) @ V_NP, atol=1e-12)
    J = jacobian(nonlinear, x)
    np.testing.assert_allclose(jv.numpy(), J.numpy() @ V_NP, atol=1e-12)


def test_vjp_equals_v_times_jacobian():
    u = RNG.standard_normal(3)
    out, uj = vjp(nonlinear, f64(X_NP), f64(u))
    np.testing.assert_allclose(out.numpy(), B_NP @ X_NP ** 3, atol=1e-12)
    np.testing.assert_allclose(uj.numpy(), u @ nonlinear_jacobian(X_NP), atol=1e-12)


def test_vjp_of_scalar_function_needs_no_v():
    _, g = vjp(quadratic, f64(X_NP))
    np.testing.assert_allclose(g.numpy(), (A_NP + A_NP.T) @ X_NP, atol=1e-12)


def test_hvp_equals_hessian_times_v():
    x, v = f64(X_NP), f64(V_NP)
    f = lambda t: (t * t * t).sum() + quadratic(t)  # noqa: E731
    y, hv = hvp(f, x, v)
    H = np.diag(6 * X_NP) + A_NP + A_NP.T
    np.testing.assert_allclose(hv.numpy(), H @ V_NP, atol=1e-12)
    np.testing.assert_allclose(hessian(f, x).numpy() @ V_NP, hv.numpy(), atol=1e-12)
    assert y.item() == pytest.approx(np.sum(X_NP ** 3) + X_NP @ A_NP @ X_NP)


def test_functional_api_leaves_inputs_untouched():
    x = f64(X_NP, requires_grad=True)
    hessian(quadratic, x)
    jvp(nonlinear, x, f64(V_NP))
    vjp(quadratic, x)
    hvp(quadratic, x, f64(V_NP))
    assert x.grad is None


def test_functional_results_are_detached_by_default():
    x = f64(X_NP, requires_grad=True)
    out, g = vjp(quadratic, x)
    assert not g.requires_grad and not out.requires_grad
    _, jv = jvp(nonlinear, x, f64(V_NP))
    assert not jv.requires_grad
    assert not hessian(quadratic, x).requires_grad


def test_several_inputs():
    a, b = f64([1.0, 2.0]), f64([3.0, -1.0])
    _, (ga, gb) = vjp(lambda p, q: (p * q).sum(), (a, b))
    np.testing.assert_allclose(ga.numpy(), [3.0, -1.0])
    np.testing.assert_allclose(gb.numpy(), [1.0, 2.0])
    Ja, Jb = jacobian(lambda p, q: p * q, (a, b))
    np.testing.assert_allclose(Ja.numpy(), np.diag([3.0, -1.0]))
    np.testing.assert_allclose(Jb.numpy(), np.diag([1.0, 2.0]))


# ---------------------------------------------------------------------- grad()
def test_grad_returns_tuple_and_does_not_touch_dot_grad():
    x = f64([1.0, 2.0], requires_grad=True)
    x.grad = f64([100.0, 100.0])
    (g,) = grad((x * x).sum(), x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [100.0, 100.0])


def test_grad_does_not_set_grad_on_leaves_or_retained_non_leaves():
    x = f64([1.0, 2.0], requires_grad=True)
    w = f64([3.0, 4.0], requires_grad=True)
    h = x * w
    h.retain_grad()
    (gx,) = grad(h.sum(), x)
    np.testing.assert_allclose(gx.numpy(), [3.0, 4.0])
    assert x.grad is None and w.grad is None and h.grad is None


def test_grad_unused_input_is_an_error_unless_allowed():
    x = f64([1.0, 2.0], requires_grad=True)
    unused = f64([5.0], requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="input 1.*not used.*allow_unused"):
        grad(y, (x, unused), retain_graph=True)
    gx, gu = grad(y, (x, unused), allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), [2.0, 4.0])


def test_grad_with_grad_outputs():
    x = f64([1.0, 2.0], requires_grad=True)
    (g,) = grad(x * x, x, grad_outputs=f64([1.0, -1.0]))
    np.testing.assert_allclose(g.numpy(), [2.0, -4.0])


def test_grad_of_non_leaf_input():
    x = f64([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    (gh,) = grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.numpy(), [6.0, 12.0])


def test_grad_input_not_requiring_grad_is_an_error():
    x = f64([1.0, 2.0], requires_grad=True)
    c = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * c).sum(), c)


def test_grad_frees_graph_unless_retained():
    x = f64([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="retain_graph"):
        grad(y, x)
    y = (x * x).sum()
    grad(y, x, retain_graph=True)
    (g,) = grad(y, x)
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_grad_mismatched_grad_outputs_is_an_error():
    x = f64([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="1 outputs but 2 grad_outputs"):
        grad(x * 2.0, x, grad_outputs=[f64([1.0]), f64([1.0])])
