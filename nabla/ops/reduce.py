"""Reductions: sum, mean, prod, max/min, amax/amin, var/std, logsumexp, norm, cumsum, argmax/argmin.

``dim`` is None (every axis), an int, or a tuple of ints; ``keepdim`` keeps reduced axes as size 1
(PyTorch's semantics; ``dim=()`` reduces every axis, as ``torch.sum(x, dim=())`` does).
The gradient of a reduction spreads ``g`` back over the reduced axes: reshape ``g`` to the
keepdim shape, broadcast it to the input's shape (nabla ops, so double backward works), and weight it
(1 for sum, 1/n for mean, prod of the others for prod, the selected positions for max/min...).
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, install, normalize_dim, normalize_dims
from .arithmetic import maximum, minimum, where
from .elementwise import exp
from .shape import broadcast_to, permute, reshape

# torch.return_types.max / min: a (values, indices) tuple with named fields.
return_types = type("return_types", (), {
    name: namedtuple(name, ["values", "indices"]) for name in ("max", "min")})


# ---------------------------------------------------------------------- helpers
def _axes(x: Tensor, dim, op: str) -> tuple:
    """The reduced axes, sorted, non-negative; None and () mean every axis.  A 0-d tensor accepts
    dim 0 / -1 (as PyTorch) and reduces nothing."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return tuple(range(x.ndim))
    if isinstance(dim, (bool, np.bool_)) or not (
            isinstance(dim, (int, np.integer)) or (isinstance(dim, (tuple, list)) and builtins.all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) for d in dim))):
        raise TypeError(f"{op}: dim must be None, an int or a tuple of ints, got {dim!r} "
                        f"(input shape {x.shape})")
    axes = normalize_dims(dim, x.ndim, op)
    return () if x.ndim == 0 else axes


