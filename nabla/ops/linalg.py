"""Linear algebra: matrix products (batched and broadcast like NumPy), dot, outer, einsum."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import as_tensor, install
from .shape import reshape


class MatMul(Function):
    """Z = X @ Y;  dX = G @ Y^T,  dY = X^T @ G  (1-d operands are promoted as NumPy does, then the
    gradient is squeezed back; batch axes that broadcast are summed by the engine)."""

    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {x.shape} and {y.shape}")
        try:
            return np.matmul(x, y)
        except ValueError:
            raise ValueError(f"matmul: shapes {x.shape} and {y.shape} do not match (inner dimensions "
                             f"{x.shape[-1]} and {y.shape[-2] if y.ndim > 1 else y.shape[0]}; dtypes {x.dtype}, {y.dtype})") from None

    def backward(self, g):
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        if x.ndim == 1 and y.ndim == 1:  # inner product: g is 0-d
            return (g * y if nx else None), (g * x if ny else None)
        x2 = reshape(x, (1, x.shape[0])) if x.ndim == 1 else x
        y2 = reshape(y, (y.shape[0], 1)) if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:])
        if y.ndim == 1:
            g2 = reshape(g2, g2.shape + (1,))
        gx = matmul(g2, y2.mT) if nx else None
        gy = matmul(x2.mT, g2) if ny else None
        if nx and x.ndim == 1:
            gx = gx.reshape(gx.shape[:-2] + gx.shape[-1:])
        if ny and y.ndim == 1:
            gy = gy.reshape(gy.shape[:-1])
        return gx, gy


def matmul(x, y):
    x = as_tensor(x)
    return MatMul.apply(x, as_tensor(y, x))


def dot(x, y):
    """Inner product of two 1-d tensors."""
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"dot: expected two 1-d tensors, got shapes {x.shape} and {y.shape}")
    return matmul(x, y)


def outer(x, y):
    """x[:, None] * y[None, :] for 1-d x, y."""
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"outer: expected two 1-d tensors, got shapes {x.shape} and {y.shape}")
    return reshape(x, (-1, 1)) * reshape(y, (1, -1))


install(matmul=matmul, dot=dot, outer=outer, __matmul__=matmul,
        __rmatmul__=lambda self, other: matmul(as_tensor(other, self), self))

__all__ = ['matmul', 'dot', 'outer']
