"""The graph holds arrays only as long as it must: backward without retain_graph frees them."""
import gc
import weakref

import numpy as np

import nabla as nb
from nabla.autograd import Function, grad


def f64(data, requires_grad=True):
    return nb.tensor(data, dtype=nb.float64, requires_grad=requires_grad)


class SavesArray(Function):
    """y = 2 x, stashing a big array on self during forward (as ops stash masks, indices...)."""

    def forward(self, x):
        self.scratch = np.ones(x.shape)
        return x * 2.0

    def backward(self, g):
        return g * 2.0


def _graph(n=1000):
    x = f64(np.ones(n))
    h = x * 2.0                 # an intermediate tensor, saved by the next Mul
    s = SavesArray.apply(h)
    y = (s * h).sum()
    return x, h, s, y


def test_intermediates_released_after_backward():
    x, h, s, y = _graph()
    fn = s.grad_fn
    refs = [weakref.ref(h), weakref.ref(h.data), weakref.ref(fn.scratch), weakref.ref(s)]
    del h, s
    gc.collect()
    assert all(r() is not None for r in refs)  # the graph keeps them alive until backward
    y.backward()
    del fn
    gc.collect()
    assert [r() is None for r in refs] == [True] * len(refs)
    np.testing.assert_allclose(x.grad.numpy(), np.full(1000, 16.0))


def test_released_without_gc_by_reference_counting():
    # No cycles between tensors and Functions: plain reference counting frees the graph.
    x, h, s, y = _graph()
    refs = [weakref.ref(h.data), weakref.ref(s.grad_fn.scratch)]
    del h, s
    gc.disable()
    try:
        y.backward()
        assert all(r() is None for r in refs)
    finally:
        gc.enable()


def test_retain_graph_keeps_saved_arrays_until_the_last_backward():
    x, h, s, y = _graph()
    ref = weakref.ref(h.data)
    del h, s
    y.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None
    y.backward()
    gc.collect()
    assert ref() is None


def test_function_saved_state_is_cleared():
    x, h, s, y = _graph()
    fn = s.grad_fn
    y.backward()
    assert fn.freed
    assert not hasattr(fn, "scratch") and fn.inputs == ()


def test_grad_without_retain_graph_frees_too():
    x, h, s, y = _graph()
    ref = weakref.ref(h.data)
    del h, s
    grad(y, x)
    gc.collect()
    assert ref() is None


def test_dropping_the_output_frees_the_graph_without_backward():
    x, h, s, y = _graph()
    ref = weakref.ref(h.data)
    del h, s, y
    gc.collect()
    assert ref() is None


def test_no_grad_keeps_no_graph():
    x = f64(np.ones(10))
    with nb.no_grad():
        h = x * 2.0
        y = h * h
    ref = weakref.ref(h.data)
    assert y.grad_fn is None
    del h
    gc.collect()
    assert ref() is None


def test_repeated_training_steps_do_not_grow_memory():
    x = f64(np.ones(100))
    gc.collect()
    before = len(gc.get_objects())
    for _ in range(50):
        x.grad = None
        ((x * 2.0) * (x + 1.0)).sum().backward()
    gc.collect()
    after = len(gc.get_objects())
    assert after - before < 50, f"{after - before} objects survived 50 steps"
