"""Binary classification figures on one logit per sample (torchmetrics' functional names), vectorised.

With z the logit, p = sigmoid(z) and t in {0, 1} the target:

    accuracy        mean[(z > threshold) == t]                     (threshold 0 on the logit: p > 1/2)
    precision       TP / (TP + FP)      recall  TP / (TP + FN)      F1  2 P R / (P + R)     (0 where 0/0)
    log loss        mean[-t log p - (1 - t) log(1 - p)] = mean[softplus(z) - t z]   (= BCEWithLogitsLoss)
    ROC AUC         P(z_pos > z_neg) + P(z_pos = z_neg) / 2, by the rank formula (Mann-Whitney U):
                    AUC = (sum of the positives' ranks - n1 (n1 + 1) / 2) / (n1 n0),
                    ranks 1..n over all scores, tied scores sharing their mean rank

The baseline a binary task reports against is the best constant prediction on the split scored, p = s for every
sample with s the split's share of positives: accuracy max(s, 1 - s) (the majority class), log loss the entropy
-s log s - (1 - s) log(1 - s) (no constant does better), AUC 1/2 (every score tied).
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from .metrics import precision_recall_f1

__all__ = ["binary_accuracy", "binary_precision_recall_f1", "binary_auroc", "binary_log_loss", "binary_scores",
           "constant_baseline"]


def _flat(x, what: str) -> np.ndarray:
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    if a.ndim > 1 and a.shape[1:] != (1,) * (a.ndim - 1):
        raise ValueError(f"binary metrics: {what} must hold one value per sample ((N,) or (N, 1)), got shape {a.shape}")
    return a.reshape(-1)


def _pair(logits, target) -> tuple:
    z, t = _flat(logits, "logits").astype(np.float64), _flat(target, "targets")
    if z.shape != t.shape:
        raise ValueError(f"binary metrics: {z.size} logits against {t.size} targets")
    return z, t > 0.5


def binary_accuracy(logits, target, threshold: float = 0.0) -> float:
    """Share of samples with ``(logit > threshold) == target`` (targets 0/1, any shape (N,) or (N, 1))."""
    z, t = _pair(logits, target)
    return float(((z > threshold) == t).mean()) if t.size else 0.0


def binary_precision_recall_f1(logits, target, threshold: float = 0.0) -> tuple:
    """``(precision, recall, F1)`` of the positive class, each 0 where its denominator is 0."""
    z, t = _pair(logits, target)
    precision, recall, f1 = precision_recall_f1((z > threshold).astype(np.int64), t.astype(np.int64), num_classes=2,
                                                average="none")
    return float(precision[1]), float(recall[1]), float(f1[1])   # class 1: the positive class


def binary_auroc(scores, target) -> float:
    """Area under the ROC curve by the rank formula (module docstring); NaN when one class is absent."""
    z, t = _pair(scores, target)
    n1 = int(t.sum())
    n0 = t.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    values, inverse, counts = np.unique(z, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0     # ranks from 1; a tie group shares its mean rank
    rank_sum = float(mean_rank[inverse.reshape(-1)][t].sum())
    return (rank_sum - n1 * (n1 + 1) / 2.0) / (n1 * n0)


def binary_log_loss(logits, target) -> float:
    """mean[softplus(z) - t z], written max(z, 0) - t z + log1p(exp(-|z|)) so that no exp overflows."""
    z, t = _pair(logits, target)
    if not t.size:
        return 0.0
    return float(np.mean(np.maximum(z, 0.0) - t * z + np.log1p(np.exp(-np.abs(z)))))


def binary_scores(logits, target) -> dict:
    """Every figure of the module docstring: loss (the log loss), accuracy, precision, recall, f1, auc, and
    ``positives``, the share of positive targets (what ``constant_baseline`` needs)."""
    precision, recall, f1 = binary_precision_recall_f1(logits, target)
    t = _pair(logits, target)[1]
    return {"loss": binary_log_loss(logits, target), "accuracy": binary_accuracy(logits, target),
            "precision": precision, "recall": recall, "f1": f1, "auc": binary_auroc(logits, target),
            "positives": float(t.mean()) if t.size else 0.0}


def constant_baseline(positives: float) -> dict:
    """The best constant prediction on a split whose share of positives is ``positives``:
    ``{"accuracy": the majority class's share, "loss": the entropy of the labels (nats), "auc": 0.5}``."""
    s = min(max(float(positives), 0.0), 1.0)
    entropy = -sum(v * math.log(v) for v in (s, 1.0 - s) if v > 0)
    return {"accuracy": max(s, 1.0 - s), "loss": entropy, "auc": 0.5}
