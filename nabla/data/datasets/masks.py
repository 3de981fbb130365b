"""A folder of images and a folder of same-named PNG masks, as a segmentation data set (VOC's layout).

``SegmentationFolder(image_dir, mask_dir)``: every image file in ``image_dir`` (png, jpg, jpeg, bmp, gif, tif,
tiff) has its mask ``mask_dir/<same stem>.png``, a single-channel PNG (mode L, or P with the palette indices
as the values, as VOC's masks are) whose pixels are class indices: 0, 1, ... K-1, and 255 for pixels to
ignore (VOC's object borders; the loss and the scores skip them).  ``get_batch(indices)`` gives ``(images
float32 (B, C, H, W) in [0, 1], masks int64 (B, H, W))``, as the MNIST scenes do with
``target_type="segmentation"``, so the segmentation task trains on either.

* K, the number of mask classes: ``num_classes`` when given (the model's), else the largest index found in
  any mask of the folder, plus 1 (every split of a folder has the same K).  ``mask_classes`` names them,
  ``classes`` when given, else "background", "1", "2", ...: index 0 is the background, as in VOC and the
  scenes (``miou_digits`` averages the other classes).
* One-line errors naming the file: an image without its mask, a mask of another size than its image, a mask
  that is not single-channel, a class index K or above (with ``num_classes`` given, or ``check_num_classes``:
  ``nabla eval`` asks whether a folder fits a trained model), images of different sizes (batches need one).
* Every image and mask is read once, when the data set is made (bring-your-own folders are small: a
  thousand 256x256 images are 200 MB as uint8).  Pillow reads them: ``pip install "nabla[vision]"``.
* Splits as ``CocoDetection``'s: ``"all"`` (default) every image; ``"train"`` 90% of them, ``"valid"`` and
  ``"test"`` the same other tenth (file names sorted, ``default_rng(SPLIT_SEED = 0).permutation``).

On the command line: ``--dataset masks:IMAGE_DIR:MASK_DIR`` (``masks_dataset_class``).
"""
from __future__ import annotations

import os
import re
from functools import lru_cache

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ..dataset import Dataset, _index_array, _normalize_batch_indices, _require_int_index
from ..image_io import read_image, require_pillow

__all__ = ["SegmentationFolder", "masks_dataset_class", "is_masks_spec", "parse_masks_spec", "IGNORE_INDEX",
           "IMAGE_EXTENSIONS", "SPLIT_SEED", "VAL_FRACTION"]

IGNORE_INDEX = 255
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
SPLIT_SEED = 0
VAL_FRACTION = 0.1
_SINGLE_CHANNEL = ("L", "P", "I", "I;16", "1")


def _read_mask(path: str) -> np.ndarray:
    """A mask PNG's class indices as uint8/int (H, W): mode L or P (palette indices), else a ValueError."""
    Image = require_pillow(f"SegmentationFolder (reading {path})")
    try:
        with Image.open(path) as im:
            if im.mode not in _SINGLE_CHANNEL:
                raise ValueError(f"SegmentationFolder: mask {path!r} has mode {im.mode} ({len(im.getbands())} "
                                 "channels); a mask is a single-channel PNG of class indices (mode L or P)")
            return np.asarray(im).astype(np.int64)   # mode P: the palette indices themselves
    except OSError as e:
        raise ValueError(f"SegmentationFolder: mask {path!r} is not an image Pillow can read ({e})") from None


def _split_indices(n: int, split: str, where: str) -> np.ndarray:
    if split == "all":
        return np.arange(n)
    if n < 2:
        raise ValueError(f"SegmentationFolder: holding out a validation tenth needs at least 2 images, {where} has "
                         f"{n} (load it with split='all')")
    n_val = max(1, int(round(n * VAL_FRACTION)))
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    return np.sort(perm[n_val:] if split == "train" else perm[:n_val])


