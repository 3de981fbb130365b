"""Image grids: ``make_grid`` and ``save_image`` with torchvision.utils' names and arguments.

A batch of images (B, C, H, W) becomes one picture: ``nrow`` images a row, ``padding`` pixels of
``pad_value`` between and around them.  Samples of the generative models, reconstructions and
inpaintings are shown this way (``nabla sample CKPT --out grid.png``).
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..autograd.tensor import Tensor


def _array(images) -> np.ndarray:
    arr = images.data if isinstance(images, Tensor) else np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None, None]
    elif arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"make_grid: expected images of shape (B, C, H, W) with C 1 or 3, (C, H, W) or (H, W), "
                         f"got {arr.shape}")
    return arr.astype(np.float32, copy=False)


def _normalized(arr: np.ndarray, value_range, scale_each: bool) -> np.ndarray:
    """Each image (``scale_each``) or the whole batch shifted and scaled from ``value_range`` (default: its
    own min and max) to [0, 1]."""
    def scale(a, lo, hi):
        return np.clip((a - lo) / max(hi - lo, 1e-5), 0.0, 1.0)
    if value_range is not None:
        lo, hi = value_range
        return scale(arr, float(lo), float(hi))
    if scale_each:
        lo = arr.min(axis=(1, 2, 3), keepdims=True)
        hi = arr.max(axis=(1, 2, 3), keepdims=True)
        return np.clip((arr - lo) / np.maximum(hi - lo, 1e-5), 0.0, 1.0)
    return scale(arr, float(arr.min()), float(arr.max()))


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False, value_range=None,
              scale_each: bool = False, pad_value: float = 0.0) -> np.ndarray:
    """The images of ``tensor`` (B, C, H, W) laid out ``nrow`` to a row: an array (C, H', W') with

        H' = rows * (H + padding) + padding,  W' = min(nrow, B) * (W + padding) + padding,
        rows = ceil(B / nrow).

    ``normalize``: map ``value_range`` (default: the batch's min and max) to [0, 1] first.  One image is
    returned as it is (no padding), as torchvision does."""
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"make_grid: nrow must be a positive integer, got {nrow!r}")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"make_grid: padding must be a non-negative integer, got {padding!r}")
    arr = _array(tensor)
    if normalize:
        arr = _normalized(arr, value_range, scale_each)
    b, c, h, w = arr.shape
    if b == 1:
        return arr[0].copy()
    cols, rows = min(nrow, b), int(math.ceil(b / nrow))
    cell_h, cell_w = h + padding, w + padding
    grid = np.full((c, rows * cell_h + padding, cols * cell_w + padding), pad_value, np.float32)
    # one vectorised placement: the batch as (rows, cols) cells, empty cells left at pad_value
    cells = np.full((rows * cols, c, h, w), pad_value, np.float32)
    cells[:b] = arr
    cells = cells.reshape(rows, cols, c, h, w).transpose(2, 0, 3, 1, 4)            # (c, rows, h, cols, w)
    view = grid[:, padding:, padding:].reshape(c, rows, cell_h, cols, cell_w)[:, :, :h, :, :w]
    view[...] = cells
    return grid


def to_uint8(image01) -> np.ndarray:
    """An image in [0, 1] as uint8 0-255 (rounded, clipped)."""
    return (np.clip(np.asarray(image01, np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def save_image(tensor, fp, exclusive: bool = False, **kwargs) -> str:
    """Write ``make_grid(tensor, **kwargs)`` (values in [0, 1]) as a PNG at ``fp``; returns the path.
    ``exclusive``: fail with FileExistsError instead of replacing a file.  Needs Pillow
    (``pip install "nabla[vision]"``)."""
    from ..data.image_io import write_png
    folder = os.path.dirname(os.fspath(fp))
    if folder:
        os.makedirs(folder, exist_ok=True)
    write_png(to_uint8(make_grid(tensor, **kwargs)), fp, exclusive=exclusive)
    return os.fspath(fp)
