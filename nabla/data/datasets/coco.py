"""COCO-format detection sets: any instances JSON file a user brings, as a nabla detection data set.

``CocoDetection(annotations, image_dir=None, split="all")`` is named after torchvision's ``CocoDetection``
but returns its targets as nabla's scenes do (``MNISTScenes``): ``get_batch(indices)`` gives ``(images
float32 (B, C, H, W) in [0, 1], list of B dicts {"boxes": float32 (n, 4), "labels": int64 (n,)})``.

The parts of the file it reads (other keys are ignored)::

    images:      [{"id": int, "file_name": str, "width": int, "height": int}, ...]
    annotations: [{"id", "image_id": int, "category_id": int, "bbox": [x, y, w, h], "iscrowd": 0|1}, ...]
    categories:  [{"id": int, "name": str}, ...]

* Boxes: COCO's ``[x, y, w, h]`` becomes ``(x0, y0, x1, y1) = (x, y, x + w, y + h)`` in pixels, right and
  bottom edges exclusive (area ``w * h``), as every nabla detector takes them.  Crowd annotations
  (``iscrowd`` 1) are checked and then left out, as torchvision's detection references do.
* Labels: the category ids sorted ascending map to 0..K-1 (``category_ids[k]`` is label k's id);
  ``classes`` holds their names in that order.
* Images are read with Pillow (``pip install "nabla[vision]"``) from ``image_dir``; by default from the
  ``images`` folder beside the annotations file when there is one, else from the annotations file's own
  folder.  ``channels`` 1 (grey) or 3 (RGB); by default that of the first image file.
* Batches stack images, so all images must have one size ``(H, W)`` (``image_shape``), else a ValueError
  says so; ``size=(H, W)`` instead letterboxes every image to that size (``nabla.data.image_io.letterbox``:
  scaled to fit with its aspect ratio kept, padded right and bottom with 0) and scales its boxes alike.
* Every problem in the file is a one-line ``CocoFormatError`` (a ValueError) naming the file, the
  annotation (or image) id and the problem: a missing key, a bbox that is not four numbers, a zero or
  negative width or height, a box outside its image (beyond ``TOLERANCE`` pixels; within it the box is
  clipped), an unknown category id, an image id with no entry in ``images``, an image file that is missing.

Splits (a COCO file has none): ``"all"`` (the default) is every image; ``"train"`` is 90% of them and
``"valid"`` and ``"test"`` are both the fixed other tenth (``round(n / 10)``, at least 1): image ids sorted,
then ``np.random.default_rng(SPLIT_SEED = 0).permutation(n)``, its first tenth held out.  ``train=True``
means "train", ``train=False`` "test".  So ``nabla train MODEL --dataset coco:ANNOTATIONS.json`` trains on
90%, picks its best checkpoint on the held-out tenth and reports the same tenth at the end: a model
selection figure, not an independent test.  For one, keep a second file of test images and evaluate on its
tenth, or load it with ``split="all"``.

On the command line: ``--dataset coco:ANNOTATIONS.json[:IMAGE_DIR]`` (``coco_dataset_class``).
"""
from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ..dataloader import default_convert
from ..dataset import Dataset, _index_array, _normalize_batch_indices, _require_int_index
from ..image_io import image_size, letterbox, letterbox_size, read_image

__all__ = ["CocoDetection", "CocoFormatError", "coco_dataset_class", "is_coco_spec", "parse_coco_spec",
           "SPLIT_SEED", "VAL_FRACTION", "TOLERANCE"]

SPLIT_SEED = 0
VAL_FRACTION = 0.1
TOLERANCE = 0.01         # pixels a box may stick out of its image (float rounding in exported files)
CACHE_BYTES = 512 << 20  # decoded images are kept in memory when a split's images take at most this
REQUIRED = {"images": ("id", "file_name", "width", "height"),
            "annotations": ("id", "image_id", "category_id", "bbox"),
            "categories": ("id", "name")}
_ENTRY = {"images": "image", "annotations": "annotation", "categories": "category"}


class CocoFormatError(ValueError):
    """A COCO annotations file nabla cannot use: the message names the file, the id and the problem."""


