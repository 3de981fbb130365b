"""RoI max pooling (Girshick, Fast R-CNN 2015) with torchvision's name, signature and semantics
(``torchvision.ops.roi_pool``, its CPU kernel, rule by rule):

    x0' = round(x0 s), x1' = round(x1 s)  (s = spatial_scale; round half away from zero; y alike)
    roi_w = max(x1' - x0' + 1, 1)          the legacy "+1" pixel extent (only here: boxes elsewhere have none)
    bin_w = roi_w / pooled_w
    bin pw spans x in [floor(pw bin_w) + x0', ceil((pw + 1) bin_w) + x0'), clipped to [0, W]  (y alike)
    out[k, c, ph, pw] = max of features[b_k, c] over the bin;  an empty bin gives 0

The max starts from -FLT_MAX and takes a value only when strictly greater, scanning rows then columns: on
ties the FIRST maximum in row-major order wins, NaN is skipped, and a bin of nothing above -FLT_MAX gives
-FLT_MAX.  The RoI arithmetic runs in the input's dtype, as the kernel's does.  The gradient goes to that
argmax position only (none from an empty bin):

    d features.flat[argmax[k, c, ph, pw]] += g[k, c, ph, pw]

Vectorised as a windowed max in two separable passes (the row-major first maximum lies in the first row
that holds the maximum, at that row's first maximum): over each column bin for every row a RoI spans,
then over the rows of each bin, carrying the column found.  Each pass loops over offsets inside a bin (at
most the map's width or height), never over RoIs or bins, and holds (K, rows spanned, pooled_w, C) values,
RoIs taken in blocks that bound it (_BLOCK_ENTRIES).  Given the argmax positions the op is a gather (RoIPoolFunction)
whose adjoint is a scatter-add (RoIPoolAdjoint), each the other's gradient: derivatives of any order exist
w.r.t. the features.  The RoI coordinates get no gradient (as torchvision).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..nn.module import Module
from ..ops._util import as_tensor
from .boxes import _check_not_degenerate
from .roi_align import _rois

# the kernel's starting value for every max (C's -FLT_MAX, in any dtype)
_FLOOR = np.array(-np.finfo(np.float32).max)

# RoIs per block bound the first pass's (RoIs x rows spanned x pooled_w x C) values to about this many
_BLOCK_ENTRIES = 1 << 23


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C's round(): halves go away from zero (NumPy's round goes to even); x - trunc(x) is exact."""
    t = np.trunc(x)
    return (t + np.sign(x) * (np.abs(x - t) >= 0.5)).astype(np.int64)


def _bins(lo, hi, pooled: int, size: int, dtype):
    """Per-RoI bin edges (K, pooled) [start, end) on one axis, from box edges lo, hi already scaled."""
    start, end = _round_half_away(lo), _round_half_away(hi)
    bin_size = np.maximum(end - start + 1, 1).astype(dtype) / dtype.type(pooled)
    p = np.arange(pooled + 1, dtype=dtype)[None, :] * bin_size[:, None]
    first = np.floor(p[:, :-1]).astype(np.int64) + start[:, None]
    last = np.ceil(p[:, 1:]).astype(np.int64) + start[:, None]
    return np.clip(first, 0, size), np.clip(last, 0, size)


def _window_max(take, first, last, floor_value):
    """Running max over offsets j of the windows [first, last) (arrays (K, P)).  take(idx) gathers at idx
    (K, P) the values (K, P', ..., C) and a payload of the same shape (or None) to carry along.  A value
    counts only when strictly greater, so the first maximum wins and NaN never does.  Returns the maxima,
    1 + the offset j each was found at (int16; 0: nothing above floor_value) and the payload there.
    Branch-free updates (fmax, products of the mask): masked copies are ten times slower here."""
    best = found = kept = None
    for j in range(max(int((last - first).max()), 1)):
        idx = np.maximum(np.minimum(first + j, last - 1), 0)  # past the window's end: repeat its last index
        v, payload = take(idx)
        if best is None:
            best = np.full(v.shape, floor_value, dtype=v.dtype)
            found = np.zeros(v.shape, dtype=np.int16)
            kept = None if payload is None else np.zeros_like(payload)
        upd = v > best
        np.fmax(best, v, out=best)  # = v where upd (ties and NaN keep best)
        np.maximum(found, upd * np.int16(j + 1), out=found)  # offsets only grow: the last update wins
        if payload is not None:
            kept += upd * (payload - kept)
    return best, found, kept


