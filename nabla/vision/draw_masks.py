"""Drawing a segmentation: class masks blended over an image (torchvision's ``draw_segmentation_masks``), one
colour per class (``label_colormap``), and a legend panel naming each colour.

``draw_segmentation_masks(image, masks, alpha, colors)`` blends each boolean mask's colour into the pixels it
covers,

    out = (1 - alpha) * image + alpha * colour        on the mask's pixels (later masks over earlier ones)
    out = image                                      elsewhere,

and returns uint8 RGB (3, H, W) (a grey image is repeated into three channels first).

``label_colormap(n)`` is PASCAL VOC's colour map, the one segmentation users know (class 1 dark red, 2 dark
green, 3 olive, ...): class k's bits are spread over the three channels, bit 3j + c of k setting bit 7 - j of
channel c, so neighbouring classes differ strongly and any number of classes (up to 256) gets distinct
colours.  Class 0 is black (VOC's background).
"""
from __future__ import annotations

import numpy as np

from ..data.image_io import require_pillow
from .draw import _font

__all__ = ["draw_segmentation_masks", "label_colormap", "draw_legend"]


def label_colormap(n: int) -> np.ndarray:
    """uint8 (n, 3): VOC's colour of each class 0..n-1 (see the module docstring)."""
    if not 0 < n <= 256:
        raise ValueError(f"label_colormap: n must be in 1..256, got {n}")
    k = np.arange(n)[:, None, None]                  # (n, 1, 1)
    j, c = np.arange(8)[None, :, None], np.arange(3)[None, None, :]
    bits = (k >> (3 * j + c)) & 1                    # (n, 8, 3): bit 3j + c of k
    return (bits << (7 - j)).sum(axis=1).astype(np.uint8)


def draw_segmentation_masks(image, masks, alpha: float = 0.6, colors=None) -> np.ndarray:
    """``image`` uint8 (C, H, W), C 1 or 3, with the boolean ``masks`` (N, H, W) (or one (H, W)) blended in,
    each in its colour (``colors``: N RGB triples; default ``label_colormap(N + 1)[1:]``): uint8 (3, H, W)."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"draw_segmentation_masks: expected a uint8 image (C, H, W) with C 1 or 3, got "
                         f"{img.dtype} {img.shape}")
    m = np.asarray(masks)
    m = m[None] if m.ndim == 2 else m
    if m.dtype != bool or m.ndim != 3 or m.shape[1:] != img.shape[1:]:
        raise ValueError(f"draw_segmentation_masks: expected boolean masks (N, {img.shape[1]}, {img.shape[2]}), got "
                         f"{m.dtype} {m.shape}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"draw_segmentation_masks: alpha must be in [0, 1], got {alpha}")
    cols = label_colormap(len(m) + 1)[1:] if colors is None else np.asarray(colors, np.float32).reshape(-1, 3)
    if len(cols) != len(m):
        raise ValueError(f"draw_segmentation_masks: got {len(cols)} colors for {len(m)} masks")
    out = (np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img).astype(np.float32)
    # the colour of the last mask covering each pixel (-1: none), then one blend over the whole image
    owner = np.where(m.any(axis=0), len(m) - 1 - np.argmax(m[::-1], axis=0), -1)
    covered = owner >= 0
    colour = np.asarray(cols, np.float32)[owner[covered]].T          # (3, covered pixels)
    out[:, covered] = (1 - alpha) * out[:, covered] + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def draw_legend(names, colors, height: int, row: int = 16) -> np.ndarray:
    """uint8 (3, max(height, rows), width): a black panel with one swatch and name per class, ``row`` pixels
    a line; a colour of None gets an outlined (empty) swatch, e.g. an uncoloured background."""
    Image = require_pillow("drawing a legend")
    from PIL import ImageDraw
    font = _font(max(8, row - 4))
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = max((probe.textbbox((0, 0), str(n), font=font)[2] for n in names), default=0)
    width = row + 8 + text_w + 8
    panel = Image.new("RGB", (width, max(height, row * len(names) + 8)))
    draw = ImageDraw.Draw(panel)
    for i, (name, colour) in enumerate(zip(names, colors)):
        y = 4 + i * row
        box = [4, y + 2, 4 + row - 5, y + row - 3]
        if colour is None:
            draw.rectangle(box, outline=(160, 160, 160))
        else:
            draw.rectangle(box, fill=tuple(int(v) for v in colour))
        draw.text((row + 6, y), str(name), fill=(255, 255, 255), font=font)
    return np.asarray(panel).transpose(2, 0, 1).copy()
