"""Broadcasting and its undo: the engine's contract, so they live with it.

Every binary op broadcasts its operands (NumPy's rule); the gradient that flows back then has the
broadcast shape, and the engine sums it back to each input's shape, in one place, with ``sum_to``.
``sum_to`` and ``broadcast_to`` are each other's adjoints, so both Functions are here (the ops package
re-exports them as ``nabla.sum_to`` / ``nabla.broadcast_to``), together with ``as_tensor``, the one
conversion of an op's operand (a Python number, an array) into a Tensor.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from .function import Function
from .tensor import Tensor


def as_tensor(x, like: Tensor | None = None) -> Tensor:
    """A Tensor for ``x``.  Python numbers take ``like``'s dtype when it can hold them (NumPy's weak
    scalars: float32 tensor * 2.0 stays float32), else the default float dtype or int64."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._make(x, None)
    if isinstance(x, numbers.Number) and not isinstance(x, np.generic):
        if like is not None:
            kind = like.data.dtype.kind
            if isinstance(x, bool) or (isinstance(x, numbers.Integral) and kind in "iuf") or (kind == "f" and isinstance(x, numbers.Real)):
                return Tensor._make(np.asarray(x, dtype=like.data.dtype), None)
        if isinstance(x, bool):
            return Tensor._make(np.asarray(x), None)
        if isinstance(x, numbers.Integral):
            return Tensor._make(np.asarray(x, dtype=np.int64), None)
        return Tensor._make(np.asarray(x, dtype=backend.get_default_dtype()), None)
    return Tensor(x)


def _sum_to_axes(shape, target):
    """The axes to sum so that an array of ``shape`` becomes ``target`` (the inverse of broadcasting)."""
    lead = len(shape) - len(target)
    if lead < 0:
        raise ValueError(f"cannot sum shape {shape} to the longer shape {target}")
    axes = list(range(lead))
    for i, (s, t) in enumerate(zip(shape[lead:], target)):
        if t == 1 and s != 1:
            axes.append(lead + i)
        elif s != t:
            raise ValueError(f"cannot sum shape {shape} to shape {target}")
    return tuple(axes)


def sum_to_array(a: np.ndarray, shape) -> np.ndarray:
    """Sum an array down to ``shape`` (the inverse of broadcasting)."""
    axes = _sum_to_axes(a.shape, shape)
    if any(a.shape[ax] != 1 for ax in axes):
        a = a.sum(axis=axes)
    return a.reshape(shape)


class SumTo(Function):
    """y = sum of x over the axes broadcasting added;  dx = broadcast_to(g, x.shape)"""
    save_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        return sum_to_array(x, self.shape)

    def backward(self, g):
        return broadcast_to(g, self.in_shape)


class BroadcastTo(Function):
    """y = x repeated along new or size-1 axes;  dx = sum_to(g, x.shape)"""
    save_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return np.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {self.shape}") from None

    def backward(self, g):
        return sum_to(g, self.in_shape)


def sum_to(x, shape):
    """Sum ``x`` down to ``shape`` (the gradient of broadcasting)."""
    shape = tuple(shape)
    if x.shape == shape:
        return x
    return SumTo.apply(x, shape=shape)


def broadcast_to(x, shape):
    x = as_tensor(x)
    shape = tuple(x.shape[i - (len(shape) - x.ndim)] if s == -1 else s for i, s in enumerate(shape))
    if x.shape == shape:
        return x
    return BroadcastTo.apply(x, shape=shape)
