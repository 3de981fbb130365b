"""Pooling: max_pool1d/2d, avg_pool1d/2d, adaptive_avg_pool1d/2d, adaptive_max_pool2d, max_unpool2d.

All windows are read as kh*kw strided slices of a padded input (one slice per kernel offset, never an
unfolded copy), so the work is kh*kw passes over an output-sized array and no Python loop touches
batch items, channels or pixels.  New arrays keep the input's memory layout, so a channels-last
activation from conv2d stays channels-last.

max_pool2d:   y = max over the window;   dx: g goes to the (first) arg-max of each window, as PyTorch
              (ties: the first in row-major window order).  The arg-max is kept as the kernel offset
              (uint8) per output; backward scatters g one offset at a time (windows may overlap).
avg_pool2d:   y = sum over the window / divisor;   dx = g / divisor spread over the window.
The scatter and the gather by offset are adjoint Functions whose backwards call each other (double backward).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import _GradState
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const
from .conv import _tuple
from .shape import unsqueeze, squeeze


def _channels_last(a) -> bool:
    return a.ndim == 4 and a.shape[1] > 1 and a.strides[1] == a.itemsize and a.shape[2] * a.shape[3] > 1


def _alloc(shape, like, fill=0.0, dtype=None):
    """A new (N, C, H, W) array filled with ``fill``, in ``like``'s memory layout (channels-last or not)."""
    dtype = like.dtype if dtype is None else dtype
    if _channels_last(like):
        n, c, h, w = shape
        return np.full((n, h, w, c), fill, dtype=dtype).transpose(0, 3, 1, 2)
    return np.full(shape, fill, dtype=dtype)


class _Geometry:
    """Where each window of a 2-d pooling reads: kernel, stride, padding, dilation, input and output sizes."""

    def __init__(self, in_hw, kernel, stride, padding, dilation, out_hw):
        self.in_hw, self.kernel, self.stride = tuple(in_hw), kernel, stride
        self.padding, self.dilation, self.out_hw = padding, dilation, tuple(out_hw)
        # the padded extent the windows read, and at least the whole input
        self.span = tuple((o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out_hw, stride, dilation, kernel))
        self.padded = tuple(max(sp, p + n) for sp, p, n in zip(self.span, padding, in_hw))
        self.disjoint = all(s >= d * (k - 1) + 1 for s, d, k in zip(stride, dilation, kernel))

    def offsets(self):
        kh, kw = self.kernel
        return [(i, j) for i in range(kh) for j in range(kw)]

    def window(self, xp, i, j):
        """The (N, C, OH, OW) strided slice kernel offset (i, j) reads from a padded array."""
        (sh, sw), (dh, dw), (oh, ow) = self.stride, self.dilation, self.out_hw
        a, b = i * dh, j * dw
        return xp[:, :, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]

    def pad(self, x, fill):
        """x placed at (ph, pw) in a ``fill``-padded array covering every window (a view when no padding)."""
        (ph, pw), (h, w), (hp, wp) = self.padding, self.in_hw, self.padded
        if ph == pw == 0 and hp == h and wp == w:
            return x
        xp = _alloc(x.shape[:2] + (hp, wp), x, fill)
        xp[:, :, ph:ph + h, pw:pw + w] = x
        return xp

    def crop(self, xp):
        (ph, pw), (h, w) = self.padding, self.in_hw
        return xp[:, :, ph:ph + h, pw:pw + w]

    def scatter(self, g, kidx):
        """dx: g[n,c,oh,ow] added at the input position of kernel offset kidx[n,c,oh,ow]."""
        gxp = _alloc(g.shape[:2] + self.padded, g, 0.0)
        # g * hit is ~5x faster than np.where(hit, g, 0), but inf * 0 would put NaN at the positions that
        # are not the arg-max: a g that is not all finite (rare; one cheap check) takes np.where
        finite = g.dtype.kind != "f" or bool(np.isfinite(g).all())
        zero = np.zeros((), dtype=g.dtype)
        for k, (i, j) in enumerate(self.offsets()):
            hit = kidx == k
            if self.disjoint and finite:  # each input position is read by one window at most: a plain write
                np.multiply(g, hit, out=self.window(gxp, i, j))
            elif self.disjoint:
                self.window(gxp, i, j)[...] = np.where(hit, g, zero)
            else:
                self.window(gxp, i, j)[...] += g * hit if finite else np.where(hit, g, zero)
        return self.crop(gxp)

    def gather(self, x, kidx):
        """y[n,c,oh,ow] = xp[n,c, window position kidx[n,c,oh,ow]] (the adjoint of scatter)."""
        xp = self.pad(x, 0.0)
        out = np.zeros_like(kidx, dtype=x.dtype)
        for k, (i, j) in enumerate(self.offsets()):
            np.copyto(out, self.window(xp, i, j), where=kidx == k)
        return out

    def flat_indices(self, kidx):
        """PyTorch's return_indices: the flat position h*W + w of each max in its (H, W) plane."""
        kh, kw = self.kernel
        (sh, sw), (dh, dw), (ph, pw), (oh, ow) = self.stride, self.dilation, self.padding, self.out_hw
        i, j = np.divmod(kidx.astype(np.int64), kw)
        rows = (np.arange(oh) * sh - ph)[:, None] + i * dh
        cols = (np.arange(ow) * sw - pw)[None, :] + j * dw
        return rows * self.in_hw[1] + cols