# ---------------------------------------------------------------------------------------------- the file
def _read_json(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"CocoDetection: annotations file {path!r} not found") from None
    except json.JSONDecodeError as e:
        raise CocoFormatError(f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(data, dict):
        raise CocoFormatError(f"{path}: expected a JSON object with images, annotations and categories, got a "
                              f"{type(data).__name__}")
    for section in REQUIRED:
        if section not in data:
            raise CocoFormatError(f"{path}: missing key {section!r} (a COCO instances file has 'images', "
                                  "'annotations' and 'categories')")
        if not isinstance(data[section], list):
            raise CocoFormatError(f"{path}: {section!r} must be a list, got a {type(data[section]).__name__}")
    for section, keys in REQUIRED.items():
        _check_keys(path, data[section], section, keys)
    return data


def _check_keys(path, entries, section, keys) -> None:
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise CocoFormatError(f"{path}: {section}[{i}] is a {type(e).__name__}, not an object")
        missing = [k for k in keys if k not in e]
        if missing:
            who = f"{_ENTRY[section]} {e['id']!r}" if "id" in e else f"{section}[{i}] (it has no 'id')"
            raise CocoFormatError(f"{path}: {who}: missing key {missing[0]!r}")


def _int_ids(path, entries, section, key="id") -> np.ndarray:
    """The entries' ``key`` as int64, checked: integers, and (for ``id``) each once."""
    values = [e[key] for e in entries]
    bad = next((e for e, v in zip(entries, values) if isinstance(v, bool) or not isinstance(v, int)), None)
    if bad is not None:
        raise CocoFormatError(f"{path}: {_ENTRY[section]} {bad['id']!r}: {key} must be an integer, got {bad[key]!r}")
    ids = np.array(values, dtype=np.int64)
    if key == "id":
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise CocoFormatError(f"{path}: {_ENTRY[section]} id {int(uniq[counts > 1][0])} appears "
                                  f"{int(counts[counts > 1][0])} times")
    return ids


def _is_box(b) -> bool:
    return (isinstance(b, list) and len(b) == 4
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in b))


def _ann_error(path, ann, problem) -> CocoFormatError:
    return CocoFormatError(f"{path}: annotation {ann['id']!r}: {problem}")


def _first(mask: np.ndarray) -> int | None:
    return int(mask.argmax()) if mask.any() else None


def _fmt(values) -> str:
    return "[" + ", ".join(f"{float(v):g}" for v in values) + "]"


def _annotations(path, anns, image_ids, sizes, cat_ids) -> tuple:
    """``(image index int64 (m,), xyxy float32 (m, 4), label int64 (m,))`` of the non-crowd annotations,
    every annotation checked (see the module docstring); ``sizes``: (height, width) per image, int64 (N, 2)."""
    img, cat = _int_ids(path, anns, "annotations", "image_id"), _int_ids(path, anns, "annotations", "category_id")
    bad = next((a for a in anns if not _is_box(a["bbox"])), None)
    if bad is not None:
        raise _ann_error(path, bad, f"bbox must be four numbers [x, y, width, height], got {bad['bbox']!r}")
    xywh = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4)
    i = _first(~np.isfinite(xywh).all(1))
    if i is not None:
        raise _ann_error(path, anns[i], f"bbox {anns[i]['bbox']!r} holds a NaN or infinite value")
    i = _first(~np.isin(cat, cat_ids))
    if i is not None:
        known = ", ".join(map(str, cat_ids[:12])) + (", ..." if len(cat_ids) > 12 else "")
        raise _ann_error(path, anns[i], f"unknown category id {int(cat[i])} (the categories are {known})")
    order = np.argsort(image_ids)
    pos = np.searchsorted(image_ids, img, sorter=order)
    where = order[np.minimum(pos, len(order) - 1)] if len(order) else np.zeros_like(img)
    i = _first(~np.isin(img, image_ids))
    if i is not None:
        raise _ann_error(path, anns[i], f"image id {int(img[i])} has no entry in 'images'")
    i = _first((xywh[:, 2] <= 0) | (xywh[:, 3] <= 0))
    if i is not None:
        w, h = xywh[i, 2], xywh[i, 3]
        kind = "zero area" if min(w, h) == 0 else "a negative width or height"
        raise _ann_error(path, anns[i], f"bbox {_fmt(xywh[i])} has {kind} (width {w:g}, height {h:g}; COCO boxes "
                                        "are [x, y, width, height])")
    xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    hw = sizes[where].astype(np.float64)
    limit = np.stack([hw[:, 1], hw[:, 0], hw[:, 1], hw[:, 0]], axis=1)
    i = _first((xyxy[:, :2] < -TOLERANCE).any(1) | (xyxy[:, 2:] > limit[:, 2:] + TOLERANCE).any(1))
    if i is not None:
        raise _ann_error(path, anns[i], f"bbox {_fmt(xywh[i])} (x0, y0, x1, y1 = {_fmt(xyxy[i])[1:-1]}) lies "
                                        f"outside image {int(img[i])} ({int(hw[i, 1])}x{int(hw[i, 0])} pixels)")
    xyxy = np.clip(xyxy, 0, limit)
    crowd = np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool)
    labels = np.searchsorted(cat_ids, cat)   # cat_ids sorted: the contiguous index
    keep = ~crowd
    return where[keep].astype(np.int64), xyxy[keep].astype(np.float32), labels[keep].astype(np.int64)


