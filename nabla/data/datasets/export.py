"""A detection data set's split written in standard formats, for other tools (and back into nabla).

``export_dataset(name, "coco", out)`` writes ``out/images/000000.png ...`` and ``out/annotations.json``, a COCO
instances file: ``images`` (id 1..N, file_name, width, height), ``annotations`` (id 1..M, image_id,
category_id, ``bbox`` [x, y, width, height] = (x0, y0, x1 - x0, y1 - y0) in pixels, ``area`` = width *
height, ``iscrowd`` 0) and ``categories`` (id k + 1 for label k, its name from the set's ``classes``: "0".."9"
for the digit scenes).  ``coco:out/annotations.json`` loads it again (``CocoDetection``; the ``images`` folder
beside the file is its default image folder).

``export_dataset(name, "masks", out)`` writes same-named PNGs in ``out/images/`` and ``out/masks/``, a mask's
pixel values the class indices of the set's semantic mask (0 background, 1 + label: 1 + digit for scenes).

Scene ``i`` of the split is file ``{i:06d}.png`` (image id ``i + 1``).  Images are grey or RGB 8-bit PNGs:
the set's float pixels in [0, 1] times 255, rounded (exact for images that came from 8-bit pixels).  The
output folder must not exist or be empty: nothing is ever overwritten.  The files are written into a
hidden folder beside it and moved into place at the end, so a failed export leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil

import numpy as np

from ..image_io import require_pillow, write_png

__all__ = ["FORMATS", "export_dataset", "export_coco", "export_masks", "check_export_folder", "ExportRequestError"]

CHUNK = 100   # images fetched per get_batch


class ExportRequestError(ValueError):
    """An export that cannot start: a data set without boxes, an unknown format or split, a bad count."""


def check_export_folder(out) -> None:
    """FileExistsError unless ``out`` is missing or an empty folder (an export never overwrites)."""
    out = os.fspath(out)
    if os.path.isfile(out):
        raise FileExistsError(f"{out!r} is a file, not a folder")
    if os.path.isdir(out) and os.listdir(out):
        raise FileExistsError(f"{out!r} is not empty; an export never overwrites: name a new or empty folder")


def _pixels(x) -> np.ndarray:
    """Float images (B, C, H, W) in [0, 1] as uint8."""
    return np.clip(np.rint(np.asarray(x, np.float64) * 255), 0, 255).astype(np.uint8)


def _batches(dataset, count: int):
    """``(first index, uint8 images (B, C, H, W), targets)`` over the first ``count`` items."""
    for start in range(0, count, CHUNK):
        x, targets = dataset.get_batch(np.arange(start, min(count, start + CHUNK)))
        yield start, _pixels(x), targets


def _coco_annotations(boxes, labels, image_id: int, first_id: int) -> list:
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    wh = b[:, 2:] - b[:, :2]
    return [{"id": first_id + k, "image_id": image_id, "category_id": int(label) + 1,
             "bbox": [float(b[k, 0]), float(b[k, 1]), float(wh[k, 0]), float(wh[k, 1])],
             "area": float(wh[k, 0] * wh[k, 1]), "iscrowd": 0}
            for k, label in enumerate(np.asarray(labels).reshape(-1))]


def export_coco(dataset, folder, count: int, description: str = "") -> dict:
    """Write the first ``count`` items of ``dataset`` into ``folder`` (which exists) as a COCO instances
    file and PNG images (see the module docstring); ``{"images": N, "annotations": M}``."""
    os.makedirs(os.path.join(folder, "images"))
    images, annotations = [], []
    for start, pixels, targets in _batches(dataset, count):
        for j, (img, t) in enumerate(zip(pixels, targets)):
            name = f"{start + j:06d}.png"
            write_png(img, os.path.join(folder, "images", name))
            images.append({"id": start + j + 1, "file_name": name, "width": int(img.shape[2]),
                           "height": int(img.shape[1])})
            annotations += _coco_annotations(t["boxes"], t["labels"], start + j + 1, len(annotations) + 1)
    doc = {"info": {"description": description, "version": "1.0"}, "licenses": [], "images": images,
           "annotations": annotations,
           "categories": [{"id": k + 1, "name": str(c), "supercategory": "none"}
                          for k, c in enumerate(dataset.classes)]}
    with open(os.path.join(folder, "annotations.json"), "x", encoding="utf-8") as f:
        json.dump(doc, f)
    return {"images": len(images), "annotations": len(annotations)}


def export_masks(dataset, folder, count: int, description: str = "") -> dict:
    """Write the first ``count`` items of ``dataset`` into ``folder`` as ``images/NNNNNN.png`` and
    ``masks/NNNNNN.png`` (class index per pixel); ``{"images": N}``."""
    for sub in ("images", "masks"):
        os.makedirs(os.path.join(folder, sub))
    n = 0
    for start, pixels, targets in _batches(dataset, count):
        for j, (img, t) in enumerate(zip(pixels, targets)):
            if not isinstance(t, dict) or "mask" not in t:
                raise ValueError(f"{description or type(dataset).__name__} has no semantic masks to export")
            name = f"{start + j:06d}.png"
            write_png(img, os.path.join(folder, "images", name))
            write_png(np.asarray(t["mask"]).astype(np.uint8), os.path.join(folder, "masks", name))
            n += 1
    return {"images": n}


FORMATS = {"coco": export_coco, "masks": export_masks}


def _fits(cls) -> bool:
    return "detection" in getattr(cls, "tasks", (getattr(cls, "task", None),))


def export_dataset(name: str, format: str, out, split: str = "test", count: int | None = None,
                   download: bool = True) -> dict:
    """Export ``count`` (default: all) items of data set ``name``'s ``split`` to folder ``out`` in ``format``
    ("coco" or "masks"); ``{"images", "annotations" (coco), "folder", "dataset", "split"}``."""
    from . import get_dataset, get_dataset_class
    if format not in FORMATS:
        raise ExportRequestError(f"unknown export format {format!r}; formats: {', '.join(FORMATS)}")
    try:
        cls = get_dataset_class(name)
    except ValueError as e:   # an unknown name (the message lists the valid ones)
        raise ExportRequestError(str(e)) from None
    if not _fits(cls):
        raise ExportRequestError(f"data set {cls.name!r} ({getattr(cls, 'task', '?')}) has no boxes to export: "
                                 "exports are of detection data sets")
    if format == "masks" and "segmentation" not in getattr(cls, "tasks", ()):
        raise ExportRequestError(f"data set {cls.name!r} has no per-pixel masks to export (the masks format needs a "
                                 "data set of detection and segmentation)")
    splits = getattr(cls, "splits", ("train", "test"))
    if split not in splits:
        raise ExportRequestError(f"data set {cls.name!r} has no split {split!r}; its splits: {', '.join(splits)}")
    check_export_folder(out)
    require_pillow("exporting images")
    dataset = get_dataset(name, split=split, download=download)
    n = len(dataset) if count is None else int(count)
    if not 1 <= n <= len(dataset):
        raise ExportRequestError(f"cannot export {n} images: the {split} split of {cls.name} has "
                                 f"{len(dataset):,}")
    out = os.path.abspath(os.fspath(out))
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{os.path.basename(out)}.partial-{os.getpid()}-{secrets.token_hex(4)}")
    os.makedirs(tmp)   # not mkdtemp: the export is an ordinary folder (the umask's permissions, not 0o700)
    try:
        written = FORMATS[format](dataset, tmp, n, description=f"{cls.name} {split} split, items 0-{n - 1}")
        if os.path.isdir(out):
            os.rmdir(out)                   # empty (checked); a folder filled meanwhile makes this fail
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {**written, "folder": out, "dataset": cls.name, "split": split}

