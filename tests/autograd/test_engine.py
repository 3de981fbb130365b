"""The engine: backward, accumulation, retain_graph, grad modes, higher order, hooks, in-place checks,
deep graphs."""

import numpy as np
import pytest

import nabla as nb
from nabla.autograd import grad


def f64(data, requires_grad=True):
    return nb.tensor(data, dtype=nb.float64, requires_grad=requires_grad)


# ---------------------------------------------------------------------- backward basics
def test_backward_on_scalar():
    x = f64([1.0, 2.0, 3.0])
    y = (x * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])
    assert x.grad.dtype == np.float64 and x.grad.shape == x.shape
    assert not x.grad.requires_grad


def test_backward_non_scalar_with_explicit_gradient():
    x = f64([1.0, 2.0, 3.0])
    y = x * x
    y.backward(nb.tensor([1.0, 0.5, -1.0], dtype=nb.float64))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0, -6.0])


def test_backward_gradient_as_numpy_array():
    x = f64([[1.0, 2.0]])
    (x * 3.0).backward(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(x.grad.numpy(), [[3.0, 6.0]])


def test_backward_non_scalar_without_gradient_is_a_clear_error():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2,\)"):
        (x * 2.0).backward()


def test_backward_gradient_of_wrong_shape_is_an_error():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"\(3,\).*\(2,\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_from_tensor_not_requiring_grad_is_an_error():
    x = f64([1.0, 2.0], requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2.0).sum().backward()
    with nb.no_grad():
        y = (f64([1.0]) * 2.0).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_leaf_and_grad_fn():
    x = f64([1.0])
    y = x * 2.0
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    z = y.detach()
    assert z.is_leaf and not z.requires_grad
    assert np.shares_memory(z.data, y.data)


# ---------------------------------------------------------------------- accumulation
def test_gradient_accumulates_across_uses_of_a_tensor():
    x = f64(3.0)
    y = x * x + x * 2.0 + x  # dy/dx = 2x + 3
    y.backward()
    assert x.grad.item() == pytest.approx(9.0)


def test_diamond_graph_sums_both_paths():
    x = f64(2.0)
    a = x * 3.0
    b = x * x
    (a * b).backward()  # d(3x^3)/dx = 9x^2
    assert x.grad.item() == pytest.approx(36.0)