# ---------------------------------------------------------------------------------------------- Functions
class MaxPool2dFunction(Function):
    """y = max over each window;  dx = g at each window's first arg-max (a scatter by kernel offset)."""
    save_inputs = False

    def __init__(self, geo, need_index, sink=None):
        self.geo, self.need_index, self.sink = geo, need_index, sink

    def forward(self, x):
        geo = self.geo
        xp = geo.pad(x, -np.inf)
        offs = geo.offsets()
        out = np.copy(geo.window(xp, *offs[0]))  # np.copy keeps the memory layout (order='K')
        if not self.need_index:
            for i, j in offs[1:]:
                np.maximum(out, geo.window(xp, i, j), out=out)
            self.kidx = None
            return out
        for i, j in offs[1:]:
            np.maximum(out, geo.window(xp, i, j), out=out)
        # the arg-max as a kernel offset: walk the offsets backwards so that, on ties, the earliest offset
        # that holds the maximum is the one kept (PyTorch's rule).  kidx > k before step k, so
        # kidx -= (kidx - k) * [window_k == max] sets it to k where offset k holds the max, in three
        # fast integer passes (masked writes, copyto(where=) or np.where, are ~20x slower here).
        kidx = np.full(out.shape, len(offs) - 1, dtype=np.uint8 if len(offs) < 256 else np.int32)
        diff = np.empty_like(kidx)
        for k in range(len(offs) - 2, -1, -1):
            hit = np.equal(geo.window(xp, *offs[k]), out)
            np.subtract(kidx, kidx.dtype.type(k), out=diff)
            np.multiply(diff, hit.view(np.uint8), out=diff)
            kidx -= diff
        self.kidx = kidx
        if self.sink is not None:
            self.sink["kidx"] = kidx
        return out

    def backward_arrays(self, g):
        return self.geo.scatter(g, self.kidx)

    def backward(self, g):
        return PoolScatter.apply(g, geo=self.geo, kidx=self.kidx)


class PoolScatter(Function):
    """dx = scatter of g to the window positions in kidx;  its gradient is the gather at the same positions."""
    save_inputs = False

    def __init__(self, geo, kidx):
        self.geo, self.kidx = geo, kidx

    def forward(self, g):
        return self.geo.scatter(g, self.kidx)

    def backward(self, u):
        return PoolGather.apply(u, geo=self.geo, kidx=self.kidx)


class PoolGather(Function):
    """y = x at the window positions in kidx;  its gradient is the scatter back."""
    save_inputs = False

    def __init__(self, geo, kidx):
        self.geo, self.kidx = geo, kidx

    def forward(self, x):
        return self.geo.gather(x, self.kidx)

    def backward(self, g):
        return PoolScatter.apply(g, geo=self.geo, kidx=self.kidx)


def _avg_divisor(geo, count_include_pad, divisor_override, dtype):
    """1 / divisor per output position (OH, OW), PyTorch's rule: windows are clipped to the padded input;
    without count_include_pad, only the elements inside the input count."""
    if divisor_override:
        return np.asarray(1.0 / divisor_override, dtype=dtype)
    sizes = []
    for n, o, k, s, p in zip(geo.in_hw, geo.out_hw, geo.kernel, geo.stride, geo.padding):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if count_include_pad:
            sizes.append(end - start)
        else:
            sizes.append(np.minimum(end, n) - np.maximum(start, 0))
    return (1.0 / (sizes[0][:, None] * sizes[1][None, :])).astype(dtype)


