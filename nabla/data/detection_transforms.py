"""Geometric augmentation for detection and segmentation batches: the boxes and masks move with the pixels.

``RandomShift(max_shift)`` translates each image of a batch by its own integer offset (dx, dy), drawn
uniformly from [-max_shift, max_shift], filling the uncovered border with ``fill``:

    image'[y, x] = image[y - dy, x - dx]        (fill where y - dy or x - dx falls outside)
    box'         = clip((x0 + dx, y0 + dy, x1 + dx, y1 + dy), image)

A box clipped to less than ``min_visible`` of its area (or to nothing) is dropped with its label, as
torchvision's v2 ``SanitizeBoundingBoxes`` does after a crop.  Per-box ``masks`` (n, H, W) and a semantic
``mask`` (H, W) are shifted like the image (fill 0: background).  There is no mirroring: digits are not
mirror-symmetric.

Vectorised over the batch: one gather with per-image row and column indices, no loop over pixels; the
per-image loop only slices each image's own box list.
"""
from __future__ import annotations

import numpy as np


def _shift_stack(stack: np.ndarray, dy: np.ndarray, dx: np.ndarray, fill) -> np.ndarray:
    """(B, ..., H, W) with image b moved by (dy[b], dx[b]); ``fill`` where no source pixel exists."""
    b, h, w = stack.shape[0], stack.shape[-2], stack.shape[-1]
    rows = np.arange(h)[None, :] - dy[:, None]          # (B, H): source row of each output row
    cols = np.arange(w)[None, :] - dx[:, None]          # (B, W)
    valid = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]   # (B, H, W)
    src = stack.reshape(b, -1, h, w)
    picked = src[np.arange(b)[:, None, None, None], np.arange(src.shape[1])[None, :, None, None],
                 np.clip(rows, 0, h - 1)[:, None, :, None], np.clip(cols, 0, w - 1)[:, None, None, :]]
    out = np.where(valid[:, None], picked, np.asarray(fill, dtype=stack.dtype))
    return out.reshape(stack.shape)


def shift_targets(target: dict, dx: int, dy: int, size, min_visible: float = 0.5) -> dict:
    """One image's target moved by (dx, dy) on an image of ``size`` (H, W): boxes clipped, boxes left with
    less than ``min_visible`` of their area dropped (labels and per-box masks with them)."""
    h, w = size
    out = dict(target)
    boxes = np.asarray(target["boxes"], np.float32).reshape(-1, 4)
    moved = boxes + np.array([dx, dy, dx, dy], np.float32)
    clipped = np.clip(moved, 0, [w, h, w, h]).astype(np.float32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept_area = np.maximum(clipped[:, 2] - clipped[:, 0], 0) * np.maximum(clipped[:, 3] - clipped[:, 1], 0)
    keep = kept_area >= min_visible * np.maximum(area, 1e-12)
    out["boxes"] = clipped[keep]
    out["labels"] = np.asarray(target["labels"], np.int64).reshape(-1)[keep]
    if "masks" in target:
        masks = np.asarray(target["masks"])
        shifted = _shift_stack(masks[None], np.array([dy]), np.array([dx]), 0)[0] if masks.size else masks
        out["masks"] = shifted[keep]
    if "mask" in target:
        out["mask"] = _shift_stack(np.asarray(target["mask"])[None], np.array([dy]), np.array([dx]), 0)[0]
    return out


class RandomShift:
    """Translate each image of a detection batch by up to ``max_shift`` pixels; boxes and masks follow.

    ``RandomShift(max_shift=4, fill=0.0, min_visible=0.5)(images, targets, rng) -> (images, targets)``:
    ``images`` (B, C, H, W), ``targets`` a list of B dicts (boxes, labels, optional masks / mask) or an
    integer array of semantic masks (B, H, W), which is shifted like the images (fill 0)."""

    def __init__(self, max_shift: int = 4, fill: float = 0.0, min_visible: float = 0.5):
        if int(max_shift) != max_shift or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be a non-negative integer, got {max_shift!r}")
        if not 0.0 <= min_visible <= 1.0:
            raise ValueError(f"RandomShift: min_visible must be in [0, 1], got {min_visible!r}")
        self.max_shift, self.fill, self.min_visible = int(max_shift), fill, float(min_visible)

    def __call__(self, images, targets, rng: np.random.Generator):
        images = np.asarray(images)
        b, h, w = images.shape[0], images.shape[-2], images.shape[-1]
        d = rng.integers(-self.max_shift, self.max_shift + 1, size=(2, b))
        dy, dx = d[0], d[1]
        moved = _shift_stack(images, dy, dx, self.fill)
        if isinstance(targets, np.ndarray):   # semantic masks (B, H, W)
            return moved, _shift_stack(targets, dy, dx, 0)
        return moved, [shift_targets(t, int(x), int(y), (h, w), self.min_visible)
                       for t, x, y in zip(targets, dx, dy)]

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift}, fill={self.fill}, min_visible={self.min_visible})"
