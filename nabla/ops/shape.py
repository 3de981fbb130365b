"""Shape ops: views and rearrangements of the same elements.  Each one's gradient is the inverse
rearrangement of the incoming gradient (reshape back, transpose back, sum over broadcast axes...)."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import as_tensor, install, normalize_dim


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


class SumTo(Function):
    """y = sum of x over the axes broadcasting added;  dx = broadcast_to(g, x.shape)"""
    save_inputs = False

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        axes = _sum_to_axes(x.shape, self.shape)
        return np.sum(x, axis=axes).reshape(self.shape) if axes else x.reshape(self.shape)

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


class Reshape(Function):
    """y = x with a new shape (same elements, row-major order);  dx = reshape(g, x.shape)"""
    save_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: shape {tuple(self.shape)} is invalid for a tensor of shape {x.shape} "
                             f"({x.size} elements)") from None

    def backward(self, g):
        return reshape(g, self.in_shape)


class Permute(Function):
    """y = x with its axes reordered by ``dims``;  dx = g permuted by the inverse order"""
    save_inputs = False

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return np.transpose(x, self.dims)

    def backward(self, g):
        return permute(g, tuple(np.argsort(self.dims)))


# ---------------------------------------------------------------------- functions
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


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x, *shape):
    shape = _shape_args(shape)
    if x.shape == shape:
        return x
    return Reshape.apply(x, shape=shape)


def permute(x, *dims):
    dims = _shape_args(dims)
    if len(dims) != x.ndim:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor of {x.ndim} dimensions (shape {x.shape})")
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of 0..{x.ndim - 1}")
    if dims == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, dims=dims)


def transpose(x, dim0=-2, dim1=-1):
    """Swap two axes (``x.transpose(0, 1)``)."""
    if x.ndim < 2 and dim0 in (-2, -1) and dim1 in (-2, -1):
        return x
    d0, d1 = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    if d0 == d1:
        return x
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(x, dims=tuple(dims))


def _T(self):
    """All axes reversed (a matrix's transpose)."""
    return self if self.ndim < 2 else Permute.apply(self, dims=tuple(range(self.ndim - 1, -1, -1)))


def _mT(self):
    return transpose(self, -2, -1)


def expand(x, *sizes):
    """Broadcast to ``sizes``; -1 keeps a dimension (PyTorch's expand)."""
    return broadcast_to(x, _shape_args(sizes))


install(reshape=reshape, view=reshape, permute=permute, transpose=transpose, expand=expand,
        broadcast_to=broadcast_to, sum_to=sum_to, T=property(_T), mT=property(_mT),
        expand_as=lambda self, other: expand(self, other.shape),
        reshape_as=lambda self, other: reshape(self, other.shape),
        view_as=lambda self, other: reshape(self, other.shape))

__all__ = ['sum_to', 'broadcast_to', 'reshape', 'permute', 'transpose', 'expand']