def _split_indices(path, n: int, split: str) -> np.ndarray:
    """Which of the ``n`` images (sorted by id) form ``split`` (see the module docstring)."""
    if split == "all":
        return np.arange(n)
    if n < 2:
        raise ValueError(f"{path}: holding out a validation tenth needs at least 2 images, the file has {n} "
                         "(load it with split='all')")
    n_val = max(1, int(round(n * VAL_FRACTION)))
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    return np.sort(perm[n_val:] if split == "train" else perm[:n_val])


def _default_image_dir(annotations: str) -> str:
    folder = os.path.dirname(os.path.abspath(annotations))
    images = os.path.join(folder, "images")
    return images if os.path.isdir(images) else folder


# ---------------------------------------------------------------------------------------------- data set
class CocoDetection(Dataset):
    """A COCO-format detection set (see the module docstring).

    ``CocoDetection(annotations, image_dir=None, split=None, train=None, transform=None, size=None,
    channels=None, download=False, seed=0)``: ``split`` "all" (default), "train", "valid" or "test";
    ``train`` True/False means "train"/"test"; ``size`` (H, W) letterboxes images of several sizes;
    ``download`` and ``seed`` are accepted for the run layer and change nothing (the files are local, the
    split is fixed).  ``ds[i]`` is ``(image Tensor (C, H, W), target dict of Tensors)``.

    Attributes: ``ids`` (the split's image ids, ascending), ``file_names``, ``classes``, ``category_ids``,
    ``image_shape`` (H, W), ``channels``, ``sizes`` (images per split), ``image_dir``, ``annotations``.
    """

    name = "coco"
    description = "a COCO-format detection set: coco:ANNOTATIONS.json[:IMAGE_DIR]"
    task = "detection"
    tasks = ("detection",)
    normalize = None                  # images in [0, 1] as they are
    mirror_preserves_labels = False   # unknown for a user's classes: never mirror
    splits = ("all", "train", "valid", "test")
    annotations_file: str | None = None   # set by coco_dataset_class for a coco:... name
    image_dir_default: str | None = None
    folder_name = "coco"

    def __init__(self, annotations=None, image_dir=None, split: str | None = None, train: bool | None = None,
                 transform=None, size=None, channels: int | None = None, download: bool = False, seed: int = 0):
        annotations = annotations if annotations is not None else self.annotations_file
        if annotations is None:
            raise TypeError("CocoDetection: annotations (the path of a COCO instances JSON file) is required")
        if split is None:
            split = "all" if train is None else "train" if train else "test"
        if split not in self.splits:
            raise ValueError(f"CocoDetection: unknown split {split!r}; expected one of {list(self.splits)}")
        self.annotations, self.split, self.train = os.fspath(annotations), split, split == "train"
        image_dir = image_dir if image_dir is not None else self.image_dir_default
        self.image_dir = os.fspath(image_dir) if image_dir is not None else _default_image_dir(self.annotations)
        self.transform = transform
        self._load(size)
        self._set_channels(channels)

    # ------------------------------------------------------------------ reading the file
    def _load(self, size) -> None:
        path = self.annotations
        data = _read_json(path)
        cats = sorted(data["categories"], key=lambda c: c["id"] if isinstance(c["id"], int) else 0)
        self.category_ids = [int(i) for i in _int_ids(path, cats, "categories")]
        self.classes = [str(c["name"]) for c in cats]
        images = sorted(data["images"], key=lambda e: e["id"] if isinstance(e["id"], int) else 0)
        image_ids = _int_ids(path, images, "images")
        hw = np.stack([_int_ids(path, images, "images", "height"), _int_ids(path, images, "images", "width")],
                      axis=1).reshape(-1, 2)
        i = _first((hw <= 0).any(1))
        if i is not None:
            raise CocoFormatError(f"{path}: image {int(image_ids[i])}: width and height must be positive, got "
                                  f"{int(hw[i, 1])}x{int(hw[i, 0])}")
        where, boxes, labels = _annotations(path, data["annotations"], image_ids, hw,
                                            np.array(self.category_ids, np.int64))
        self.image_shape = self._shape(path, image_ids, hw, size)
        if size is not None:   # letterboxed: boxes scale with their image
            new = np.array([letterbox_size(tuple(s), self.image_shape) for s in hw], np.float64).reshape(-1, 2)
            scale = (new / hw)[where][:, ::-1]   # (sx, sy) per box
            boxes = (boxes * np.tile(scale, 2)).astype(np.float32)
        n = len(images)
        self.sizes = {s: len(_split_indices(path, n, s)) if n >= 2 or s == "all" else 0 for s in self.splits}
        keep = _split_indices(path, n, self.split)
        self.ids = [int(v) for v in image_ids[keep]]
        self.file_names = [str(images[k]["file_name"]) for k in keep]
        self._hw = hw[keep]
        self._group(where, boxes, labels, keep, n)
        self._check_files()
        self._cache = {} if len(keep) * int(np.prod(self.image_shape)) * 3 <= CACHE_BYTES else None

    @staticmethod
    def _shape(path, image_ids, hw, size) -> tuple:
        if size is not None:
            out = (int(size), int(size)) if np.ndim(size) == 0 else tuple(int(v) for v in size)
            if len(out) != 2 or min(out) < 1:
                raise ValueError(f"CocoDetection: size must be (height, width) of positive ints, got {size!r}")
            return out
        if len(hw) == 0:
            raise CocoFormatError(f"{path}: 'images' is empty")
        i = _first((hw != hw[0]).any(1))
        if i is not None:
            raise ValueError(f"{path}: images have different sizes (image {int(image_ids[0])} is "
                             f"{hw[0, 1]}x{hw[0, 0]}, image {int(image_ids[i])} is {hw[i, 1]}x{hw[i, 0]}); batches "
                             "need one size: resize the images, or load with CocoDetection(..., size=(H, W)) to "
                             "letterbox them")
        return int(hw[0, 0]), int(hw[0, 1])

    def _group(self, where, boxes, labels, keep, n) -> None:
        """The split's boxes and labels, grouped by image: ``_boxes[_offsets[i]:_offsets[i + 1]]``."""
        rank = np.full(n, -1, np.int64)
        rank[keep] = np.arange(len(keep))
        mine = rank[where] >= 0
        order = np.argsort(rank[where][mine], kind="stable")
        self._boxes, self._labels = boxes[mine][order], labels[mine][order]
        counts = np.bincount(rank[where][mine], minlength=len(keep))
        self._offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)

    def _check_files(self) -> None:
        for image_id, name in zip(self.ids, self.file_names):
            if not os.path.isfile(os.path.join(self.image_dir, name)):
                raise CocoFormatError(f"{self.annotations}: image {image_id}: file {name!r} not found in "
                                      f"{self.image_dir}")

    def _set_channels(self, channels) -> None:
        if channels is None:
            channels = image_size(os.path.join(self.image_dir, self.file_names[0]), "CocoDetection")[0] \
                if self.file_names else 3
        if channels not in (1, 3):
            raise ValueError(f"CocoDetection: channels must be 1 (grey) or 3 (RGB), got {channels!r}")
        self.channels = int(channels)

    # ------------------------------------------------------------------ samples
    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.ids)

    def _image(self, i: int) -> np.ndarray:
        """Image ``i`` of the split as uint8 (C, H, W), letterboxed when the set has a ``size``."""
        if self._cache is not None and i in self._cache:
            return self._cache[i]
        path = os.path.join(self.image_dir, self.file_names[i])
        img = read_image(path, self.channels, who="CocoDetection")
        if img.shape[1:] != tuple(self._hw[i]):
            raise CocoFormatError(f"{self.annotations}: image {self.ids[i]}: {self.file_names[i]!r} is "
                                  f"{img.shape[2]}x{img.shape[1]} pixels, but the file says {self._hw[i, 1]}x"
                                  f"{self._hw[i, 0]}")
        img = letterbox(img, self.image_shape)[0]
        if self._cache is not None:
            self._cache[i] = img
        return img

    def target(self, i: int) -> dict:
        """Image ``i``'s target: ``{"boxes": float32 (n, 4) xyxy, "labels": int64 (n,)}`` (copies)."""
        a, b = self._offsets[i], self._offsets[i + 1]
        return {"boxes": self._boxes[a:b].copy(), "labels": self._labels[a:b].copy()}

    def get_batch(self, indices) -> tuple:
        """``(images float32 (B, C, H, W) in [0, 1], list of B target dicts)``."""
        idx = _normalize_batch_indices(_index_array(indices).reshape(-1), len(self), "CocoDetection.get_batch")
        shape = (self.channels,) + tuple(self.image_shape)
        images = np.stack([self._image(int(i)) for i in idx]) if len(idx) else np.zeros((0,) + shape, np.uint8)
        x = images.astype(np.float32)
        x *= np.float32(1 / 255)
        if self.transform is not None:
            x = self.transform(x)
            x = x.data if isinstance(x, Tensor) else np.asarray(x)
        return x, [self.target(int(i)) for i in idx]

    def __getitem__(self, index):
        _require_int_index(index, "CocoDetection")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"CocoDetection: index {index} is out of range for a dataset of size {n}")
        x, (t,) = self.get_batch(np.array([index]))
        return from_numpy(x[0]), default_convert(t)

    def __repr__(self) -> str:
        return (f"CocoDetection({self.annotations!r}, split={self.split!r}, samples={len(self)}, "
                f"image_shape={tuple(self.image_shape)}, channels={self.channels}, classes={len(self.classes)})")


