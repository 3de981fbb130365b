"""Box operations with torchvision's names, signatures and semantics (``torchvision.ops.boxes``).

Boxes are float ``(x0, y0, x1, y1)`` ("xyxy") with exclusive right and bottom edges, so a box's area is
``(x1 - x0) * (y1 - y0)``: no "+1" (the legacy Detectron pixel convention, which inflates the IoU of
small boxes).  Every function takes nabla Tensors or anything ``numpy.asarray`` understands.

Differentiable w.r.t. the boxes (composed from nabla ops, so the gradients come from the engine):
    box_convert(boxes, in_fmt, out_fmt)   'xyxy' | 'xywh' | 'cxcywh', any leading shape (..., 4)
    box_area(boxes)                       (x1 - x0) (y1 - y0)
    box_iou(boxes1, boxes2)               (N, M) inter / union
    generalized_box_iou(boxes1, boxes2)   (N, M) iou - (C - union) / C, C the smallest enclosing box's area
    clip_boxes_to_image(boxes, size)      x into [0, width], y into [0, height]; size = (height, width)
Index-valued (int64 Tensors, no gradient):
    remove_small_boxes(boxes, min_size)   indices of boxes with width and height >= min_size
    nms(boxes, scores, iou_threshold)     greedy non-maximum suppression
    batched_nms(boxes, scores, idxs, iou_threshold)   nms within each category of idxs

NMS semantics, fixed and tested (torchvision's CPU kernel since its stable-sort change, pytorch/vision#4767):
boxes are visited in descending score with a *stable* sort, so among equal scores the lower index comes
first and is the one kept; a box is suppressed by a kept box when their IoU is *strictly greater* than
``iou_threshold`` (IoU == threshold keeps both), compared as the kernel's C++ does, a float32 IoU against
the threshold as a double.  The kept indices come back in that visiting order.
The sweep runs in NumPy over blocks of rows of the IoU matrix (memory N x block): greedy inside a block,
then the block's kept boxes suppress all later live boxes at once.
``batched_nms`` masks the IoU matrix to pairs of the same category, which is exactly per-category nms
(torchvision's coordinate-offset trick gives the same result for boxes with non-negative coordinates).

box_iou, generalized_box_iou and nms refuse degenerate boxes (x1 < x0 or y1 < y0: a box given as
(x, y, w, h), or decoded badly) with an error naming the op; zero-width boxes are allowed.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import get_default_dtype
from ..ops._util import as_tensor, _const
from ..ops.arithmetic import maximum, minimum, to
from ..ops.elementwise import clamp
from ..ops.shape import stack

_FORMATS = ("xyxy", "xywh", "cxcywh")

# rows of the IoU matrix per block in nms: the block holds block x N entries; at most _NMS_MAX_BLOCK rows, so
# that the sweep inside a block stays short and suppressed boxes leave the later blocks' products early
_NMS_BLOCK_ENTRIES = 1 << 22
_NMS_MAX_BLOCK = 128


def _boxes(boxes, op: str, name: str = "boxes", two_d: bool = False, floating: bool = True) -> Tensor:
    """boxes as a Tensor of shape (..., 4) (or (N, 4) with two_d); integers cast to the default float dtype."""
    t = as_tensor(boxes)  # a NumPy array keeps its dtype, a list of floats takes the default dtype
    if two_d and (t.ndim != 2 or t.shape[1] != 4):
        raise ValueError(f"{op}: expected {name} of shape (N, 4), got {tuple(t.shape)}")
    if not two_d and (t.ndim < 1 or t.shape[-1] != 4):
        raise ValueError(f"{op}: expected {name} of shape (..., 4), got {tuple(t.shape)}")
    if floating and t.dtype.kind != "f":
        t = to(t, get_default_dtype())
    return t


def _check_not_degenerate(a: np.ndarray, op: str, name: str = "boxes") -> None:
    bad = (a[..., 2] < a[..., 0]) | (a[..., 3] < a[..., 1])
    if bad.any():
        i = int(np.flatnonzero(bad.reshape(-1))[0])
        raise ValueError(f"{op}: {name} holds {int(bad.sum())} degenerate box(es) with x1 < x0 or y1 < y0, first "
                         f"at index {i}: {a.reshape(-1, 4)[i].tolist()}; expected (x0, y0, x1, y1) with x1 >= x0 and "
                         "y1 >= y0 (for (x, y, w, h) boxes use box_convert(boxes, 'xywh', 'xyxy'))")


# ---------------------------------------------------------------------------------------------- formats
def _xyxy_to_xywh(b):
    x0, y0, x1, y1 = b.unbind(-1)
    return stack((x0, y0, x1 - x0, y1 - y0), dim=-1)


def _xywh_to_xyxy(b):
    x, y, w, h = b.unbind(-1)
    return stack((x, y, x + w, y + h), dim=-1)


def _xyxy_to_cxcywh(b):
    x0, y0, x1, y1 = b.unbind(-1)
    return stack(((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0), dim=-1)


def _cxcywh_to_xyxy(b):
    cx, cy, w, h = b.unbind(-1)
    return stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


_TO_XYXY = {"xywh": _xywh_to_xyxy, "cxcywh": _cxcywh_to_xyxy}
_FROM_XYXY = {"xywh": _xyxy_to_xywh, "cxcywh": _xyxy_to_cxcywh}


def box_convert(boxes, in_fmt: str, out_fmt: str) -> Tensor:
    """Boxes (..., 4) from in_fmt to out_fmt, each one of
        'xyxy'    (x0, y0, x1, y1)   corners
        'xywh'    (x0, y0, w, h)     top-left corner and size (COCO's format)
        'cxcywh'  (cx, cy, w, h)     centre and size (DETR's format)
    with w = x1 - x0, h = y1 - y0, cx = (x0 + x1) / 2, cy = (y0 + y1) / 2.  Between two non-xyxy formats the
    boxes go through xyxy, as torchvision.  Differentiable; a copy even when in_fmt == out_fmt."""
    for which, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in _FORMATS:
            raise ValueError(f"box_convert: unsupported {which} {fmt!r}; expected one of "
                             f"{', '.join(map(repr, _FORMATS))}")
    b = _boxes(boxes, "box_convert")
    if in_fmt == out_fmt:
        return b.clone()
    if in_fmt != "xyxy":
        b = _TO_XYXY[in_fmt](b)
    if out_fmt != "xyxy":
        b = _FROM_XYXY[out_fmt](b)
    return b


# ---------------------------------------------------------------------------------------------- areas and IoU
def box_area(boxes) -> Tensor:
    """(x1 - x0) * (y1 - y0) for boxes (..., 4) in xyxy, shape (...); integer boxes give integer areas."""
    b = _boxes(boxes, "box_area", floating=False)
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def _inter_union(op, boxes1, boxes2):
    b1 = _boxes(boxes1, op, "boxes1", two_d=True)
    b2 = _boxes(boxes2, op, "boxes2", two_d=True)
    _check_not_degenerate(b1.data, op, "boxes1")
    _check_not_degenerate(b2.data, op, "boxes2")
    if b1.dtype != b2.dtype:
        dtype = np.promote_types(b1.dtype, b2.dtype)
        b1, b2 = to(b1, dtype), to(b2, dtype)
    area1, area2 = box_area(b1), box_area(b2)
    lt = maximum(b1[:, None, :2], b2[:, :2])  # (N, M, 2)
    rb = minimum(b1[:, None, 2:], b2[:, 2:])
    wh = clamp(rb - lt, min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    union = area1[:, None] + area2 - inter
    return b1, b2, inter, union


def box_iou(boxes1, boxes2) -> Tensor:
    """Intersection over union of every pair: boxes1 (N, 4), boxes2 (M, 4) in xyxy -> (N, M),
        iou = inter / (area1 + area2 - inter),   inter = prod(clamp(min(x1) - max(x0), 0)).
    A box with itself gives exactly 1, disjoint boxes 0; two zero-area boxes give nan (0 / 0), as
    torchvision.  Differentiable w.r.t. both sets of boxes."""
    _, _, inter, union = _inter_union("box_iou", boxes1, boxes2)
    return inter / union


def generalized_box_iou(boxes1, boxes2) -> Tensor:
    """Generalized IoU (Rezatofighi et al. 2019) of every pair, (N, M), in [-1, 1]:
        giou = iou - (C - union) / C,   C the area of the smallest box enclosing both.
    Differentiable w.r.t. both sets of boxes (it has a gradient also for disjoint boxes, where iou has none)."""
    b1, b2, inter, union = _inter_union("generalized_box_iou", boxes1, boxes2)
    iou = inter / union
    lti = minimum(b1[:, None, :2], b2[:, :2])
    rbi = maximum(b1[:, None, 2:], b2[:, 2:])
    whi = clamp(rbi - lti, min=0)
    area_c = whi[:, :, 0] * whi[:, :, 1]
    return iou - (area_c - union) / area_c


def clip_boxes_to_image(boxes, size) -> Tensor:
    """Boxes (..., 4) in xyxy with x clamped to [0, width] and y to [0, height]; size = (height, width).
    Differentiable (gradient 1 where a coordinate lies inside its range, bounds included, else 0)."""
    b = _boxes(boxes, "clip_boxes_to_image", floating=False)
    if len(size) != 2:
        raise ValueError(f"clip_boxes_to_image: size must be (height, width), got {size!r}")
    height, width = size
    bx = clamp(b[..., 0::2], min=0, max=width)
    by = clamp(b[..., 1::2], min=0, max=height)
    return stack((bx, by), dim=b.ndim).reshape(b.shape)


def remove_small_boxes(boxes, min_size: float) -> Tensor:
    """Indices (int64, ascending) of the boxes whose width and height are both >= min_size."""
    a = _boxes(boxes, "remove_small_boxes", two_d=True, floating=False).data
    keep = ((a[:, 2] - a[:, 0]) >= min_size) & ((a[:, 3] - a[:, 1]) >= min_size)
    return _const(np.flatnonzero(keep).astype(np.int64))


# ---------------------------------------------------------------------------------------------- NMS
def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (len(a), len(b)) of xyxy arrays, plain NumPy (nms's kernel; 0/0 gives nan, never suppressing):
    inter / ((area_a + area_b) - inter), the kernel's order of operations, computed in place."""
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = np.minimum(a[:, None, 2], b[None, :, 2])
    inter -= np.maximum(a[:, None, 0], b[None, :, 0])
    np.maximum(inter, 0, out=inter)
    h = np.minimum(a[:, None, 3], b[None, :, 3])
    h -= np.maximum(a[:, None, 1], b[None, :, 1])
    np.maximum(h, 0, out=h)
    inter *= h
    union = np.add(area_a[:, None], area_b[None, :], out=h)
    union -= inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(inter, union, out=inter if inter.dtype.kind == "f" else None)


def _threshold_for(dtype, iou_threshold: float):
    """The threshold in the IoUs' dtype that decides ``iou > iou_threshold`` exactly as the kernel's C++ does
    (a float IoU against a double): for a float32 IoU x, x > t  <=>  x > (largest float32 <= t).  NumPy
    would otherwise round t to nearest (0.3 -> 0.30000001), keeping an IoU of exactly float32(0.3)."""
    t = dtype.type(iou_threshold)
    return np.nextafter(t, dtype.type(-np.inf)) if float(t) > iou_threshold else t


def _nms_arrays(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, groups=None) -> np.ndarray:
    """The greedy sweep: order by descending score (stable), keep a box unless a kept box of its group
    overlaps it with IoU > iou_threshold.  In blocks of rows: the greedy sweep runs inside a block on its
    own small IoU matrix, then the block's kept boxes suppress the later live boxes in one product, so
    only about the upper triangle of the IoU matrix among live boxes is computed, block x N at a time."""
    n = len(boxes)
    order = np.argsort(-scores, kind="stable")
    b = boxes[order]
    g = None if groups is None else groups[order]
    t = _threshold_for(b.dtype, iou_threshold) if b.dtype.kind == "f" else iou_threshold
    alive = np.ones(n, dtype=bool)
    keep = []
    block = min(_NMS_MAX_BLOCK, max(1, _NMS_BLOCK_ENTRIES // max(n, 1)))
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = start + np.flatnonzero(alive[start:stop])
        if len(rows) == 0:
            continue
        over = _overlaps(b, g, rows, rows, t)
        dead = np.zeros(len(rows), dtype=bool)
        kept = []
        for i in range(len(rows)):
            if not dead[i]:
                kept.append(i)
                dead |= over[i]  # marks earlier rows too: they are decided already
        kept = rows[kept]
        keep.append(kept)
        later = stop + np.flatnonzero(alive[stop:])
        if len(later):
            alive[later[_overlaps(b, g, kept, later, t).any(axis=0)]] = False
    return order[np.concatenate(keep)] if keep else np.zeros(0, dtype=np.int64)


def _overlaps(b: np.ndarray, g, rows: np.ndarray, cols: np.ndarray, t) -> np.ndarray:
    """(len(rows), len(cols)) IoU > t among the sorted boxes b (and the same group, with groups)."""
    over = pairwise_iou(b[rows], b[cols]) > t
    if g is not None:
        over &= g[rows, None] == g[None, cols]
    return over


def _nms_inputs(op, boxes, scores):
    b = _boxes(boxes, op, two_d=True).data
    s = scores.data if isinstance(scores, Tensor) else np.asarray(scores)
    if s.shape != (len(b),):
        raise ValueError(f"{op}: expected scores of shape ({len(b)},) for boxes of shape {tuple(b.shape)}, "
                         f"got {tuple(s.shape)}")
    _check_not_degenerate(b, op)
    return b, s


def nms(boxes, scores, iou_threshold: float) -> Tensor:
    """Greedy non-maximum suppression: boxes (N, 4) in xyxy, scores (N,) -> int64 indices of the kept boxes,
    in descending score.  Visit boxes by descending score (stable sort: on equal scores the lower index
    goes first, and so wins); drop every box whose IoU with a kept box is strictly greater than
    iou_threshold.  Not differentiable (indices)."""
    b, s = _nms_inputs("nms", boxes, scores)
    if len(b) == 0:
        return _const(np.zeros(0, dtype=np.int64))
    return _const(_nms_arrays(b, s, float(iou_threshold)))


def batched_nms(boxes, scores, idxs, iou_threshold: float) -> Tensor:
    """nms within each category: boxes of different idxs (N,) never suppress each other.  Returns int64
    indices in descending score (stable), the same boxes as running nms per category and merging."""
    b, s = _nms_inputs("batched_nms", boxes, scores)
    k = idxs.data if isinstance(idxs, Tensor) else np.asarray(idxs)
    if k.shape != (len(b),):
        raise ValueError(f"batched_nms: expected idxs of shape ({len(b)},) for boxes of shape {tuple(b.shape)}, "
                         f"got {tuple(k.shape)}")
    if len(b) == 0:
        return _const(np.zeros(0, dtype=np.int64))
    return _const(_nms_arrays(b, s, float(iou_threshold), groups=k))


__all__ = ["box_convert", "box_area", "box_iou", "generalized_box_iou", "clip_boxes_to_image",
           "remove_small_boxes", "nms", "batched_nms"]
