"""The ``multi-label`` experiment's decision rules and scores, on arrays: scores (N, C) -> a 0/1 prediction
(N, C), scored against 0/1 targets (N, C).

Rules: ``threshold`` (every label whose score is at least t; possibly none) and ``top_k`` (the k highest
scores, k given per image: the true number of labels, an oracle the model does not have).

Scores, per label c over the N images: tp_c, fp_c, fn_c, F1_c = 2 tp_c / (2 tp_c + fp_c + fn_c) (1 when
the label is neither present nor predicted: nothing to find and nothing claimed);

    macro F1 = mean_c F1_c,   micro F1 = 2 sum tp / (2 sum tp + sum fp + sum fn),
    exact match = share of images whose predicted label set equals the true one.
"""
from __future__ import annotations

import numpy as np

__all__ = ["threshold", "top_k", "scores", "best_threshold", "paired_interval"]


def threshold(probs: np.ndarray, t: float) -> np.ndarray:
    """Every label whose probability is at least ``t``."""
    return np.asarray(probs) >= t


def top_k(probs: np.ndarray, k) -> np.ndarray:
    """The ``k[i]`` highest-scoring labels of each row i (ties broken by the lower label)."""
    probs = np.asarray(probs)
    order = np.argsort(-probs, axis=1, kind="stable")
    ranks = np.empty_like(order)
    ranks[np.arange(len(probs))[:, None], order] = np.arange(probs.shape[1])
    return ranks < np.asarray(k).reshape(-1, 1)


def scores(pred: np.ndarray, target: np.ndarray) -> dict:
    """Exact match, macro and micro F1 (and the per-label F1) of a 0/1 prediction against a 0/1 target."""
    pred, target = np.asarray(pred, dtype=bool), np.asarray(target) > 0.5
    if pred.shape != target.shape:
        raise ValueError(f"scores: prediction of shape {pred.shape} against target of shape {target.shape}")
    tp = (pred & target).sum(0)
    fp = (pred & ~target).sum(0)
    fn = (~pred & target).sum(0)
    denom = 2 * tp + fp + fn
    f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 1.0)
    micro = 2 * tp.sum() / denom.sum() if denom.sum() else 1.0
    return {"exact match": float((pred == target).all(1).mean()), "macro F1": float(f1.mean()),
            "micro F1": float(micro), "per-label F1": f1.astype(np.float64)}


def best_threshold(probs: np.ndarray, target: np.ndarray, grid=None) -> tuple:
    """The threshold of ``grid`` (0.05, 0.10, ..., 0.95) with the highest exact match, and the exact match at
    every threshold of the grid."""
    grid = np.round(np.arange(0.05, 0.951, 0.05), 2) if grid is None else np.asarray(grid, dtype=np.float64)
    exact = np.array([scores(threshold(probs, t), target)["exact match"] for t in grid])
    return float(grid[int(np.argmax(exact))]), {"grid": grid, "exact match": exact}


def paired_interval(right_a: np.ndarray, right_b: np.ndarray, z: float = 1.96) -> tuple:
    """Mean and normal 95% interval of the per-image difference right_a - right_b (each 0/1 per image)."""
    d = np.asarray(right_a, dtype=np.float64) - np.asarray(right_b, dtype=np.float64)
    half = z * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.inf
    return float(d.mean()), float(d.mean() - half), float(d.mean() + half)