# ---------------------------------------------------------------------------------------------- coco:... names
_SPEC = re.compile(r"coco:(?P<ann>.+?\.json)(?::(?P<dir>.+))?", re.IGNORECASE | re.DOTALL)


def is_coco_spec(name) -> bool:
    """Whether a data-set name is ``coco:...``."""
    return isinstance(name, str) and name.strip().lower().startswith("coco:")


def parse_coco_spec(name: str) -> tuple:
    """``coco:ANNOTATIONS.json[:IMAGE_DIR]`` -> ``(annotations, image_dir or None)``, both absolute."""
    m = _SPEC.fullmatch(name.strip())
    if m is None:
        raise ValueError(f"data set {name!r}: expected coco:ANNOTATIONS.json[:IMAGE_DIR] (the path of a COCO "
                         "instances file, ending in .json, then optionally the folder of its images)")
    ann = os.path.abspath(os.path.expanduser(m["ann"]))
    image_dir = os.path.abspath(os.path.expanduser(m["dir"])) if m["dir"] else None
    return ann, image_dir


def coco_dataset_class(name: str):
    """The data-set class a ``coco:ANNOTATIONS.json[:IMAGE_DIR]`` name stands for: ``CocoDetection`` with the
    file (and folder) filled in, its ``name`` the spec with absolute paths (what a checkpoint records, so
    ``nabla eval`` finds the files from any folder) and ``folder_name`` a slug for run folders."""
    ann, image_dir = parse_coco_spec(name)
    if not os.path.isfile(ann):
        raise ValueError(f"data set {name!r}: annotations file {ann!r} not found")
    if image_dir is not None and not os.path.isdir(image_dir):
        raise ValueError(f"data set {name!r}: image folder {image_dir!r} not found")
    return _spec_class(ann, image_dir)


@lru_cache(maxsize=None)
def _spec_class(ann: str, image_dir: str | None):
    spec = f"coco:{ann}" + (f":{image_dir}" if image_dir else "")
    path = Path(ann)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"coco-{path.parent.name}-{path.stem}").strip("-.")
    return type("CocoDetection", (CocoDetection,), {
        "__module__": __name__, "__doc__": CocoDetection.__doc__, "name": spec,
        "description": f"COCO-format detection set {ann}", "annotations_file": ann,
        "image_dir_default": image_dir, "folder_name": slug})
