"""Classification metrics on predictions and targets (arrays or tensors), vectorised."""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor


def _np(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _labels(pred) -> np.ndarray:
    """Class indices from scores (N, C) or from indices (N,)."""
    p = _np(pred)
    return p.argmax(axis=1) if p.ndim == 2 else p


def accuracy(pred, target) -> float:
    """Fraction of samples whose predicted class (argmax of the scores) equals the target."""
    p, t = _labels(pred), _np(target)
    if p.shape != t.shape:
        raise ValueError(f"accuracy: predictions of shape {p.shape} do not match targets of shape {t.shape}")
    return float((p == t).mean()) if t.size else 0.0


def top_k_accuracy(scores, target, k: int = 5) -> float:
    """Fraction of samples whose target is among the k highest scores."""
    s, t = _np(scores), _np(target)
    if s.ndim != 2 or s.shape[0] != t.shape[0]:
        raise ValueError(f"top_k_accuracy: expected scores (N, C) and targets (N,), got {s.shape} and {t.shape}")
    k = min(k, s.shape[1])
    top = np.argpartition(-s, k - 1, axis=1)[:, :k]
    return float((top == t[:, None]).any(axis=1).mean()) if t.size else 0.0


def confusion_matrix(pred, target, num_classes: int | None = None) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j."""
    p, t = _labels(pred).astype(np.int64), _np(target).astype(np.int64)
    n = num_classes or int(max(p.max(initial=-1), t.max(initial=-1)) + 1)
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def precision_recall_f1(pred, target, num_classes: int | None = None, average: str = "macro"):
    """Per-class precision, recall and F1 from the confusion matrix; 'macro' averages them,
    'micro' pools all decisions (equal to accuracy for single-label data), 'none' returns arrays."""
    return scores_from_confusion(confusion_matrix(pred, target, num_classes), average)


def scores_from_confusion(cm, average: str = "macro"):
    """``precision_recall_f1`` from a confusion matrix (C[i, j]: true i predicted j) already counted, e.g.
    summed over the shards of a data-parallel evaluation."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(cm.sum(0) > 0, tp / cm.sum(0), 0.0)
        recall = np.where(cm.sum(1) > 0, tp / cm.sum(1), 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    if average == "none":
        return precision, recall, f1
    if average == "macro":
        return float(precision.mean()), float(recall.mean()), float(f1.mean())
    if average == "micro":
        acc = float(tp.sum() / cm.sum()) if cm.sum() else 0.0
        return acc, acc, acc
    raise ValueError(f"precision_recall_f1: average must be 'macro', 'micro' or 'none', got {average!r}")