def _argmax_routes(f: np.ndarray, rois: np.ndarray, output_size, spatial_scale: float):
    """_block_routes over blocks of RoIs, so that large maps and many RoIs stay within _BLOCK_ENTRIES."""
    _, c, h, _ = f.shape
    block = max(1, _BLOCK_ENTRIES // (h * output_size[1] * c))  # a RoI spans at most h rows
    if len(rois) <= block:
        return _block_routes(f, rois, output_size, spatial_scale)
    parts = [_block_routes(f, rois[i:i + block], output_size, spatial_scale) for i in range(0, len(rois), block)]
    return np.concatenate([v for v, _ in parts]), np.concatenate([r for _, r in parts])


def _block_routes(f: np.ndarray, rois: np.ndarray, output_size, spatial_scale: float):
    """The bins' maxima (K, C, PH, PW) and the flat index into f of each one's first maximum (-1: an empty
    bin, or nothing above -FLT_MAX).  f (N, C, H, W), rois (K, 5) in f's dtype."""
    n, c, h, w = f.shape
    ph, pw = output_size
    dtype = f.dtype
    k = len(rois)
    if k == 0:
        return np.zeros((0, c, ph, pw), dtype=dtype), np.zeros((0, c, ph, pw), dtype=np.int32)
    r = rois * dtype.type(spatial_scale)
    hs, he = _bins(r[:, 2], r[:, 4], ph, h, dtype)
    ws, we = _bins(r[:, 1], r[:, 3], pw, w, dtype)
    empty = ((he <= hs)[:, :, None] | (we <= ws)[:, None, :])[..., None]  # (K, PH, PW, 1)
    floor = _FLOOR.astype(dtype)
    b = rois[:, 0].astype(np.int64)
    fh = np.ascontiguousarray(f.transpose(0, 2, 3, 1)).reshape(n * h * w, c)  # each gather copies C-vectors
    # pass 1: every row a RoI spans (from its first bin's start), max over each column bin
    span = max(int((he[:, -1] - hs[:, 0]).max()), 1)
    rows = (b[:, None] * h + np.minimum(hs[:, :1] + np.arange(span), h - 1)) * w  # (K, span) flat row starts
    row_max, col_at, _ = _window_max(lambda i: (np.take(fh, rows[:, :, None] + i[:, None, :], axis=0), None),
                                     ws, we, floor)  # (K, span, PW, C)
    # pass 2: max over each row bin (rows counted from the span's start), carrying the column found
    row_max, col_at = row_max.reshape(k * span, pw, c), col_at.reshape(k * span, pw, c)
    base = np.arange(k)[:, None] * span - hs[:, :1]
    best, row_at, col_at = _window_max(lambda i: (np.take(row_max, base + i, axis=0),
                                                  np.take(col_at, base + i, axis=0)),
                                       hs, he, floor)  # (K, PH, PW, C)
    # an empty bin's window repeated a neighbour's index: it has no source whatever the values
    found = (row_at > 0) & ~empty
    index = np.int32 if f.size < 2 ** 31 else np.int64
    row = hs.astype(index)[:, :, None, None] + (row_at - 1)
    pos = row * w + ws.astype(index)[:, None, :, None] + (col_at - 1)
    plane = ((b * c)[:, None] + np.arange(c)).astype(index) * (h * w)  # (K, C): where each RoI's planes start
    routes = np.where(found, pos + plane[:, None, None, :], -1).transpose(0, 3, 1, 2)
    values = np.where(empty, dtype.type(0), best).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(values), np.ascontiguousarray(routes)


class _Routes:
    """Each output's source position in the features (flat index, -1 for none) and the features' shape:
    the linear maps gather (features -> outputs, 0 without a source) and its adjoint scatter-add."""

    def __init__(self, routes: np.ndarray, shape):
        self.routes = routes
        self.live = routes >= 0
        self.shape = shape
        self.size = int(np.prod(shape))

    def gather(self, f: np.ndarray) -> np.ndarray:
        return np.where(self.live, f.reshape(-1)[np.maximum(self.routes, 0)], f.dtype.type(0))

    def scatter(self, g: np.ndarray) -> np.ndarray:
        out = np.bincount(self.routes[self.live], g[self.live], minlength=self.size)
        return out.astype(g.dtype).reshape(self.shape)


class RoIPoolFunction(Function):
    """out = features.flat[argmax] (the bins' maxima);  d features = the scatter-add (RoIPoolAdjoint) of g.
    roi_pool passes the maxima its routing found (an output without a source is 0 or -FLT_MAX there);
    as the adjoint's gradient it is the plain gather (0 without a source)."""
    save_inputs = False

    def __init__(self, plan, values=None):
        self.plan = plan
        self.values = values

    def forward(self, features):
        return self.plan.gather(features) if self.values is None else self.values

    def backward(self, g):
        return RoIPoolAdjoint.apply(g, plan=self.plan)

    def backward_arrays(self, g):
        return self.plan.scatter(g)


class RoIPoolAdjoint(Function):
    """d features.flat[argmax] += g;  its gradient is the gather (RoIPoolFunction) again."""
    save_inputs = False

    def __init__(self, plan):
        self.plan = plan

    def forward(self, g):
        return self.plan.scatter(g)

    def backward(self, u):
        return RoIPoolFunction.apply(u, plan=self.plan)

    def backward_arrays(self, u):
        return self.plan.gather(u)


def roi_pool(input, boxes, output_size, spatial_scale: float = 1.0) -> Tensor:
    """RoI max pooling: input (N, C, H, W), boxes (K, 5) [batch index, x0, y0, x1, y1] or a list of N (L, 4)
    tensors (image coordinates, xyxy) -> (K, C, output_h, output_w).  Differentiable w.r.t. input."""
    x = as_tensor(input)
    if x.ndim != 4 or x.dtype.kind != "f":
        raise ValueError(f"roi_pool: expected a float input of shape (N, C, H, W), got {tuple(x.shape)} {x.dtype}")
    size = (output_size, output_size) if isinstance(output_size, (int, np.integer)) else tuple(output_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"roi_pool: output_size must be a positive int or (height, width), got {output_size!r}")
    rois = _rois(boxes, x.shape[0], "roi_pool").astype(x.dtype)
    _check_not_degenerate(rois[:, 1:], "roi_pool")
    values, routes = _argmax_routes(x.data, rois, size, float(spatial_scale))
    return RoIPoolFunction.apply(x, plan=_Routes(routes, tuple(x.shape)), values=values)


class RoIPool(Module):
    """See roi_pool."""

    def __init__(self, output_size, spatial_scale: float):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input, rois):
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"


__all__ = ["roi_pool", "RoIPool"]