def test_gradient_accumulates_across_backward_calls():
    x = f64([1.0, 2.0])
    (x * 3.0).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0 + 2.0, 3.0 + 4.0])
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_retain_graph_allows_a_second_backward():
    x = f64([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_second_backward_through_freed_graph_is_a_clear_error():
    x = f64([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_backward_through_partly_freed_graph_is_an_error():
    x = f64([1.0, 2.0])
    h = x * x
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2.0).sum().backward()


def test_backward_inputs_restricts_accumulation():
    a, b = f64([1.0]), f64([2.0])
    (a * b).sum().backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None


def test_integer_and_constant_inputs_get_no_grad():
    x = f64([1.0, 2.0])
    c = f64([5.0, 6.0], requires_grad=False)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 6.0])


def test_broadcast_gradient_is_summed_to_input_shape():
    a = f64(np.ones((2, 3)))
    b = f64(np.ones((3,)))
    s = f64(2.0)
    (a * b * s).sum().backward()
    assert b.grad.shape == (3,) and s.grad.shape == ()
    np.testing.assert_allclose(b.grad.numpy(), [4.0, 4.0, 4.0])
    assert s.grad.item() == 6.0


def test_float32_gradient_keeps_float32():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    (x * nb.tensor([1.0, 2.0], dtype=nb.float64)).sum().backward()
    assert x.grad.dtype == np.float32



def test_leaf_grads_are_distinct_writable_arrays():
    # Add's backward hands the same gradient to both inputs; sum's is a read-only broadcast view;
    # the seed belongs to the caller.  Each .grad must still be its own array (optimizers and
    # clip_grad_norm_ update .grad in place).
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    seed = nb.tensor([1.0, 1.0], dtype=nb.float64)
    (x + y).backward(seed)
    assert not np.shares_memory(x.grad.data, y.grad.data)
    assert not np.shares_memory(x.grad.data, seed.data)
    with nb.no_grad():
        x.grad.mul_(2.0)
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(seed.numpy(), [1.0, 1.0])
    z = f64(np.ones((2, 3)))
    z.sum().backward()
    assert z.grad.data.flags.writeable
    with nb.no_grad():
        z.grad.add_(1.0)
    np.testing.assert_allclose(z.grad.numpy(), np.full((2, 3), 2.0))

# ---------------------------------------------------------------------- grad modes
def test_no_grad_context_records_nothing():
    x = f64([1.0])
    with nb.no_grad():
        y = x * 2.0
        assert not nb.is_grad_enabled()
    assert nb.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None


def test_no_grad_and_enable_grad_nest():
    x = f64([1.0])
    with nb.no_grad():
        with nb.enable_grad():
            y = x * 2.0
            with nb.no_grad():
                z = x * 2.0
            w = x * 2.0
        v = x * 2.0
    assert y.requires_grad and w.requires_grad
    assert not z.requires_grad and not v.requires_grad
    assert nb.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with nb.no_grad():
            raise ValueError("boom")
    assert nb.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    x = f64([1.0])

    @nb.no_grad()
    def off():
        return x * 2.0, nb.is_grad_enabled()

    @nb.enable_grad()
    def on():
        return x * 2.0

    @nb.no_grad()
    def off_calling_on():
        return on(), nb.is_grad_enabled()

    y, mode = off()
    assert not y.requires_grad and mode is False
    (z, mode) = off_calling_on()
    assert z.requires_grad and mode is False
    assert nb.is_grad_enabled()
    assert off.__name__ == "off"  # functools.wraps


def test_no_grad_as_bare_decorator():
    x = f64([1.0])

    @nb.no_grad
    def off():
        return x * 2.0

    assert not off().requires_grad
    assert nb.is_grad_enabled()


def test_set_grad_enabled_function_context_and_decorator():
    x = f64([1.0])
    with nb.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
        with nb.set_grad_enabled(True):
            assert (x * 2.0).requires_grad
        assert not nb.is_grad_enabled()
    assert nb.is_grad_enabled()
    try:
        nb.set_grad_enabled(False)  # as a plain call: stays off
        assert not nb.is_grad_enabled()
        assert not (x * 2.0).requires_grad
    finally:
        nb.set_grad_enabled(True)
    assert nb.is_grad_enabled()

    @nb.set_grad_enabled(False)
    def off():
        return x * 2.0

    assert nb.is_grad_enabled()  # decorating does not change the mode
    assert not off().requires_grad
    assert nb.is_grad_enabled()


def test_backward_works_inside_no_grad_for_a_recorded_graph():
    x = f64([1.0, 2.0])
    y = (x * x).sum()
    with nb.no_grad():
        y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


# ---------------------------------------------------------------------- higher order
def test_third_derivative_of_sin_is_minus_cos():
    xs = np.array([-1.3, 0.0, 0.4, 2.0])
    x = f64(xs)
    (d1,) = grad(nb.sin(x).sum(), x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x, create_graph=True)
    np.testing.assert_allclose(d1.detach().numpy(), np.cos(xs), atol=1e-12)
    np.testing.assert_allclose(d2.detach().numpy(), -np.sin(xs), atol=1e-12)
    np.testing.assert_allclose(d3.detach().numpy(), -np.cos(xs), atol=1e-12)
    assert d3.requires_grad  # still differentiable: a fourth order is possible
    (d4,) = grad(d3.sum(), x)
    np.testing.assert_allclose(d4.numpy(), np.sin(xs), atol=1e-12)


def test_x_cubed_derivatives_to_any_order():
    x = f64(1.5)
    y = x ** 3
    (d1,) = grad(y, x, create_graph=True)
    (d2,) = grad(d1, x, create_graph=True)
    (d3,) = grad(d2, x, create_graph=True)
    assert d1.item() == pytest.approx(3 * 1.5 ** 2)
    assert d2.item() == pytest.approx(6 * 1.5)
    assert d3.item() == pytest.approx(6.0)
    # the fourth derivative is identically zero: either a zero or "not connected"
    (d4,) = grad(d3, x, allow_unused=True) if d3.requires_grad else (None,)
    assert d4 is None or d4.item() == 0.0


def test_backward_create_graph_makes_grad_differentiable():
    x = f64(1.5)
    (x ** 3).backward(create_graph=True)
    g = x.grad
    assert g.requires_grad and g.item() == pytest.approx(6.75)
    x.grad = None
    g.backward()
    assert x.grad.item() == pytest.approx(9.0)


def test_without_create_graph_gradients_are_constants():
    x = f64(1.5)
    (d1,) = grad(x ** 3, x)
    assert not d1.requires_grad and d1.grad_fn is None


# ---------------------------------------------------------------------- hooks, retain_grad
def test_hook_on_leaf_modifies_grad_and_can_be_removed():
    x = f64([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: (seen.append(g.numpy().copy()), g * 10.0)[1])
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    assert len(seen) == 1


def test_hook_returning_none_observes_only():
    x = f64([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g) and None)
    (x * 2.0).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_hook_on_non_leaf_changes_what_flows_upstream():
    x = f64([1.0, 2.0])
    h = x * 3.0
    h.register_hook(lambda g: g * 2.0)
    (h * h).sum().backward()  # d/dh = 2h, doubled, times 3
    np.testing.assert_allclose(x.grad.numpy(), 2 * 2 * 3.0 * np.array([3.0, 6.0]))
    assert h.grad is None  # non-leaves keep no grad unless asked


def test_register_hook_on_tensor_not_requiring_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        f64([1.0], requires_grad=False).register_hook(lambda g: g)


def test_retain_grad_on_non_leaf():
    x = f64([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6.0, 12.0])
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 36.0])