class AvgPool2dFunction(Function):
    """y = sum over the window * inv_div;  dx = (g * inv_div) added over each window (AvgPoolT)."""
    save_inputs = False

    def __init__(self, geo, inv_div):
        self.geo, self.inv_div = geo, inv_div

    def forward(self, x):
        geo = self.geo
        xp = geo.pad(x, 0.0)
        offs = geo.offsets()
        out = np.copy(geo.window(xp, *offs[0]))
        for i, j in offs[1:]:
            np.add(out, geo.window(xp, i, j), out=out)
        out *= self.inv_div
        return out

    def backward_arrays(self, g):
        return _avg_scatter(self.geo, g, self.inv_div)

    def backward(self, g):
        return AvgPoolTFunction.apply(g, geo=self.geo, inv_div=self.inv_div)


def _avg_scatter(geo, g, inv_div):
    gs = g * inv_div
    gxp = _alloc(g.shape[:2] + geo.padded, g, 0.0)
    for i, j in geo.offsets():
        if geo.disjoint:
            geo.window(gxp, i, j)[...] = gs
        else:
            geo.window(gxp, i, j)[...] += gs
    return geo.crop(gxp)


class AvgPoolTFunction(Function):
    """The adjoint of avg_pool2d: g * inv_div spread over each window.  Gradient: avg_pool2d again."""
    save_inputs = False

    def __init__(self, geo, inv_div):
        self.geo, self.inv_div = geo, inv_div

    def forward(self, g):
        return _avg_scatter(self.geo, g, self.inv_div)

    def backward(self, u):
        return AvgPool2dFunction.apply(u, geo=self.geo, inv_div=self.inv_div)


class IndexGather(Function):
    """y[n,c,...] = x[n,c].flat[idx[n,c,...]];  dx = scatter-add of g at idx (IndexScatterAdd)."""
    save_inputs = False

    def __init__(self, idx, in_shape):
        self.idx, self.in_shape = idx, tuple(in_shape)

    def forward(self, x):
        n, c = x.shape[:2]
        flat = x.reshape(n, c, -1)
        return np.take_along_axis(flat, self.idx.reshape(n, c, -1), axis=2).reshape(self.idx.shape)

    def backward(self, g):
        return IndexScatterAdd.apply(g, idx=self.idx, out_shape=self.in_shape)


class IndexScatterAdd(Function):
    """y[n,c].flat[idx] += g (repeated indices add up);  dg = gather of u at idx."""
    save_inputs = False

    def __init__(self, idx, out_shape):
        self.idx, self.out_shape = idx, tuple(out_shape)

    def forward(self, g):
        n, c = self.out_shape[:2]
        plane = int(np.prod(self.out_shape[2:]))
        base = (np.arange(n * c, dtype=np.int64) * plane).reshape(n, c, *([1] * (self.idx.ndim - 2)))
        summed = np.bincount((self.idx + base).ravel(), weights=g.ravel(), minlength=n * c * plane)
        return summed.astype(g.dtype, copy=False).reshape(self.out_shape)

    def backward(self, u):
        return IndexGather.apply(u, idx=self.idx, in_shape=self.out_shape)


class IndexPut(Function):
    """y = zeros; y[n,c].flat[idx] = x (max_unpool2d);  dx = gather of g at idx."""
    save_inputs = False

    def __init__(self, idx, out_shape):
        self.idx, self.out_shape = idx, tuple(out_shape)

    def forward(self, x):
        n, c = x.shape[:2]
        out = np.zeros((n, c, int(np.prod(self.out_shape[2:]))), dtype=x.dtype)
        np.put_along_axis(out, self.idx.reshape(n, c, -1), x.reshape(n, c, -1), axis=2)
        return out.reshape(self.out_shape)

    def backward(self, g):
        return IndexGather.apply(g, idx=self.idx, in_shape=self.out_shape)


# ---------------------------------------------------------------------------------------------- helpers
def _batched(op, x, nd=2):
    x = as_tensor(x)
    if x.ndim == nd + 2:
        return x, False
    if x.ndim == nd + 1:
        return unsqueeze(x, 0), True
    shape = "(N, C, H, W) or (C, H, W)" if nd == 2 else "(N, C, L) or (C, L)"
    raise ValueError(f"{op}: expected an input of shape {shape}, got {tuple(x.shape)}")


