"""Function: one differentiable operation, its forward on arrays and its backward as a VJP.

A subclass writes
    forward(self, *arrays) -> array          plain array code, may stash what backward needs on self
    backward(self, grad) -> grad or tuple    the vector-Jacobian product, written with nabla ops on
                                             Tensors, so that under ``create_graph`` the backward pass
                                             is itself recorded and gradients of gradients work.
and, where speed calls for it, also
    backward_arrays(self, grad) -> array or tuple of arrays (None for an input without a gradient)
                                             the same product as plain array code, on grad's array.

Two backwards, one contract: the engine picks, in one place.  A backward that no one will
differentiate (``create_graph=False``, every training step) runs ``backward_arrays`` where the class
defines it; ``backward`` runs when the backward pass is itself recorded.  Both compute the same
numbers (tests/autograd/test_fast_backward.py checks every class that defines both).  A class that
defines only ``backward_arrays`` is differentiable once (PyTorch's ``once_differentiable``): the
engine refuses to record its backward instead of each op asking whether a graph is being built.
Class flags:
    save_inputs  backward reads the inputs, so modifying one in place before backward is an error
    save_output  backward reads the output (``self.output``), same check for the output

Gradients for inputs that were broadcast are summed back to the input's shape by the engine, in
one place, so an op's backward may return the broadcast shape.
"""
from __future__ import annotations

import itertools
import weakref

import numpy as np

from .grad_mode import _GradState
from . import tensor as _tensor_mod

# Every recorded node gets the next number: an op's inputs always exist before it runs, so
# visiting nodes by decreasing number is a topological order (the engine relies on this).
_sequence = itertools.count()


class Function:
    save_inputs = True
    save_output = False

    inputs: tuple = ()
    needs_input_grad: tuple = ()

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays; record this node if any input needs a gradient."""
        fn = cls(**params) if params else cls()
        n = len(inputs)
        if n == 1:
            out = fn.forward(inputs[0].data)
        elif n == 2:
            out = fn.forward(inputs[0].data, inputs[1].data)
        else:
            out = fn.forward(*[t.data for t in inputs])
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if _GradState.enabled:
            for t in inputs:
                if t.requires_grad:
                    break
            else:
                return _tensor_mod.Tensor._make(out, None)
            fn.inputs = inputs
            fn.seq = next(_sequence)
            fn.needs_input_grad = tuple([t.requires_grad for t in inputs])
            if cls.save_inputs:
                fn.input_versions = tuple([t._version for t in inputs])
            result = _tensor_mod.Tensor._make(out, fn)
            if cls.save_output:
                fn._output = weakref.ref(result)
                fn.output_version = 0
            return result
        return _tensor_mod.Tensor._make(out, None)

    # set per class: True where the class (or a base below Function) defines the optional backward_arrays
    has_backward_arrays = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.has_backward_arrays = callable(getattr(cls, "backward_arrays", None))

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is abstract")

    def backward(self, grad):
        if self.has_backward_arrays:
            raise RuntimeError(f"{self.name}: its backward is array code only (backward_arrays), so it cannot "
                               "be recorded for a higher derivative (create_graph=True)")
        raise NotImplementedError(f"{type(self).__name__}.backward is abstract")  # pragma: no cover

    @property
    def output(self):
        """The output Tensor (for backward formulas written in terms of it, e.g. exp, sigmoid)."""
        out = self._output()
        if out is None:
            raise RuntimeError(f"{type(self).__name__}: its output was freed before backward")
        return out

    @property
    def name(self) -> str:
        return type(self).__name__

    def release(self) -> None:
        """Free what forward saved (arrays, inputs): the graph through this node is gone."""
        self.__dict__.clear()
        self.freed = True

    freed = False
    seq = -1
    # True while backward runs for the last time (no retain_graph): backward may then reuse the arrays
    # forward saved as its own outputs (they are freed right after anyway)
    last_backward = False

    def __repr__(self):
        return f"<{type(self).__name__} backward>"
