"""YOLO v1 (Redmon, Divvala, Girshick & Farhadi, CVPR 2016): the grid parametrisation, the assignment of
ground truth to grid cells and predictors, and the sum-squared loss.

The image is divided into an S_h x S_w grid; each cell predicts B boxes, each with a confidence, and one
set of class probabilities.  A box is (x, y, sqrt(w), sqrt(h)): (x, y) the box centre's offset inside
its cell, in [0, 1] (a fraction of the cell), and w, h the box's size as a fraction of the image,
predicted as square roots so that an error on a small box weighs more than the same error on a large
one.  Decoded to pixels (``decode_boxes``), a predictor in row r, column c of the grid gives

    cx = (c + x) W / S_w     cy = (r + y) H / S_h     w = sqrt(w)^2 W     h = sqrt(h)^2 H.

Assignment (``yolo_v1_targets``): the cell holding an object's centre is responsible for it; of its B
predictors the one whose current box has the highest IoU with the object is "responsible" (ties: the
lower index).  A cell holds one object: when the centres of several objects fall in the same cell the
largest one (by area; among equal areas the later one) is kept and the others get no predictor, the
paper's one-object-per-cell limit.  The whole batch is assigned at once from the concatenated boxes
and their image indices (no loop over images, boxes or cells).

The loss (the paper's equation 3), summed over cells i and predictors j, divided by the batch size:

    loss_coord  = lambda_coord sum_ij 1obj_ij [(x - x^)^2 + (y - y^)^2 + (sqrt w - sqrt w^)^2 + (sqrt h - sqrt h^)^2]
    loss_obj    =              sum_ij 1obj_ij (C - C^)^2
    loss_noobj  = lambda_noobj sum_ij (1 - 1obj_ij) C^2
    loss_class  =              sum_i 1obj_i sum_c (p(c) - p^(c))^2

with 1obj_ij = 1 for the responsible predictor, 1obj_i = 1 for a cell holding an object, lambda_coord = 5
and lambda_noobj = 0.5 (the paper's).  The confidence target C^ is Pr(object) * IoU(pred, truth): the
IoU of the responsible predictor's box with its object, computed from the prediction and held constant
(no gradient flows through the target).  ``conf_target="one"`` uses C^ = 1 instead (what many
reimplementations do; the score then estimates Pr(object) alone).  The class term is the paper's
sum-squared error on the class probabilities (here a softmax).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..autograd.tensor import Tensor
from ..ops._util import _const

CONF_TARGETS = ("iou", "one")


@dataclass
class YOLOv1Targets:
    """The targets of one batch on the grid (N images, S_h x S_w cells, B predictors, C classes).

    obj (N, S_h, S_w, B): 1 at responsible predictors; box (N, S_h, S_w, B, 4): their (x, y, sqrt w,
    sqrt h) targets; conf (N, S_h, S_w, B): their confidence targets; cls (N, S_h, S_w, C): one-hot class
    of the cells holding an object; cell (N, S_h, S_w): 1 where a cell holds an object (zeros elsewhere)."""
    obj: np.ndarray
    box: np.ndarray
    conf: np.ndarray
    cls: np.ndarray
    cell: np.ndarray


def decode_boxes(params: np.ndarray, image_size, rows=None, cols=None) -> np.ndarray:
    """xyxy pixel boxes (..., 4) from (x, y, sqrt w, sqrt h) parameters (..., 4).

    Without ``rows``/``cols`` params is a full grid (N, S_h, S_w, B, 4); with them, params (n, B, 4) are
    the predictors of the cells (rows[k], cols[k]) and ``image_size`` carries the grid: (H, W, S_h, S_w)."""
    p = np.asarray(params)
    if rows is None:
        h, w = image_size
        s_h, s_w = p.shape[-4], p.shape[-3]
        rows = np.arange(s_h).reshape(s_h, 1, 1)
        cols = np.arange(s_w).reshape(1, s_w, 1)
    else:
        h, w, s_h, s_w = image_size
        rows, cols = np.asarray(rows)[:, None], np.asarray(cols)[:, None]
    cx = (cols + p[..., 0]) * (w / s_w)
    cy = (rows + p[..., 1]) * (h / s_h)
    bw, bh = np.square(p[..., 2]) * w, np.square(p[..., 3]) * h
    return np.stack((cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2), axis=-1)


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of a[..., k] with b[..., k] (xyxy, broadcasting); 0 where both boxes are empty."""
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    union = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
             - inter)
    return inter / np.where(union > 0, union, 1.0)


def _concat_targets(targets, n_images: int, num_classes: int):
    """Boxes (M, 4) float64, labels (M,) int64 and image indices (M,) of a list of target dicts."""
    if len(targets) != n_images:
        raise ValueError(f"yolo_v1_targets: got {len(targets)} target dicts for a batch of {n_images} images")
    arrays = [(np.asarray(getattr(t["boxes"], "data", t["boxes"]), np.float64).reshape(-1, 4),
               np.asarray(getattr(t["labels"], "data", t["labels"]), np.int64).reshape(-1)) for t in targets]
    boxes = np.concatenate([b for b, _ in arrays]) if arrays else np.zeros((0, 4))
    labels = np.concatenate([lab for _, lab in arrays]) if arrays else np.zeros(0, np.int64)
    image = np.repeat(np.arange(n_images), [len(b) for b, _ in arrays])
    if len(boxes) != len(labels):
        raise ValueError(f"yolo_v1_targets: {len(boxes)} boxes but {len(labels)} labels in the batch's targets")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"yolo_v1_targets: labels must be in [0, {num_classes - 1}], got values in "
                         f"[{labels.min()}, {labels.max()}]")
    return boxes, labels, image