def _pool_out(n, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size: a last window may start in the right padding only in ceil mode,
    and must start inside the input or the left padding."""
    out = (n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _geometry(op, x, kernel_size, stride, padding, dilation, ceil_mode):
    kernel = _tuple(kernel_size, 2, "kernel_size", op)
    stride = kernel if stride is None or (not isinstance(stride, int) and len(stride) == 0) else \
        _tuple(stride, 2, "stride", op)
    padding = _tuple(padding, 2, "padding", op)
    dilation = _tuple(dilation, 2, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{op}: kernel_size {kernel}, stride {stride} and dilation {dilation} must be positive")
    if any(p < 0 or p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: pad should be at most half of the kernel size, got padding {padding} for "
                         f"kernel_size {kernel}")
    h, w = x.shape[2:]
    out = tuple(_pool_out(n, k, s, p, d, ceil_mode) for n, k, s, p, d in zip((h, w), kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} is too small for kernel_size {kernel} (dilation "
                         f"{dilation}, padding {padding}): the calculated output size {out} is too small")
    return _Geometry((h, w), kernel, stride, padding, dilation, out)


def _check_float(op, x):
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")


# ---------------------------------------------------------------------------------------------- public API
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-d max pooling of (N, C, H, W) (or (C, H, W)); with return_indices also the flat h*W + w position
    of each maximum (for max_unpool2d)."""
    x, unbatched = _batched("max_pool2d", input)
    _check_float("max_pool2d", x)
    geo = _geometry("max_pool2d", x, kernel_size, stride, padding, dilation, ceil_mode)
    need_index = return_indices or (_GradState.enabled and x.requires_grad)
    sink = {} if return_indices else None
    out = MaxPool2dFunction.apply(x, geo=geo, need_index=need_index, sink=sink)
    out = squeeze(out, 0) if unbatched else out
    if not return_indices:
        return out
    idx = geo.flat_indices(sink["kidx"])
    return out, _const(idx[0] if unbatched else idx)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """1-d max pooling of (N, C, L): max_pool2d on height 1."""
    x, unbatched = _batched("max_pool1d", input, 1)
    one = lambda v, name, fill: (fill, _tuple(v, 1, name, "max_pool1d")[0])  # noqa: E731
    res = max_pool2d(unsqueeze(x, 2), one(kernel_size, "kernel_size", 1),
                     None if stride is None else one(stride, "stride", 1), one(padding, "padding", 0),
                     one(dilation, "dilation", 1), ceil_mode, return_indices)
    fix = (lambda t: squeeze(squeeze(t, 2), 0)) if unbatched else (lambda t: squeeze(t, 2))
    if return_indices:
        return fix(res[0]), _const(fix(res[1]).data)
    return fix(res)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """2-d average pooling; count_include_pad counts the zero padding in the divisor, divisor_override
    replaces the divisor."""
    x, unbatched = _batched("avg_pool2d", input)
    _check_float("avg_pool2d", x)
    geo = _geometry("avg_pool2d", x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and divisor_override == 0:
        raise ValueError("avg_pool2d: divisor_override must be non-zero")
    inv = _avg_divisor(geo, count_include_pad, divisor_override, x.dtype)
    out = AvgPool2dFunction.apply(x, geo=geo, inv_div=inv)
    return squeeze(out, 0) if unbatched else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-d average pooling of (N, C, L): avg_pool2d on height 1."""
    x, unbatched = _batched("avg_pool1d", input, 1)
    one = lambda v, name, fill: (fill, _tuple(v, 1, name, "avg_pool1d")[0])  # noqa: E731
    out = avg_pool2d(unsqueeze(x, 2), one(kernel_size, "kernel_size", 1),
                     None if stride is None else one(stride, "stride", 1), one(padding, "padding", 0),
                     ceil_mode, count_include_pad)
    out = squeeze(out, 2)
    return squeeze(out, 0) if unbatched else out


def _adaptive_sizes(op, x, output_size, nd=2):
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {nd}, got {output_size!r}")
    out = tuple(int(n) if o is None else int(o) for o, n in zip(output_size, x.shape[2:]))
    if min(out) < 1:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    if min(x.shape[2:]) < 1:
        raise ValueError(f"{op}: input of shape {tuple(x.shape)} has an empty spatial dimension")
    return out


def _adaptive_bounds(n, o):
    """PyTorch's adaptive windows: [floor(i n / o), ceil((i + 1) n / o))."""
    i = np.arange(o)
    return (i * n) // o, -((-(i + 1) * n) // o)


def _average_matrix(n, o, dtype):
    start, end = _adaptive_bounds(n, o)
    cols = np.arange(n)
    m = ((cols >= start[:, None]) & (cols < end[:, None])).astype(dtype)
    return m / (end - start)[:, None].astype(dtype)


def adaptive_avg_pool2d(input, output_size):
    """Average over PyTorch's adaptive windows (start floor(i H / OH), end ceil((i + 1) H / OH)).
    Divisible sizes are avg_pool2d; others are the separable linear map A_h x A_w^T (matrix products)."""
    from .linalg import matmul
    x, unbatched = _batched("adaptive_avg_pool2d", input)
    _check_float("adaptive_avg_pool2d", x)
    (oh, ow), (h, w) = _adaptive_sizes("adaptive_avg_pool2d", x, output_size), x.shape[2:]
    if (oh, ow) == (1, 1):
        out = x.mean(dim=(2, 3), keepdim=True)
    elif h % oh == 0 and w % ow == 0:
        out = avg_pool2d(x, (h // oh, w // ow))
    else:
        ah = _const(_average_matrix(h, oh, x.dtype))
        awt = _const(np.ascontiguousarray(_average_matrix(w, ow, x.dtype).T))
        out = matmul(matmul(ah, x), awt)
    return squeeze(out, 0) if unbatched else out


def adaptive_avg_pool1d(input, output_size):
    """1-d adaptive average pooling of (N, C, L)."""
    x, unbatched = _batched("adaptive_avg_pool1d", input, 1)
    o = output_size[0] if isinstance(output_size, (tuple, list)) else output_size
    out = squeeze(adaptive_avg_pool2d(unsqueeze(x, 2), (1, o)), 2)
    return squeeze(out, 0) if unbatched else out


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive windows; with return_indices the flat h*W + w position of each maximum."""
    x, unbatched = _batched("adaptive_max_pool2d", input)
    _check_float("adaptive_max_pool2d", x)
    (oh, ow), (h, w) = _adaptive_sizes("adaptive_max_pool2d", x, output_size), x.shape[2:]
    if h % oh == 0 and w % ow == 0:
        res = max_pool2d(x, (h // oh, w // ow), return_indices=return_indices)
    else:
        sh, eh = _adaptive_bounds(h, oh)
        sw, ew = _adaptive_bounds(w, ow)
        xd = x.data
        best = None
        for a in range(int((eh - sh).max())):
            rows = np.minimum(sh + a, eh - 1)  # clamped: repeats a window's last row, harmless for a max
            for b in range(int((ew - sw).max())):
                cols = np.minimum(sw + b, ew - 1)
                v = xd[:, :, rows[:, None], cols[None, :]]
                flat = rows[:, None] * w + cols[None, :]
                if best is None:
                    best, idx = v.copy(), np.broadcast_to(flat, v.shape).copy()
                else:
                    sel = v > best
                    np.copyto(best, v, where=sel)
                    np.copyto(idx, np.broadcast_to(flat, v.shape), where=sel)
        out = IndexGather.apply(x, idx=idx, in_shape=x.shape)
        res = (out, _const(idx)) if return_indices else out
    if unbatched:
        return (squeeze(res[0], 0), _const(res[1].data[0])) if return_indices else squeeze(res, 0)
    return res


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: zeros except input[n,c,i,j] at the flat position indices[n,c,i,j].
    Default output size (H - 1) s - 2p + k; output_size (H, W) or (N, C, H, W) may pick one within a stride."""
    x, unbatched = _batched("max_unpool2d", input)
    idx = indices.data if isinstance(indices, Tensor) else np.asarray(indices)
    if unbatched:
        idx = idx[None]
    if idx.shape != x.shape:
        raise ValueError(f"max_unpool2d: indices of shape {idx.shape} must match the input's shape {tuple(x.shape)}")
    if idx.dtype.kind not in "iu":
        raise TypeError(f"max_unpool2d: indices must be integers, got dtype {idx.dtype}")
    kernel = _tuple(kernel_size, 2, "kernel_size", "max_unpool2d")
    stride = kernel if stride is None else _tuple(stride, 2, "stride", "max_unpool2d")
    padding = _tuple(padding, 2, "padding", "max_unpool2d")
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(x.shape[2:], stride, padding, kernel))
    if output_size is None:
        size = default
    else:
        size = tuple(int(s) for s in (output_size[-2:] if len(output_size) in (2, 4) else ()))
        if len(size) != 2:
            raise ValueError(f"max_unpool2d: output_size must have 2 or 4 elements, got {tuple(output_size)}")
        for d, (sz, df, s) in enumerate(zip(size, default, stride)):
            if not df - s < sz < df + s:
                raise ValueError(f"max_unpool2d: invalid output_size {tuple(output_size)} for input of shape "
                                 f"{tuple(x.shape)} (dim {d} must be between {df - s + 1} and {df + s - 1})")
    plane = size[0] * size[1]
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise IndexError(f"max_unpool2d: indices must be in [0, {plane}) for output size {size}, found values in "
                         f"[{idx.min()}, {idx.max()}]")
    out = IndexPut.apply(x, idx=idx.astype(np.int64, copy=False), out_shape=x.shape[:2] + size)
    return squeeze(out, 0) if unbatched else out


__all__ = ["max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "max_unpool2d"]
