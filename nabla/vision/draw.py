"""Boxes drawn on an image, as torchvision.utils.draw_bounding_boxes: outlines, and a label on a filled tab.

``draw_bounding_boxes(image, boxes, labels=None, colors=None, width=1, font_size=None)`` takes a uint8 image
(C, H, W) (C 1 or 3) and boxes (N, 4) ``(x0, y0, x1, y1)`` in pixels, right and bottom edges exclusive, and
returns a new uint8 RGB image (3, H, W) (a grey image is drawn on in colour).  A box is outlined on the
pixels it covers, ``x0 .. x1 - 1`` by ``y0 .. y1 - 1``; its label sits on a tab of the box's colour above the
box, or inside it at the top when the box touches the image's top.  ``colors``: one colour for all, or one
per box (names Pillow knows, or (r, g, b)); default: a colour per distinct label text.  Pillow draws it
(``pip install "nabla[vision]"``).
"""
from __future__ import annotations

import numpy as np

from ..data.image_io import require_pillow

__all__ = ["draw_bounding_boxes", "PALETTE"]

# ten distinct colours that read on black and on photographs (Tableau's 10)
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (188, 189, 34), (23, 190, 207), (255, 255, 255)]


def _font(size):
    from PIL import ImageFont
    if size is None:
        return ImageFont.load_default()
    try:
        return ImageFont.load_default(size=size)   # Pillow >= 10.1: the built-in font, scalable
    except TypeError:
        return ImageFont.load_default()


def _colors(colors, labels, n) -> list:
    if colors is None:
        keys = labels if labels is not None else [""] * n
        order = {k: i for i, k in enumerate(dict.fromkeys(keys))}
        return [PALETTE[order[k] % len(PALETTE)] for k in keys]
    if isinstance(colors, (str, tuple)):
        return [colors] * n
    if len(colors) != n:
        raise ValueError(f"draw_bounding_boxes: got {len(colors)} colors for {n} boxes")
    return list(colors)


def draw_bounding_boxes(image, boxes, labels=None, colors=None, width: int = 1, font_size: int | None = None):
    """``image`` uint8 (C, H, W) with ``boxes`` (N, 4) xyxy outlined and ``labels`` (N strings) written:
    uint8 (3, H, W) (see the module docstring)."""
    Image = require_pillow("drawing boxes")
    from PIL import ImageDraw
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[0] not in (1, 3):
        raise ValueError(f"draw_bounding_boxes: expected a uint8 image (C, H, W) with C 1 or 3, got {img.dtype} "
                         f"{img.shape}")
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if labels is not None and len(labels) != len(b):
        raise ValueError(f"draw_bounding_boxes: got {len(labels)} labels for {len(b)} boxes")
    if (b[:, 2:] < b[:, :2]).any():
        raise ValueError("draw_bounding_boxes: boxes must have x1 >= x0 and y1 >= y0 (xyxy)")
    rgb = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img
    canvas = Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0)))
    draw, font = ImageDraw.Draw(canvas), _font(font_size)
    for k, (box, color) in enumerate(zip(b, _colors(colors, labels, len(b)))):
        x0, y0, x1, y1 = box
        draw.rectangle([x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)], outline=color, width=width)
        if labels is not None and labels[k]:
            left, top, right, bottom = draw.textbbox((0, 0), str(labels[k]), font=font)
            tw, th = right - left + 2, bottom - top + 2
            ty = y0 - th if y0 - th >= 0 else y0          # above the box, else inside its top edge
            draw.rectangle([x0, ty, x0 + tw, ty + th], fill=color)
            draw.text((x0 + 1 - left, ty + 1 - top), str(labels[k]), fill=(0, 0, 0), font=font)
    return np.asarray(canvas).transpose(2, 0, 1).copy()
