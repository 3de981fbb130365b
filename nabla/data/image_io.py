"""Image files in and out (PNG, JPEG, ... through Pillow), and fitting an image of any size to a model's input.

torchvision.io's names: ``read_image(path, mode)`` gives a uint8 array (C, H, W), ``write_png(input,
filename)`` writes one.  Pillow is an optional extra (``pip install "nabla[vision]"``), imported here on
first use; the core needs NumPy alone.

``letterbox(image, size)`` fits an image into a (H, W) canvas without distorting it: scale by

    s = min(H / h, W / w)

(up or down), resample the (h, w) image to (round(h s), round(w s)) (bilinear; Pillow widens the filter
when it shrinks, so shrinking is antialiased), and paste it at the top-left of a canvas of ``fill``.  The
padding sits right and bottom only, so a box found on the canvas maps back to the original pixels by
dividing by the per-axis scales, ``x / sx`` and ``y / sy`` with ``sx = round(w s) / w`` and ``sy = round(h s)
/ h`` (``boxes_from_letterbox``), clipped to the original image.  An image already of size (H, W) is returned
as it is (scale 1).
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["require_pillow", "read_image", "write_png", "letterbox", "letterbox_size", "boxes_from_letterbox",
           "image_size", "PILLOW_HINT"]

PILLOW_HINT = 'pip install "nabla[vision]"'
MODES = {1: "L", 3: "RGB"}   # channels -> Pillow mode (grey, colour)


def require_pillow(what: str = "reading and writing image files"):
    """The ``PIL.Image`` module, or an ImportError that says what to install."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{what} needs Pillow, which is not installed: {PILLOW_HINT}") from None
    return Image


def _open(path, who: str):
    Image = require_pillow(f"{who} ({os.fspath(path)})")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{who}: no such image file {os.fspath(path)!r}")
    try:
        return Image.open(path)
    except (OSError, ValueError) as e:  # Pillow's UnidentifiedImageError is an OSError
        raise ValueError(f"{who}: {os.fspath(path)!r} is not an image Pillow can read ({e})") from None


def image_size(path, who: str = "image_size") -> tuple:
    """``(channels, height, width)`` of an image file, from its header alone (1 for grey, 3 for colour)."""
    with _open(path, who) as im:
        grey = im.mode in ("1", "L", "LA", "I", "I;16", "F") or (im.mode == "P" and _palette_is_grey(im))
        return (1 if grey else 3), im.height, im.width


def _palette_is_grey(im) -> bool:
    rgb = np.asarray(im.convert("RGB"))
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def read_image(path, channels: int | None = None, who: str = "read_image") -> np.ndarray:
    """The image file at ``path`` as uint8 (C, H, W): ``channels`` 1 (grey, ITU-R 601-2 luma as Pillow's
    "L"), 3 (RGB; transparency dropped) or None (1 for a grey file, else 3)."""
    if channels is None:
        channels = image_size(path, who)[0]
    if channels not in MODES:
        raise ValueError(f"{who}: channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    with _open(path, who) as im:
        try:
            arr = np.asarray(im.convert(MODES[channels]), dtype=np.uint8)
        except (OSError, ValueError) as e:  # a truncated or damaged file fails only when decoded
            raise ValueError(f"{who}: cannot decode {os.fspath(path)!r} ({e})") from None
    return arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))


def write_png(input, filename, exclusive: bool = True) -> None:
    """Write uint8 ``input`` (C, H, W) or (H, W), C 1 or 3, as a PNG.  ``exclusive``: fail with
    FileExistsError rather than replace an existing file (the file is created with O_EXCL)."""
    Image = require_pillow(f"writing {os.fspath(filename)}")
    arr = np.asarray(input)
    if arr.dtype != np.uint8:
        raise ValueError(f"write_png: expected a uint8 image, got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[0] in MODES:
        arr = arr[0] if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
    elif arr.ndim != 2:
        raise ValueError(f"write_png: expected an image of shape (C, H, W) with C 1 or 3, or (H, W), got {arr.shape}")
    with open(filename, "xb" if exclusive else "wb") as f:
        Image.fromarray(np.ascontiguousarray(arr)).save(f, format="PNG")


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """uint8 (C, h, w) -> uint8 (C, height, width), bilinear, each channel through Pillow's float mode."""
    Image = require_pillow("resizing an image")
    bilinear = getattr(Image, "Resampling", Image).BILINEAR   # Pillow < 9.1 has no Resampling
    planes = [np.asarray(Image.fromarray(c.astype(np.float32)).resize((width, height), bilinear))
              for c in image]  # float32 (h, w): Pillow's mode "F"; C is 1 or 3
    return np.clip(np.rint(np.stack(planes)), 0, 255).astype(np.uint8)


def letterbox_size(original_size, size) -> tuple:
    """``(new_h, new_w)``: the size ``letterbox`` resamples an (h, w) image to, to fit (H, W) = ``size``."""
    (h, w), (out_h, out_w) = original_size, size
    s = min(out_h / h, out_w / w)
    return min(out_h, max(1, round(h * s))), min(out_w, max(1, round(w * s)))


def letterbox(image: np.ndarray, size, fill: int = 0) -> tuple:
    """``(canvas uint8 (C, H, W), (sx, sy))``: ``image`` (C, h, w) scaled to fit (H, W) = ``size`` with its
    aspect ratio kept, at the top-left, the rest ``fill`` (see the module docstring)."""
    image = np.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"letterbox: expected an image of shape (C, h, w), got {image.shape}")
    out_h, out_w = (size, size) if np.ndim(size) == 0 else (int(size[0]), int(size[1]))
    c, h, w = image.shape
    if (h, w) == (out_h, out_w):
        return image, (1.0, 1.0)
    new_h, new_w = letterbox_size((h, w), (out_h, out_w))
    canvas = np.full((c, out_h, out_w), fill, dtype=np.uint8)
    canvas[:, :new_h, :new_w] = _resize(image, new_h, new_w)
    return canvas, (new_w / w, new_h / h)


def boxes_from_letterbox(boxes, scale, original_size) -> np.ndarray:
    """Boxes (n, 4) xyxy found on a ``letterbox`` canvas, in the original image's pixels: divided by the
    scales ``(sx, sy)``, clipped to ``original_size`` (h, w)."""
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4) / np.array([scale[0], scale[1]] * 2, np.float32)
    h, w = original_size
    return np.clip(b, 0, np.array([w, h, w, h], np.float32))
