"""Function: one differentiable operation, its forward on arrays and its backward as a VJP.

A subclass writes
    forward(self, *arrays) -> array          plain array code, may stash what backward needs on self
    backward(self, grad) -> grad or tuple    the vector-Jacobian product, written with nabla ops on
                                             Tensors, so that under ``create_graph`` the backward pass
                                             is itself recorded and gradients of gradients work.
Class flags:
    save_inputs  backward reads the inputs, so modifying one in place before backward is an error
    save_output  backward reads the output (``self.output``), same check for the output

Gradients for inputs that were broadcast are summed back to the input's shape by the engine, in
one place, so an op's backward may return the broadcast shape.
"""
from __future__ import annotations

import weakref

import numpy as np

from .grad_mode import _GradState
from . import tensor as _tensor_mod


class Function:
    save_inputs = True
    save_output = False

    inputs: tuple = ()
    needs_input_grad: tuple = ()

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays; record this node if any input needs a gradient."""
        fn = cls(**params) if params else cls()
        out = fn.forward(*[t.data for t in inputs])
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        Tensor = _tensor_mod.Tensor
        if _GradState.enabled:
            needs = tuple([t.requires_grad for t in inputs])
            if True in needs:
                fn.inputs = inputs
                fn.needs_input_grad = needs
                if cls.save_inputs:
                    fn.input_versions = tuple([t._version for t in inputs])
                result = Tensor._make(out, fn)
                if cls.save_output:
                    fn._output = weakref.ref(result)
                    fn.output_version = 0
                return result
        return Tensor._make(out, None)

    def forward(self, *arrays):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.forward is abstract")

    def backward(self, grad):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.backward is abstract")

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

    def __repr__(self):
        return f"<{type(self).__name__} backward>"