def _one_axis(x: Tensor, dim, op: str) -> int | None:
    """A single dim as an axis (None for a 0-d tensor, which has nothing to reduce)."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} (input shape {x.shape})")
    axis = normalize_dim(int(dim), x.ndim, op)
    return None if x.ndim == 0 else axis


def _keep_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _expand(g: Tensor, in_shape: tuple, axes: tuple, keepdim: bool) -> Tensor:
    """The gradient of a reduction of ``in_shape`` over ``axes``: ``g`` spread back over those axes."""
    if not keepdim and axes:
        g = reshape(g, _keep_shape(in_shape, axes))
    return broadcast_to(g, in_shape)


def _require_float(x: Tensor, op: str) -> None:
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"{op}(): expected a floating point input, got dtype {x.dtype} (shape {x.shape}); "
                           f"cast it first, e.g. x.float(), or pass dtype=")


def _nonempty(x: np.ndarray, axes: tuple, op: str) -> None:
    if builtins.any(x.shape[a] == 0 for a in axes):
        raise IndexError(f"{op}(): cannot reduce over a dimension of size 0 (input shape {x.shape}, dims {axes}); "
                         "the result has no identity")


class _SafeSqrt(Function):
    """y = sqrt(x);  dx = g / (2 y), taken as 0 where y == 0 (std's gradient at zero spread, as PyTorch)."""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g):
        y = self.output
        zero = y.data == 0
        return where(zero, 0.0, g / (where(zero, 1.0, y) * 2.0))


# ---------------------------------------------------------------------- Functions
class Sum(Function):
    """y = sum_{axes} x  (times ``scale``: 1/n gives the mean);  dx = broadcast(g) * scale"""
    save_inputs = False

    def __init__(self, axes, keepdim, scale=None):
        self.axes, self.keepdim, self.scale = axes, keepdim, scale

    def forward(self, x):
        self.in_shape = x.shape
        if self.scale is not None:  # the mean: sum * (1/n) (nan for n = 0, without NumPy's warning)
            return np.sum(x, axis=self.axes, keepdims=self.keepdim) * self.scale
        dtype = np.int64 if x.dtype.kind in "biu" else None
        return np.sum(x, axis=self.axes, keepdims=self.keepdim, dtype=dtype)

    def backward(self, g):
        g = _expand(g, self.in_shape, self.axes, self.keepdim)
        return g if self.scale is None else g * self.scale


class Prod(Function):
    """y = prod_{axes} x;  dx_i = g * prod_{j != i} x_j  (= g * y / x_i when x has no zeros;
    with zeros, the product of the others from exclusive cumulative products, as PyTorch)."""
    save_output = True

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        dtype = np.int64 if x.dtype.kind in "biu" else None
        return np.prod(x, axis=self.axes, keepdims=self.keepdim, dtype=dtype)

    def backward(self, g):
        (x,) = self.inputs
        axes = self.axes
        g = _expand(g, x.shape, axes, self.keepdim)
        if not (x.data == 0).any():
            y = _expand(self.output, x.shape, axes, self.keepdim)
            return g * y / x
        # Move the reduced axes last and flatten them: others[..., i] = prod_{j != i} x[..., j].
        rest = tuple(a for a in range(x.ndim) if a not in axes)
        order = rest + axes
        xt = permute(x, order) if order != tuple(range(x.ndim)) else x
        n = math.prod(x.shape[a] for a in axes)
        others = _prod_others(reshape(xt, tuple(x.shape[a] for a in rest) + (n,)))
        others = reshape(others, xt.shape)
        if order != tuple(range(x.ndim)):
            others = permute(others, tuple(np.argsort(order)))
        return g * others


class ProdOthers(Function):
    """y_i = prod_{j != i} x_j along the last axis (exact with zeros: exclusive cumulative products
    from both ends);  dx_k = sum_{i != k} g_i prod_{j != i,k} x_j  (the same op on an (n, n) matrix
    whose row i has x_i set to 1, so every order of derivative works)."""

    def forward(self, x):
        ones = np.ones(x.shape[:-1] + (1,), x.dtype)
        left = np.cumprod(np.concatenate([ones, x[..., :-1]], axis=-1), axis=-1)
        right = np.cumprod(np.concatenate([ones, x[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
        return left * right

    def backward(self, g):
        (x,) = self.inputs
        n = x.shape[-1]
        eye = np.eye(n, dtype=bool)
        rows = where(eye, 1.0, reshape(x, x.shape[:-1] + (1, n)))   # row i: x with x_i := 1
        m = where(eye, 0.0, _prod_others(rows))                     # m[i, k] = prod_{j != i,k} x_j
        return sum(reshape(g, g.shape + (1,)) * m, dim=-2)


def _prod_others(x):
    return ProdOthers.apply(x)


class Amax(Function):
    """y = max_{axes} x (``mode='min'``: min);  dx = g * [x == y] / #ties  (ties split evenly, as PyTorch)."""

    def __init__(self, axes, keepdim, mode):
        self.axes, self.keepdim, self.mode = axes, keepdim, mode

    def forward(self, x):
        red = np.amax if self.mode == "max" else np.amin
        self.y = red(x, axis=self.axes, keepdims=True)  # the tie mask is built in backward, only if needed
        return self.y if self.keepdim else np.squeeze(self.y, axis=self.axes)

    def backward(self, g):
        (x,) = self.inputs
        mask = x.data == self.y
        count = np.sum(mask, axis=self.axes, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):  # count is 0 only where y is NaN
            weights = (mask / count).astype(x.dtype)
        return _expand(g, x.shape, self.axes, self.keepdim) * _const(weights)


class SelectAlong(Function):
    """values = x at ``indices`` along ``axis`` (max/min with dim);  dx = g at those positions, 0 elsewhere."""
    save_inputs = False

    def __init__(self, axis, indices, keepdim):
        self.axis, self.indices, self.keepdim = axis, indices, keepdim

    def forward(self, x):
        self.in_shape, self.in_dtype = x.shape, x.dtype
        y = np.take_along_axis(x, self.indices, axis=self.axis)
        return y if self.keepdim else np.squeeze(y, axis=self.axis)

    def backward(self, g):
        mask = np.zeros(self.in_shape, dtype=g.dtype)
        np.put_along_axis(mask, self.indices, 1, axis=self.axis)
        return _expand(g, self.in_shape, (self.axis,), self.keepdim) * _const(mask)


class LogSumExp(Function):
    """y = log sum_{axes} exp(x), computed as m + log sum exp(x - m) with m = max x (stable for large |x|);
    dx = g * softmax(x) = g * exp(x - m) / sum exp(x - m)  (rather than exp(x - y): y rounded to float32
    at |x| ~ 1e4 loses ~1e-3, and the softmax would no longer sum to 1)."""

    def __init__(self, axes, keepdim):
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x):
        m = np.amax(x, axis=self.axes, keepdims=True, initial=-np.inf)
        m = np.where(np.isfinite(m), m, 0)  # all -inf (or +inf) rows: keep exp finite and exact
        self.shift = m.astype(x.dtype, copy=False)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            y = np.log(np.sum(np.exp(x - m), axis=self.axes, keepdims=True)) + m
        return (y if self.keepdim else np.squeeze(y, axis=self.axes)).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.inputs
        e = exp(x - _const(self.shift))  # a constant shift: softmax does not depend on it
        return _expand(g, x.shape, self.axes, self.keepdim) * (e / sum(e, self.axes, keepdim=True))


class Norm(Function):
    """y = (sum_{axes} |x|^p)^(1/p)  (p = inf: max |x|, -inf: min |x|, 0: count of nonzeros);
    dx = g * sign(x) |x|^(p-1) / y^(p-1)  (p = 2: g x / y), taken as 0 where y == 0 (PyTorch's
    subgradient); p = +-inf: g * sign(x) on the extreme entries, ties split evenly."""
    save_output = True

    def __init__(self, p, axes, keepdim):
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def forward(self, x):
        p, axes, kd = self.p, self.axes, self.keepdim
        if p == 2:
            return np.sqrt(np.sum(x * x, axis=axes, keepdims=kd))
        ax = np.abs(x)
        if p == 1:
            return np.sum(ax, axis=axes, keepdims=kd)
        if p == np.inf:
            return np.amax(ax, axis=axes, keepdims=kd, initial=0)
        if p == -np.inf:
            return np.amin(ax, axis=axes, keepdims=kd)
        if p == 0:
            return np.sum(x != 0, axis=axes, keepdims=kd).astype(x.dtype)
        with np.errstate(divide="ignore"):  # 0 ** negative p is inf, as PyTorch
            return np.power(np.sum(ax ** p, axis=axes, keepdims=kd), 1.0 / p).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.inputs
        p, axes, kd = self.p, self.axes, self.keepdim
        g = _expand(g, x.shape, axes, kd)
        if p == 0:
            return g * 0.0
        sign = _const(np.sign(x.data))
        if p == 1:
            return g * sign
        y = _expand(self.output, x.shape, axes, kd)
        if p in (np.inf, -np.inf):
            mask = np.abs(x.data) == y.data
            count = np.sum(mask, axis=axes, keepdims=True)
            with np.errstate(divide="ignore", invalid="ignore"):  # count is 0 only where y is NaN
                return g * _const((sign.data * mask / count).astype(x.dtype))
        y_zero = y.data == 0
        y_safe = where(y_zero, 1.0, y)  # the double-where keeps 0/0 out of both passes
        if p == 2:
            return where(y_zero, 0.0, g * x / y_safe)
        x_zero = x.data == 0
        ax_safe = where(x_zero, 1.0, x * sign)
        scaled = where(x_zero, 0.0, sign * ax_safe ** (p - 1))
        return where(y_zero, 0.0, g * scaled * y_safe ** (1 - p))


class CumSum(Function):
    """y_i = sum_{j <= i} x_j along ``axis``;  dx_i = sum_{j >= i} g_j (a reversed cumsum)."""
    save_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        dtype = np.int64 if x.dtype.kind in "biu" else None
        return np.cumsum(x, axis=self.axis, dtype=dtype)

    def backward(self, g):
        return RevCumSum.apply(g, axis=self.axis)


class RevCumSum(Function):
    """y_i = sum_{j >= i} x_j along ``axis``;  dx_i = sum_{j <= i} g_j (a cumsum)."""
    save_inputs = False

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        return np.flip(np.cumsum(np.flip(x, self.axis), axis=self.axis), self.axis)

    def backward(self, g):
        return CumSum.apply(g, axis=self.axis)


# ---------------------------------------------------------------------- functions
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001 (PyTorch's name)
    """Sum over ``dim``.  Integer and bool inputs give int64 (as PyTorch); ``dtype`` casts first."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    return Sum.apply(x, axes=_axes(x, dim, "sum"), keepdim=bool(keepdim))


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over ``dim``;  dx = broadcast(g) / n.  Integer inputs need ``dtype=`` (as PyTorch)."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                           f"or complex dtype. Got: {x.dtype} (shape {x.shape}); pass dtype= or cast with x.float()")
    axes = _axes(x, dim, "mean")
    n = math.prod(x.shape[a] for a in axes)
    return Sum.apply(x, axes=axes, keepdim=bool(keepdim), scale=(1.0 / n if n else float("nan")))


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over ``dim``; the gradient is exact when the input has zeros."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    return Prod.apply(x, axes=_axes(x, dim, "prod"), keepdim=bool(keepdim))


def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (all by default); the gradient is split evenly between ties."""
    return _amax(input, dim, keepdim, "max", "amax")


def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` (all by default); the gradient is split evenly between ties."""
    return _amax(input, dim, keepdim, "min", "amin")


def _amax(input, dim, keepdim, mode, op):
    x = as_tensor(input)
    axes = _axes(x, dim, op)
    if x.data.size == 0 and (not axes or builtins.any(x.shape[a] == 0 for a in axes)):
        raise IndexError(f"{op}(): expected a reduction dim of non-zero size, got shape {x.shape} and dim {dim}")
    return Amax.apply(x, axes=axes, keepdim=bool(keepdim), mode=mode)


def _max_min(input, dim, keepdim, mode, other=None):
    op = mode
    x = as_tensor(input)
    if isinstance(dim, Tensor) or other is not None:  # torch.max(a, b) is maximum
        b = dim if other is None else other
        return (maximum if mode == "max" else minimum)(x, b)
    if dim is None:
        if x.data.size == 0:
            raise RuntimeError(f"{op}(): expected reduction dim to be specified for an input with no elements "
                               f"(shape {x.shape}); pass dim=")
        return Amax.apply(x, axes=tuple(range(x.ndim)), keepdim=False, mode=mode)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): dim must be a single int, got {dim!r} (for several dims use a{op}())")
    axis = _one_axis(x, dim, op)
    rt = getattr(return_types, op)
    if axis is None:  # 0-d: the element itself, index 0
        return rt(x * 1, _const(np.zeros((), np.int64)))
    if x.shape[axis] == 0:
        raise IndexError(f"{op}(): expected reduction dim {axis} to have non-zero size (input shape {x.shape})")
    arg = np.argmax if mode == "max" else np.argmin
    idx = np.expand_dims(arg(x.data, axis=axis), axis)
    values = SelectAlong.apply(x, axis=axis, indices=idx, keepdim=bool(keepdim))
    return rt(values, _const(idx if keepdim else np.squeeze(idx, axis)))


def max(input, dim=None, keepdim=False, *, other=None):  # noqa: A001
    """max(x): the largest value (gradient split between ties);  max(x, dim): (values, indices), the
    gradient goes to the selected position;  max(x, y): elementwise maximum."""
    return _max_min(input, dim, keepdim, "max", other)


def min(input, dim=None, keepdim=False, *, other=None):  # noqa: A001
    """min(x): the smallest value;  min(x, dim): (values, indices);  min(x, y): elementwise minimum."""
    return _max_min(input, dim, keepdim, "min", other)


def _arg(input, dim, keepdim, mode):
    op = "arg" + mode
    x = as_tensor(input)
    fn = np.argmax if mode == "max" else np.argmin
    if dim is None:
        if x.data.size == 0:
            raise RuntimeError(f"{op}(): expected reduction dim to be specified for an input with no elements "
                               f"(shape {x.shape})")
        idx = np.asarray(fn(x.data), dtype=np.int64)
        return _const(idx.reshape((1,) * x.ndim) if keepdim else idx)
    axis = _one_axis(x, dim, op)
    if axis is None:
        return _const(np.zeros((), np.int64))
    if x.shape[axis] == 0:
        raise IndexError(f"{op}(): expected reduction dim {axis} to have non-zero size (input shape {x.shape})")
    return _const(np.asarray(fn(x.data, axis=axis, keepdims=bool(keepdim)), dtype=np.int64))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest value (of the flattened input when ``dim`` is None); not differentiable."""
    return _arg(input, dim, keepdim, "max")


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest value (of the flattened input when ``dim`` is None); not differentiable."""
    return _arg(input, dim, keepdim, "min")


def _correction(op, unbiased, correction):
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}(): pass either unbiased= or correction=, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def _var(x, dim, unbiased, keepdim, correction, op):
    if isinstance(dim, (bool, np.bool_)):  # torch.var(x, unbiased)
        dim, unbiased = None, dim
    c = _correction(op, unbiased, correction)
    _require_float(x, op)
    axes = _axes(x, dim, op)
    n = math.prod(x.shape[a] for a in axes)
    d = x - mean(x, axes, keepdim=True)
    dof = builtins.max(0, n - c)
    # n <= correction: 0/0 = nan, positive/0 = inf, as PyTorch (which also warns)
    with np.errstate(divide="ignore", invalid="ignore"):
        return sum(d * d, axes, keepdim=keepdim) * (1.0 / dof if dof else float("inf"))


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """sum_{dim} (x - mean)^2 / max(0, n - correction), correction 1 by default (Bessel), 0 the population
    variance; ``var(x, False)`` is the old ``unbiased`` form.  Built from differentiable ops."""
    return _var(as_tensor(input), dim, unbiased, keepdim, correction, "var")


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """sqrt(var(x, dim, correction));  dx = dvar * g / (2 std), 0 where std == 0 (as PyTorch)."""
    return _SafeSqrt.apply(_var(as_tensor(input), dim, unbiased, keepdim, correction, "std"))


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) over ``dim``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim) if not isinstance(dim, (bool, np.bool_)) else mean(input))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) over ``dim``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim) if not isinstance(dim, (bool, np.bool_)) else mean(input))


def logsumexp(input, dim=None, keepdim=False):
    """log sum exp(x) over ``dim`` (all axes when None), stable for large |x|; integer inputs give the
    default float dtype."""
    x = as_tensor(input)
    if x.dtype.kind not in "fc":
        x = x.to(backend.get_default_dtype())
    return LogSumExp.apply(x, axes=_axes(x, dim, "logsumexp"), keepdim=bool(keepdim))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over ``dim`` (all elements when None): p = 2 / 'fro' (default), 1, inf, -inf, 0
    or any real.  The gradient at the zero vector is 0 (PyTorch's subgradient)."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    if x.dtype.kind not in "fc":
        raise RuntimeError(f"norm(): expected a floating point input, got dtype {x.dtype} (shape {x.shape})")
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm(): p={p!r} is not supported (matrix norms other than 'fro'); "
                             "use p='fro', 2, 1, inf, -inf, 0 or a number")
        p = 2
    if not isinstance(p, (int, float, np.integer, np.floating)) or isinstance(p, bool):
        raise TypeError(f"norm(): p must be a number or 'fro', got {p!r}")
    axes = _axes(x, dim, "norm")
    if p == -np.inf or (p < 0 and not np.isinf(p)):
        _nonempty(x.data, axes, "norm")
    return Norm.apply(x, p=float(p), axes=axes, keepdim=bool(keepdim))


def cumsum(input, dim, *, dtype=None):
    """y_i = sum_{j <= i} x_j along ``dim``;  dx = the reversed cumsum of g.  Integers give int64."""
    x = as_tensor(input)
    if dtype is not None:
        x = x.to(dtype)
    axis = _one_axis(x, dim, "cumsum")
    if axis is None:  # 0-d: the element itself
        return sum(x, ())
    return CumSum.apply(x, axis=axis)


def all(input, dim=None, keepdim=False):  # noqa: A001
    """True where every element over ``dim`` is nonzero (bool; not differentiable)."""
    x = as_tensor(input)
    return _const(np.asarray(np.all(x.data, axis=_axes(x, dim, "all"), keepdims=bool(keepdim))))


def any(input, dim=None, keepdim=False):  # noqa: A001
    """True where some element over ``dim`` is nonzero (bool; not differentiable)."""
    x = as_tensor(input)
    return _const(np.asarray(np.any(x.data, axis=_axes(x, dim, "any"), keepdims=bool(keepdim))))


def count_nonzero(input, dim=None):
    """The number of nonzero elements over ``dim`` (int64)."""
    x = as_tensor(input)
    return _const(np.asarray(np.count_nonzero(x.data, axis=_axes(x, dim, "count_nonzero")), dtype=np.int64))


install(sum=sum, mean=mean, prod=prod, max=max, min=min, amax=amax, amin=amin, argmax=argmax, argmin=argmin,
        var=var, std=std, logsumexp=logsumexp, norm=norm, cumsum=cumsum, all=all, any=any,
        count_nonzero=count_nonzero)

__all__ = ['sum', 'mean', 'prod', 'max', 'min', 'amax', 'amin', 'argmax', 'argmin', 'var', 'std', 'var_mean',
           'std_mean', 'logsumexp', 'norm', 'cumsum', 'all', 'any', 'count_nonzero']