# ---------------------------------------------------------------------- in-place and versions
def test_saved_tensor_modified_with_mul_inplace_is_caught():
    x = f64([1.0, 2.0])
    h = x * 2.0
    y = (h * h).sum()  # Mul saves h
    with nb.no_grad():
        h.mul_(2)
    assert h._version == 1
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*Mul.*version 1.*version 0"):
        y.backward()


def test_saved_tensor_modified_with_setitem_is_caught():
    x = f64([1.0, 2.0])
    h = x * 2.0
    y = (h * h).sum()
    with nb.no_grad():
        h[0] = 1.0
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_saved_leaf_modified_in_place_is_caught():
    w = f64([1.0, 2.0])
    x = f64([3.0, 4.0])
    y = (w * x).sum()
    with nb.no_grad():
        x.add_(1.0)
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()


def test_saved_output_modified_in_place_is_caught():
    x = f64([1.0, 2.0])
    e = f64([2.0, 3.0])
    y = x ** e  # Pow with a tensor exponent saves its output
    z = (y + 1.0).sum()  # Add saves nothing: only Pow's saved output is at stake
    with nb.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="Pow.*modified in place"):
        z.backward()


def test_inplace_on_leaf_requiring_grad_under_grad_mode_raises():
    x = f64([1.0, 2.0])
    for op in (lambda: x.mul_(2), lambda: x.add_(1.0), lambda: x.zero_(), lambda: x.__setitem__(0, 5.0)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*no_grad"):
            op()
    with nb.no_grad():
        x.mul_(2)  # allowed: this is how optimizers update parameters
    np.testing.assert_allclose(x.detach().numpy(), [2.0, 4.0])
    assert x._version == 1


def test_inplace_on_graph_tensor_under_grad_mode_raises():
    h = f64([1.0, 2.0]) * 2.0
    with pytest.raises(RuntimeError, match="in-place.*Mul"):
        h.mul_(2)


def test_augmented_assignment_on_graph_tensor_rebinds_out_of_place():
    x = f64([1.0, 2.0])
    h = x * 3.0
    before = h
    saved = h.data.copy()
    h += 1.0
    assert h is not before
    np.testing.assert_array_equal(before.data, saved)  # untouched
    h *= x  # h = (3x + 1) * x
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * np.array([1.0, 2.0]) + 1)


def test_augmented_assignment_without_graph_is_in_place():
    x = f64([1.0, 2.0], requires_grad=False)
    before = x
    x += 1.0
    assert x is before and x._version == 1
    np.testing.assert_allclose(x.numpy(), [2.0, 3.0])


# ---------------------------------------------------------------------- deep graphs
def test_chain_of_100k_ops_no_recursion_limit():
    n = 100_000
    x = f64(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.backward()  # no timing assertion here: machines are noisy (benchmarks/ measures speed)
    assert x.grad.item() == pytest.approx(1.0001 ** n, rel=1e-9)


def test_chain_of_100k_additions():
    x = f64(0.5)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0
    assert y.item() == pytest.approx(100_000.5)


def test_deep_graph_is_freed_without_recursion_error():
    import gc
    x = f64(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    del y  # freeing a 100k-deep chain must not overflow the C stack
    gc.collect()


def test_wide_graph_many_uses():
    x = f64(np.arange(4.0))
    total = x * 0.0
    for k in range(200):
        total = total + x * float(k)
    total.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, sum(range(200)), dtype=float))



def test_grad_mode_is_per_thread():
    """no_grad in one thread leaves another recording (and a new thread starts with recording on)."""
    import threading
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    seen = {}

    def worker():
        seen["enabled"] = nb.is_grad_enabled()
        seen["requires_grad"] = (x * 2).requires_grad
        with nb.no_grad():
            seen["inner"] = (x * 2).requires_grad

    with nb.no_grad():
        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert not (x * 2).requires_grad
    assert seen == {"enabled": True, "requires_grad": True, "inner": False}
    assert nb.is_grad_enabled() and (x * 2).requires_grad
