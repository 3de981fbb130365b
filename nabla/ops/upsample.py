"""Resizing: interpolate (nearest, nearest-exact, linear, bilinear with or without align_corners).

Each mode resamples each spatial axis independently with a fixed linear map, so a resize is
    y = A_h x A_w^T      (A_h: (H_out, H) interpolation weights; nearest: one 1 per row)
computed with matmul, whose backward (A_h^T g A_w) and double backward come for free.  The source
coordinates follow PyTorch exactly (computed in the input's precision, as PyTorch does):
    nearest:        src = min(floor(dst * scale), in - 1)
    nearest-exact:  src = min(floor((dst + 0.5) * scale), in - 1)
    linear:         align_corners: src = dst (in - 1)/(out - 1);  else src = max((dst + 0.5) scale - 0.5, 0)
                    y = (1 - l) x[floor(src)] + l x[floor(src) + 1],  l = src - floor(src)
with scale = 1 / scale_factor when a scale factor is given (and not recomputed), else in / out.
Nearest upsampling by an integer factor is a broadcast and a reshape instead (its gradient sums blocks).
"""
from __future__ import annotations

import math

import numpy as np

from ._util import as_tensor, _const
from .linalg import matmul
from .shape import broadcast_to, reshape

_MODES = ("nearest", "nearest-exact", "linear", "bilinear")


def _scale(n_in, n_out, factor, align_corners, mode, dtype):
    if mode in ("linear", "bilinear") and align_corners:
        return dtype.type((n_in - 1) / (n_out - 1)) if n_out > 1 else dtype.type(0)
    if factor is not None and factor > 0:
        return dtype.type(1.0 / factor)
    return dtype.type(n_in) / dtype.type(n_out)


def _matrix(n_in, n_out, factor, mode, align_corners, dtype):
    """(n_out, n_in) resampling weights for one axis."""
    dtype = np.dtype(dtype)
    sc = _scale(n_in, n_out, factor, align_corners, mode, dtype)
    dst = np.arange(n_out).astype(dtype)
    m = np.zeros((n_out, n_in), dtype=dtype)
    rows = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        pos = dst * sc if mode == "nearest" else (dst + dtype.type(0.5)) * sc
        src = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
        m[rows, src] = 1
        return m, src
    if align_corners:
        src = dst * sc
    else:
        src = np.maximum((dst + dtype.type(0.5)) * sc - dtype.type(0.5), dtype.type(0))
    i0 = np.minimum(src.astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = (src - i0).astype(dtype)
    np.add.at(m, (rows, i0), 1 - lam)
    np.add.at(m, (rows, i1), lam)
    return m, None


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize (N, C, L) or (N, C, H, W) to ``size`` or by ``scale_factor`` (output floor(in * factor))."""
    x = as_tensor(input)
    if mode not in _MODES:
        raise ValueError(f"interpolate: mode {mode!r} is not supported (supported: {', '.join(_MODES)})")
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported")
    nd = x.ndim - 2
    if nd not in (1, 2):
        raise ValueError(f"interpolate: expected a 3-d (N, C, L) or 4-d (N, C, H, W) input, got shape {tuple(x.shape)}")
    if mode == "linear" and nd != 1 or mode == "bilinear" and nd != 2:
        raise ValueError(f"interpolate: mode {mode!r} needs a {3 if mode == 'linear' else 4}-d input, got shape "
                         f"{tuple(x.shape)}")
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError(f"interpolate: align_corners only applies to linear and bilinear modes, not {mode!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size and scale_factor must be given")
    in_sizes = x.shape[2:]
    if size is not None:
        sizes = (size,) * nd if isinstance(size, (int, np.integer)) else tuple(size)
        if len(sizes) != nd:
            raise ValueError(f"interpolate: size {size!r} must have {nd} elements for input {tuple(x.shape)}")
        sizes = tuple(int(s) for s in sizes)
        factors = (None,) * nd
    else:
        factors = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        if len(factors) != nd:
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} must have {nd} elements")
        sizes = tuple(int(math.floor(float(n) * float(f))) for n, f in zip(in_sizes, factors))
        if recompute_scale_factor:
            factors = (None,) * nd
    if min(sizes) < 1:
        raise ValueError(f"interpolate: output size {sizes} must be positive (input {tuple(x.shape)})")
    if x.dtype.kind != "f":
        raise TypeError(f"interpolate: expected a floating-point input, got dtype {x.dtype}")
    ac = bool(align_corners)
    mats = [_matrix(n, o, f, mode, ac, x.dtype) for n, o, f in zip(in_sizes, sizes, factors)]
    # nearest by whole factors: every source repeated k times, a broadcast (cheap forward, block-sum backward)
    reps = [o // n if o % n == 0 and src is not None and np.array_equal(src, np.arange(o) // (o // n)) else 0
            for (m, src), n, o in zip(mats, in_sizes, sizes)]
    if all(reps):
        n, c = x.shape[:2]
        expanded = reshape(x, (n, c) + sum(((s, 1) for s in in_sizes), ()))
        expanded = broadcast_to(expanded, (n, c) + sum(((s, r) for s, r in zip(in_sizes, reps)), ()))
        return reshape(expanded, (n, c) + sizes)
    if nd == 1:
        return matmul(x, _const(np.ascontiguousarray(mats[0][0].T)))
    ah = _const(mats[0][0])
    awt = _const(np.ascontiguousarray(mats[1][0].T))
    return matmul(matmul(ah, x), awt)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated PyTorch name for interpolate."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Bilinear with align_corners=True (PyTorch's deprecated upsample_bilinear)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]