class SegmentationFolder(Dataset):
    """Images with same-named PNG masks of class indices (see the module docstring).

    ``SegmentationFolder(image_dir, mask_dir, split=None, train=None, transform=None, num_classes=None,
    classes=None, channels=None, download=False, seed=0, target_type="segmentation")``: ``split`` "all"
    (default), "train", "valid" or "test"; ``channels`` 1 or 3 (default: the first image's); ``download``,
    ``seed`` and ``target_type`` are accepted for the run layer (the files are local, the split fixed, the
    target a mask).  ``ds[i]`` is ``(image Tensor (C, H, W), mask Tensor int64 (H, W))``.
    """

    name = "masks"
    description = "a folder of images with same-named PNG masks of class indices: masks:IMAGE_DIR:MASK_DIR"
    task = "segmentation"
    tasks = ("segmentation",)
    target_types = ("segmentation",)
    normalize = None
    mirror_preserves_labels = False      # unknown for a user's classes: never mirror
    splits = ("all", "train", "valid", "test")
    classes: tuple = ()
    image_dir_default: str | None = None  # set by masks_dataset_class for a masks:... name
    mask_dir_default: str | None = None
    folder_name = "masks"

    def __init__(self, image_dir=None, mask_dir=None, split: str | None = None, train: bool | None = None,
                 transform=None, num_classes: int | None = None, classes=None, channels: int | None = None,
                 download: bool = False, seed: int = 0, target_type: str = "segmentation"):
        image_dir = image_dir if image_dir is not None else self.image_dir_default
        mask_dir = mask_dir if mask_dir is not None else self.mask_dir_default
        if image_dir is None or mask_dir is None:
            raise TypeError("SegmentationFolder: image_dir and mask_dir (the two folders) are required")
        if split is None:
            split = "all" if train is None else "train" if train else "test"
        if split not in self.splits:
            raise ValueError(f"SegmentationFolder: unknown split {split!r}; expected one of {list(self.splits)}")
        if target_type not in self.target_types:
            raise ValueError(f"SegmentationFolder: target_type must be 'segmentation', got {target_type!r}")
        self.image_dir, self.mask_dir = os.fspath(image_dir), os.fspath(mask_dir)
        self.split, self.train, self.transform, self.target_type = split, split == "train", transform, target_type
        for what, d in (("image", self.image_dir), ("mask", self.mask_dir)):
            if not os.path.isdir(d):
                raise FileNotFoundError(f"SegmentationFolder: {what} folder {d!r} not found")
        names = self._pairs()
        images, masks = self._read(names, channels)
        self.num_classes = self._classes(masks, names, num_classes)
        self.mask_classes = [str(c) for c in classes] if classes is not None else \
            ["background"] + [str(i) for i in range(1, self.num_classes)]
        if len(self.mask_classes) != self.num_classes:
            raise ValueError(f"SegmentationFolder: {len(self.mask_classes)} class names for {self.num_classes} "
                             "mask classes")
        self.classes = tuple(self.mask_classes[1:])   # the foreground classes (mask index 1 + k), as the scenes'
        self.sizes = {s: len(_split_indices(len(names), s, self.image_dir)) if len(names) >= 2 or s == "all" else 0
                      for s in self.splits}
        keep = _split_indices(len(names), split, self.image_dir)
        self.file_names = [names[i] for i in keep]
        self._images, self._masks = images[keep], masks[keep]

    # ------------------------------------------------------------------ reading the folders
    def _pairs(self) -> list:
        """The image file names (sorted), each checked to have its mask."""
        names = sorted(f for f in os.listdir(self.image_dir)
                       if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(self.image_dir, f)))
        if not names:
            raise ValueError(f"SegmentationFolder: no image files ({', '.join(IMAGE_EXTENSIONS)}) in "
                             f"{self.image_dir!r}")
        for f in names:
            mask = self.mask_path(f)
            if not os.path.isfile(mask):
                raise FileNotFoundError(f"SegmentationFolder: image {os.path.join(self.image_dir, f)!r} has no mask: "
                                        f"expected {mask!r}")
        return names

    def mask_path(self, image_name: str) -> str:
        return os.path.join(self.mask_dir, os.path.splitext(image_name)[0] + ".png")

    def _read(self, names, channels) -> tuple:
        first = os.path.join(self.image_dir, names[0])
        images = [read_image(first, channels, who="SegmentationFolder")]
        self.channels = images[0].shape[0]
        images += [read_image(os.path.join(self.image_dir, f), self.channels, who="SegmentationFolder")
                   for f in names[1:]]
        self.image_shape = images[0].shape[1:]
        masks = []
        for f, img in zip(names, images):
            path = os.path.join(self.image_dir, f)
            if img.shape[1:] != self.image_shape:
                raise ValueError(f"SegmentationFolder: image {path!r} is {img.shape[2]}x{img.shape[1]} pixels but "
                                 f"{first!r} is {self.image_shape[1]}x{self.image_shape[0]}; batches need one size: "
                                 "resize the images (and masks) to one size")
            mask = _read_mask(self.mask_path(f))
            if mask.shape != img.shape[1:]:
                raise ValueError(f"SegmentationFolder: mask {self.mask_path(f)!r} is {mask.shape[1]}x{mask.shape[0]} "
                                 f"pixels but its image {path!r} is {img.shape[2]}x{img.shape[1]}")
            masks.append(mask)
        masks = np.stack(masks)
        if masks.size and masks.min() >= 0 and masks.max() <= 255:   # L and P masks: a byte a pixel in memory
            masks = masks.astype(np.uint8)
        return np.stack(images), masks

    def _classes(self, masks, names, num_classes) -> int:
        labelled = masks[masks != IGNORE_INDEX]
        if labelled.size and labelled.min() < 0:
            i = int(np.flatnonzero((masks < 0).reshape(len(names), -1).any(1))[0])
            raise ValueError(f"SegmentationFolder: mask {self.mask_path(names[i])!r} holds a negative class index")
        if num_classes is None:
            return max(int(labelled.max()) + 1 if labelled.size else 1, 2)
        self._check_below(masks, names, int(num_classes))
        return int(num_classes)

    def _check_below(self, masks, names, num_classes: int) -> None:
        bad = ((masks >= num_classes) & (masks != IGNORE_INDEX)).reshape(len(masks), -1)
        hit = np.flatnonzero(bad.any(1))
        if hit.size:
            i = int(hit[0])
            value = int(masks[i][(masks[i] >= num_classes) & (masks[i] != IGNORE_INDEX)].max())
            raise ValueError(f"SegmentationFolder: mask {self.mask_path(names[i])!r} holds class index {value}, above "
                             f"the model's {num_classes} classes (0-{num_classes - 1}; {IGNORE_INDEX} marks ignored "
                             "pixels)")

    def check_num_classes(self, num_classes: int) -> None:
        """A one-line ValueError naming the split's first mask with a class index of ``num_classes`` or above
        (255 excepted): whether a model of ``num_classes`` classes can be scored on this folder."""
        self._check_below(self._masks, self.file_names, int(num_classes))

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return len(self.file_names)

    def get_batch(self, indices) -> tuple:
        """``(images float32 (B, C, H, W) in [0, 1], masks int64 (B, H, W))`` (255: ignored pixels)."""
        idx = _normalize_batch_indices(_index_array(indices).reshape(-1), len(self), "SegmentationFolder.get_batch")
        x = self._images[idx].astype(np.float32)
        x *= np.float32(1 / 255)
        if self.transform is not None:
            x = self.transform(x)
            x = x.data if isinstance(x, Tensor) else np.asarray(x)
        return x, self._masks[idx].astype(np.int64)

    def __getitem__(self, index):
        _require_int_index(index, "SegmentationFolder")
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"SegmentationFolder: index {index} is out of range for a dataset of size {n}")
        x, m = self.get_batch(np.array([index]))
        return from_numpy(x[0]), from_numpy(m[0])

    def __repr__(self) -> str:
        return (f"SegmentationFolder({self.image_dir!r}, {self.mask_dir!r}, split={self.split!r}, samples={len(self)}, "
                f"image_shape={tuple(self.image_shape)}, channels={self.channels}, classes={self.num_classes})")


