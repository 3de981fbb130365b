"""Matching and sampling for two-stage detectors, as torchvision's ``models.detection._utils`` (``Matcher``,
``BalancedPositiveNegativeSampler``), vectorised over the images of a batch.

Matcher: each prediction (anchor or proposal) takes the ground-truth box it overlaps most,

    matches[p] = argmax_g iou[g, p]       if max_g iou[g, p] >= high_threshold
               = BETWEEN_THRESHOLDS (-2)  if low_threshold <= max_g iou[g, p] < high_threshold
               = BELOW_LOW_THRESHOLD (-1) if max_g iou[g, p] < low_threshold

and with ``allow_low_quality_matches`` (Faster R-CNN's RPN) every prediction whose IoU with some box equals
that box's best IoU over all predictions keeps its own best match, so that each box has a positive.

Batches: the IoU is given as (B, G, P) with ground truth padded to the largest count G; padded rows hold
IoU -1, which never wins a match, so an image without boxes labels all of its predictions background.

BalancedPositiveNegativeSampler: per image, up to ``batch_size_per_image * positive_fraction`` random
positives and the rest random negatives (fewer where an image has fewer).  The draw is one vector of
uniform keys for all candidates of the batch, ranked inside each (image, kind) group, so there is no loop
over images; the keys come from nabla's global generator (``nabla.manual_seed``) or a given one.
"""
from __future__ import annotations

import numpy as np

from ..backend import rng


def pad_boxes(boxes_list, dtype=np.float32):
    """Per-image (n_i, 4) arrays -> boxes (B, G, 4) padded with zeros and a validity mask (B, G)."""
    g = max([len(b) for b in boxes_list] + [1])
    out = np.zeros((len(boxes_list), g, 4), dtype=dtype)
    valid = np.zeros((len(boxes_list), g), dtype=bool)
    for i, b in enumerate(boxes_list):
        out[i, :len(b)] = b
        valid[i, :len(b)] = True
    return out, valid


def batched_iou(gt: np.ndarray, valid: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU (B, G, P) of padded gt (B, G, 4) against boxes (B, P, 4) (or shared (P, 4)); padded rows -1."""
    if boxes.ndim == 2:
        boxes = boxes[None]
    area_g = (gt[..., 2] - gt[..., 0]) * (gt[..., 3] - gt[..., 1])  # (B, G)
    area_b = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])  # (B, P)
    w = np.minimum(gt[:, :, None, 2], boxes[:, None, :, 2]) - np.maximum(gt[:, :, None, 0], boxes[:, None, :, 0])
    h = np.minimum(gt[:, :, None, 3], boxes[:, None, :, 3]) - np.maximum(gt[:, :, None, 1], boxes[:, None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    union = area_g[:, :, None] + area_b[:, None, :] - inter
    iou = inter / np.maximum(union, np.finfo(np.float32).tiny)
    return np.where(valid[:, :, None], iou, -1.0).astype(gt.dtype, copy=False)


class Matcher:
    """Matches predictions to ground truth by IoU (see the module docstring); torchvision's constants."""
    BELOW_LOW_THRESHOLD = -1
    BETWEEN_THRESHOLDS = -2

    def __init__(self, high_threshold: float, low_threshold: float, allow_low_quality_matches: bool = False):
        if low_threshold > high_threshold:
            raise ValueError(f"Matcher: low_threshold {low_threshold} must not exceed high_threshold {high_threshold}")
        self.high_threshold = float(high_threshold)
        self.low_threshold = float(low_threshold)
        self.allow_low_quality_matches = bool(allow_low_quality_matches)

    def __call__(self, match_quality_matrix: np.ndarray) -> np.ndarray:
        """IoU (G, P) or (B, G, P) -> matches (P,) or (B, P), int64: a gt index, -1 or -2."""
        iou = np.asarray(match_quality_matrix)
        single = iou.ndim == 2
        if single:
            iou = iou[None]
        if iou.ndim != 3:
            raise ValueError(f"Matcher: expected an IoU matrix (G, P) or (B, G, P), got shape {iou.shape}")
        b, g, p = iou.shape
        if g == 0:
            matches = np.full((b, p), self.BELOW_LOW_THRESHOLD, dtype=np.int64)
            return matches[0] if single else matches
        best = iou.max(axis=1)  # (B, P)
        matches = iou.argmax(axis=1).astype(np.int64)
        all_matches = matches.copy()
        matches[best < self.high_threshold] = self.BETWEEN_THRESHOLDS
        matches[best < self.low_threshold] = self.BELOW_LOW_THRESHOLD
        if self.allow_low_quality_matches:
            # each box's best predictions (ties included, as torchvision) keep their own best match
            highest = iou.max(axis=2, keepdims=True)  # (B, G, 1)
            low_quality = ((iou == highest) & (highest > 0)).any(axis=1)  # (B, P)
            matches[low_quality] = all_matches[low_quality]
        return matches[0] if single else matches


def rank_within_groups(groups: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """For each element, its rank by ascending key among the elements of the same group (0-based)."""
    order = np.lexsort((keys, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    first = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order)) - first
    return ranks


class BalancedPositiveNegativeSampler:
    """Samples, per image, at most batch_size_per_image candidates with at most positive_fraction of them
    positive (torchvision's semantics: num_pos = min(positives, int(batch * fraction)), num_neg =
    min(negatives, batch - num_pos))."""

    def __init__(self, batch_size_per_image: int, positive_fraction: float):
        if batch_size_per_image < 1 or not 0.0 <= positive_fraction <= 1.0:
            raise ValueError(f"BalancedPositiveNegativeSampler: expected batch_size_per_image >= 1 and a fraction in "
                             f"[0, 1], got {batch_size_per_image} and {positive_fraction}")
        self.batch_size_per_image = int(batch_size_per_image)
        self.positive_fraction = float(positive_fraction)

    def __call__(self, labels: np.ndarray, image_index: np.ndarray, num_images: int, generator=None):
        """labels (N,): 1 positive, 0 negative, -1 ignored, of candidates from image image_index (N,) ->
        boolean masks (pos, neg) of the sampled candidates."""
        labels = np.asarray(labels)
        image_index = np.asarray(image_index, dtype=np.int64)
        pos, neg = labels >= 1, labels == 0
        n_pos = np.bincount(image_index[pos], minlength=num_images)
        n_neg = np.bincount(image_index[neg], minlength=num_images)
        take_pos = np.minimum(n_pos, int(self.batch_size_per_image * self.positive_fraction))
        take_neg = np.minimum(n_neg, self.batch_size_per_image - take_pos)
        keys = (generator or rng()).random(len(labels))
        # groups: 3 * image + (0 positive, 1 negative, 2 ignored)
        kind = np.where(pos, 0, np.where(neg, 1, 2))
        ranks = rank_within_groups(image_index * 3 + kind, keys)
        return pos & (ranks < take_pos[image_index]), neg & (ranks < take_neg[image_index])


__all__ = ["Matcher", "BalancedPositiveNegativeSampler", "pad_boxes", "batched_iou", "rank_within_groups"]