def _one_per_cell(image, row, col, area, grid) -> np.ndarray:
    """Indices of the objects kept: per cell the largest (on equal areas the later one)."""
    flat = (image * grid[0] + row) * grid[1] + col
    order = np.lexsort((area, flat))  # by cell, then area ascending; stable, so the later box last on ties
    ordered = flat[order]
    last_of_cell = np.ones(len(order), bool)
    last_of_cell[:-1] = ordered[1:] != ordered[:-1]
    return order[last_of_cell]


def yolo_v1_targets(targets, pred_params: np.ndarray, image_size, num_classes: int,
                    conf_target: str = "iou") -> YOLOv1Targets:
    """Assign a batch's ground truth to cells and responsible predictors (see the module docstring).

    targets: list of N dicts with "boxes" (n, 4) xyxy pixels and "labels" (n,) in 0..C-1;
    pred_params: the current predictions (N, S_h, S_w, B, 4) as (x, y, sqrt w, sqrt h) (used only to pick
    the responsible predictor and, for conf_target "iou", the confidence target); image_size (H, W)."""
    if conf_target not in CONF_TARGETS:
        raise ValueError(f"yolo_v1_targets: conf_target must be one of {CONF_TARGETS}, got {conf_target!r}")
    p = np.asarray(pred_params)
    if p.ndim != 5 or p.shape[-1] != 4:
        raise ValueError(f"yolo_v1_targets: expected pred_params of shape (N, S_h, S_w, B, 4), got {p.shape}")
    n, s_h, s_w, n_box = p.shape[:4]
    h, w = image_size
    boxes, labels, image = _concat_targets(targets, n, num_classes)
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2 * (s_w / w), (boxes[:, 1] + boxes[:, 3]) / 2 * (s_h / h)
    col = np.clip(np.floor(cx), 0, s_w - 1).astype(np.int64)
    row = np.clip(np.floor(cy), 0, s_h - 1).astype(np.int64)
    keep = _one_per_cell(image, row, col, (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), (s_h, s_w))
    boxes, labels, image, row, col, cx, cy = (a[keep] for a in (boxes, labels, image, row, col, cx, cy))
    # the target parameters: offsets inside the cell, square roots of the size relative to the image
    size = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None) / np.array([w, h])
    goal = np.stack((cx - col, cy - row, np.sqrt(size[:, 0]), np.sqrt(size[:, 1])), axis=1)
    # the responsible predictor: highest IoU of its current box with the object (first on ties)
    pred = decode_boxes(p[image, row, col], (h, w, s_h, s_w), row, col)        # (M, B, 4)
    iou = _paired_iou(pred, boxes[:, None, :])                                  # (M, B)
    resp = np.argmax(iou, axis=1)
    dtype = p.dtype if p.dtype.kind == "f" else np.float32
    out = YOLOv1Targets(obj=np.zeros((n, s_h, s_w, n_box), dtype), box=np.zeros((n, s_h, s_w, n_box, 4), dtype),
                        conf=np.zeros((n, s_h, s_w, n_box), dtype), cls=np.zeros((n, s_h, s_w, num_classes), dtype),
                        cell=np.zeros((n, s_h, s_w), dtype))
    # each (image, row, col) occurs once after _one_per_cell, so these scatters have no duplicates
    out.obj[image, row, col, resp] = 1
    out.box[image, row, col, resp] = goal
    out.conf[image, row, col, resp] = iou[np.arange(len(resp)), resp] if conf_target == "iou" else 1
    out.cls[image, row, col, labels] = 1
    out.cell[image, row, col] = 1
    return out


def yolo_v1_loss(box_params: Tensor, confidence: Tensor, class_probs: Tensor, targets: YOLOv1Targets,
                 lambda_coord: float = 5.0, lambda_noobj: float = 0.5) -> dict:
    """The four sum-squared terms of the module docstring, each divided by the batch size N.

    box_params (N, S_h, S_w, B, 4) as (x, y, sqrt w, sqrt h); confidence (N, S_h, S_w, B); class_probs
    (N, S_h, S_w, C); targets from ``yolo_v1_targets``.  Returns {"loss_coord", "loss_obj", "loss_noobj",
    "loss_class"}, scalar Tensors."""
    shapes = {"box_params": (box_params.shape, targets.box.shape), "confidence": (confidence.shape, targets.obj.shape),
              "class_probs": (class_probs.shape, targets.cls.shape)}
    for name, (got, want) in shapes.items():
        if tuple(got) != tuple(want):
            raise ValueError(f"yolo_v1_loss: {name} has shape {tuple(got)}, its targets {tuple(want)}")
    dt = box_params.dtype
    obj = _const(targets.obj.astype(dt, copy=False))
    scale = 1.0 / max(box_params.shape[0], 1)
    coord = ((box_params - _const(targets.box.astype(dt, copy=False))).square().sum(-1) * obj).sum()
    conf_err = (confidence - _const(targets.conf.astype(dt, copy=False))).square()
    class_err = (class_probs - _const(targets.cls.astype(dt, copy=False))).square().sum(-1)
    return {"loss_coord": coord * (lambda_coord * scale),
            "loss_obj": (conf_err * obj).sum() * scale,
            "loss_noobj": (confidence.square() * (1 - obj)).sum() * (lambda_noobj * scale),
            "loss_class": (class_err * _const(targets.cell.astype(dt, copy=False))).sum() * scale}


__all__ = ["YOLOv1Targets", "decode_boxes", "yolo_v1_targets", "yolo_v1_loss", "CONF_TARGETS"]