# ---------------------------------------------------------------------------------------------- masks:... names
def is_masks_spec(name) -> bool:
    """Whether a data-set name is ``masks:...``."""
    return isinstance(name, str) and name.strip().lower().startswith("masks:")


def parse_masks_spec(name: str) -> tuple:
    """``masks:IMAGE_DIR:MASK_DIR`` -> ``(image_dir, mask_dir)``, both absolute (a folder name holding ':' is
    split at the first ':' whose two sides are both existing folders)."""
    body = name.strip()[len("masks:"):]
    cuts = [m.start() for m in re.finditer(":", body)]
    splits = [(body[:c], body[c + 1:]) for c in cuts]
    both = [s for s in splits if all(os.path.isdir(os.path.expanduser(p)) for p in s)]
    if not splits or not all(splits[0]):
        raise ValueError(f"data set {name!r}: expected masks:IMAGE_DIR:MASK_DIR (the folder of images, then the folder "
                         "of their same-named PNG masks)")
    image_dir, mask_dir = both[0] if both else splits[0]
    return tuple(os.path.abspath(os.path.expanduser(p)) for p in (image_dir, mask_dir))


def masks_dataset_class(name: str):
    """The data-set class a ``masks:IMAGE_DIR:MASK_DIR`` name stands for: ``SegmentationFolder`` with the folders
    filled in, its ``name`` the spec with absolute paths (what a checkpoint records) and ``folder_name`` a slug
    for run folders."""
    image_dir, mask_dir = parse_masks_spec(name)
    for what, d in (("image", image_dir), ("mask", mask_dir)):
        if not os.path.isdir(d):
            raise ValueError(f"data set {name!r}: {what} folder {d!r} not found")
    return _spec_class(image_dir, mask_dir)


@lru_cache(maxsize=None)
def _spec_class(image_dir: str, mask_dir: str):
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"masks-{os.path.basename(image_dir)}").strip("-.")
    return type("SegmentationFolder", (SegmentationFolder,), {
        "__module__": __name__, "__doc__": SegmentationFolder.__doc__, "name": f"masks:{image_dir}:{mask_dir}",
        "description": f"images {image_dir} with masks {mask_dir}", "image_dir_default": image_dir,
        "mask_dir_default": mask_dir, "folder_name": slug})
