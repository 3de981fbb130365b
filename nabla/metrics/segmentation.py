"""Segmentation metrics with torchmetrics' interface: ``ConfusionMatrix`` and ``JaccardIndex`` (mIoU).

Both accumulate one confusion matrix over every ``update(preds, target)`` and read it in ``compute()``:

    M[t, p] = number of pixels of true class t predicted as class p        (rows: target, columns: prediction)

built per batch with one ``bincount`` of ``t * C + p`` over the pixels (no loop over classes or pixels).
``preds`` are class indices of ``target``'s shape, or scores (logits or probabilities) with the classes on
dimension 1, (N, C, ...), which become ``argmax`` over dimension 1.  Pixels whose target is ``ignore_index``
are left out (VOC marks object borders with 255).  From M, for class c:

    TP_c = M[c, c],   FP_c = sum_t M[t, c] - TP_c,   FN_c = sum_p M[c, p] - TP_c
    IoU_c = TP_c / (TP_c + FP_c + FN_c)         (zero_division where the union is empty)
    mIoU ("macro") = mean of IoU_c over the classes that occur (in the targets or the predictions), leaving
                     out ignore_index when it is a class index: torchmetrics' rule, so a class absent from a
                     batch neither counts as 0 nor as 1
    "micro" = sum TP / sum (TP + FP + FN);  "weighted" = IoU_c weighted by the class's target pixels;
    "none" (or None) = the vector of IoU_c

``compute()`` returns nabla Tensors (torchmetrics returns torch tensors): ConfusionMatrix an int64 (C, C)
matrix, or float32 when ``normalize`` is "true" (each row sums to 1), "pred" (each column) or "all";
JaccardIndex a float32 scalar, or (C,) for average "none".  ``confmat`` (a NumPy int64 array) is the running
matrix itself; ``iou_per_class(confmat)`` gives the IoUs and which classes occur, for reports that average
over a subset of classes (nabla's ``miou_digits``: classes 1..10 of the scenes' 11).
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor, from_numpy

__all__ = ["ConfusionMatrix", "JaccardIndex", "confusion_matrix", "iou_per_class"]

_NORMALIZE = ("true", "pred", "all", "none", None)
_AVERAGES = ("macro", "micro", "weighted", "none", None)


def _array(value) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


def _labels(preds, target, num_classes: int, who: str) -> tuple:
    """``(preds, target)`` as flat int64 class indices; scores (N, C, ...) become their argmax over dim 1."""
    p, t = _array(preds), _array(target)
    if t.dtype.kind not in "iu":
        raise ValueError(f"{who}: target must hold integer class indices, got dtype {t.dtype}")
    if p.dtype.kind == "f":
        if p.ndim != t.ndim + 1 or p.shape[1] != num_classes or p.shape[:1] + p.shape[2:] != t.shape:
            raise ValueError(f"{who}: float preds must be scores of shape (N, {num_classes}, ...) for target of "
                             f"shape {t.shape}, got {p.shape}")
        p = p.argmax(axis=1)
    elif p.dtype.kind not in "iu":
        raise ValueError(f"{who}: preds must be class indices or float scores, got dtype {p.dtype}")
    if p.shape != t.shape:
        raise ValueError(f"{who}: preds of shape {p.shape} and target of shape {t.shape} differ")
    return p.reshape(-1).astype(np.int64, copy=False), t.reshape(-1).astype(np.int64, copy=False)


def confusion_matrix(preds, target, num_classes: int, ignore_index: int | None = None,
                     who: str = "confusion_matrix") -> np.ndarray:
    """The int64 (C, C) matrix M[t, p] of one batch (see the module docstring)."""
    p, t = _labels(preds, target, num_classes, who)
    if ignore_index is not None:
        keep = t != ignore_index
        p, t = p[keep], t[keep]
    for what, v in (("target", t), ("preds", p)):
        if v.size and (v.min() < 0 or v.max() >= num_classes):
            bad = v[(v < 0) | (v >= num_classes)][0]
            extra = "" if ignore_index is None or what == "preds" else f" or ignore_index={ignore_index}"
            raise ValueError(f"{who}: {what} holds class index {int(bad)}, outside [0, {num_classes - 1}] for "
                             f"num_classes={num_classes}{extra}")
    return np.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_per_class(confmat, zero_division: float = 0.0) -> tuple:
    """``(iou float64 (C,), present bool (C,))`` from a confusion matrix: IoU_c = TP / (TP + FP + FN), and
    whether class c occurs in the targets or the predictions (its union is not empty)."""
    m = np.asarray(confmat, dtype=np.float64)
    tp = np.diag(m)
    union = m.sum(0) + m.sum(1) - tp
    present = union > 0
    iou = np.where(present, tp / np.where(present, union, 1.0), zero_division)
    return iou, present


def _check_common(who: str, task: str, num_classes, ignore_index) -> int:
    if task != "multiclass":
        raise ValueError(f"{who}: only task='multiclass' is supported, got {task!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
        raise ValueError(f"{who}: num_classes must be an integer of at least 2, got {num_classes!r}")
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, (int, np.integer))):
        raise ValueError(f"{who}: ignore_index must be an integer or None, got {ignore_index!r}")
    return int(num_classes)


class ConfusionMatrix:
    """torchmetrics' ``ConfusionMatrix(task="multiclass", num_classes, ignore_index=None, normalize=None)``:
    ``update(preds, target)`` over batches, ``compute()`` the (C, C) matrix (rows: target), ``reset()``."""

    def __init__(self, task: str = "multiclass", num_classes: int | None = None, ignore_index: int | None = None,
                 normalize: str | None = None):
        self.num_classes = _check_common("ConfusionMatrix", task, num_classes, ignore_index)
        if normalize not in _NORMALIZE:
            raise ValueError(f"ConfusionMatrix: normalize must be one of {_NORMALIZE}, got {normalize!r}")
        self.task, self.ignore_index, self.normalize = task, ignore_index, normalize
        self.reset()

    def reset(self) -> None:
        self.confmat = np.zeros((self.num_classes, self.num_classes), np.int64)

    def update(self, preds, target) -> None:
        self.confmat += confusion_matrix(preds, target, self.num_classes, self.ignore_index,
                                         f"{type(self).__name__}.update")

    def __call__(self, preds, target) -> Tensor:
        """torchmetrics' forward: accumulate the batch and return the batch's own value."""
        batch = confusion_matrix(preds, target, self.num_classes, self.ignore_index, f"{type(self).__name__}")
        self.confmat += batch
        return self._value(batch)

    def compute(self) -> Tensor:
        return self._value(self.confmat)

    def _value(self, m: np.ndarray) -> Tensor:
        if self.normalize in (None, "none"):
            return from_numpy(m.copy())
        m = m.astype(np.float64)
        total = {"true": m.sum(1, keepdims=True), "pred": m.sum(0, keepdims=True), "all": m.sum()}[self.normalize]
        total = np.asarray(total)
        out = np.divide(m, total, out=np.zeros_like(m), where=total > 0)   # 0 where a row/column is empty
        return from_numpy(out.astype(np.float32))

    def __repr__(self) -> str:
        return (f"ConfusionMatrix(task={self.task!r}, num_classes={self.num_classes}, "
                f"ignore_index={self.ignore_index}, normalize={self.normalize!r})")


class JaccardIndex(ConfusionMatrix):
    """torchmetrics' ``JaccardIndex(task="multiclass", num_classes, ignore_index=None, average="macro",
    zero_division=0)``: intersection over union per class, averaged as the module docstring says."""

    def __init__(self, task: str = "multiclass", num_classes: int | None = None, ignore_index: int | None = None,
                 average: str | None = "macro", zero_division: float = 0.0):
        if average not in _AVERAGES:
            raise ValueError(f"JaccardIndex: average must be one of {_AVERAGES}, got {average!r}")
        super().__init__(task, num_classes, ignore_index)
        self.average, self.zero_division = average, float(zero_division)

    def _value(self, m: np.ndarray) -> Tensor:
        iou, present = iou_per_class(m, self.zero_division)
        if self.average in (None, "none"):
            return from_numpy(iou.astype(np.float32))
        if self.average == "micro":
            tp = np.trace(m)
            union = m.sum() * 2 - tp
            value = tp / union if union > 0 else self.zero_division
        else:
            weights = present.astype(np.float64) if self.average == "macro" else m.sum(1).astype(np.float64)
            if self.ignore_index is not None and 0 <= self.ignore_index < self.num_classes:
                weights[self.ignore_index] = 0.0
            value = (weights * iou).sum() / weights.sum() if weights.sum() > 0 else self.zero_division
        return from_numpy(np.asarray(value, dtype=np.float32))

    def __repr__(self) -> str:
        return (f"JaccardIndex(task={self.task!r}, num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
                f"average={self.average!r})")
