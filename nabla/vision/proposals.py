"""Class-agnostic region proposals: selective search (R-CNN's proposals) and sliding windows.

Selective search (Uijlings, van de Sande, Gevers & Smeulders, IJCV 2013) over-segments the image with
Felzenszwalb's graph method, then greedily merges the two most similar neighbouring regions (similarity
= colour + texture + size + fill terms) until one region is left; every region of that hierarchy gives a
box.  R-CNN (Girshick et al. 2014) took ~2,000 such boxes per image in "fast" mode.  nabla calls
OpenCV's implementation (``cv2.ximgproc.segmentation``, from ``opencv-contrib-python-headless``, the
optional extra ``nabla[detection]``); nothing else in nabla needs OpenCV.

Small scenes: on a 64x64 MNIST scene the base segmentation at native size merges thin strokes into the
background, so the image is upscaled by ``scale`` (bilinear) first and the boxes are scaled back.
Measured on the first 300 ``mnist-scenes`` valid scenes (2 cores, one OpenCV thread):

    mode     scale  boxes/image  recall@0.5  recall@0.7  s/image
    fast     1          9          0.945        -        0.011
    fast     2         23          1.000      0.994      0.033   <- default
    fast     3         49          0.999      0.996      0.098
    quality  2         38          1.000      0.996      0.141

(``mnist-scenes-hard``, 96x96 with noise, is harder: fast x2 gives 75 boxes and recall 0.90, quality x2
152 boxes and recall 0.97, 0.5 s an image.)

Outputs: one float32 (n_i, 4) array a image, xyxy in input pixels with exclusive right/bottom edges
(OpenCV's (x, y, w, h) rectangles cover pixels x..x+w-1, so x1 = x + w), duplicates removed, boxes with a
side under ``min_size`` pixels dropped, at most ``max_proposals``, sorted (lexicographically) so that
the output does not depend on OpenCV's order.  That order is OpenCV's ranking, hierarchy level times a
number from C's ``rand()`` (Python cannot seed it): the *set* of boxes is deterministic, the order is
not, so only a truncation to ``max_proposals`` (rare at the defaults) can differ between two runs.

Cache: proposals are computed once per (image, settings): kept in memory, and on disk as one ``.npy`` a
image under ``<data root>/proposals/`` (``$NABLA_DATA`` or ``~/.cache/nabla``), keyed by the SHA-256 of
the image's bytes, its shape and the settings (and OpenCV's version), written atomically (a temporary
file renamed into place), so concurrent processes and interrupted runs never leave half a file.
"""
from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path

import numpy as np

from ..autograd.tensor import Tensor
from ..data.datasets import cache as _cache
from .boxes import pairwise_iou

_INSTALL_HINT = ('selective search needs OpenCV\'s contrib modules: pip install "nabla[detection]" '
                 '(or pip install opencv-contrib-python-headless)')
_MODES = ("fast", "quality", "single")
# bumped when the post-processing below changes, so stale cache files are never read
_VERSION = 1


def _cv2(num_threads: int):
    """OpenCV with ximgproc, its thread pool limited so that it does not compete with the trainer."""
    try:
        import cv2
    except ImportError as e:
        raise ImportError(_INSTALL_HINT) from e
    if not hasattr(cv2, "ximgproc"):
        raise ImportError(f"{_INSTALL_HINT}; the installed cv2 {cv2.__version__} lacks cv2.ximgproc")
    cv2.setNumThreads(int(num_threads))
    return cv2


def _as_images(images) -> np.ndarray:
    a = images.data if isinstance(images, Tensor) else np.asarray(images)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"SelectiveSearch: expected images of shape (B, 1 or 3, H, W), got {a.shape}")
    return a


def _to_bgr_uint8(image: np.ndarray, scale: float, cv2) -> np.ndarray:
    """(C, H, W) float in [0, 1] -> (H', W', 3) uint8 BGR upscaled by ``scale`` (grey copied to 3 channels)."""
    u8 = np.clip(np.rint(np.asarray(image, np.float64) * 255.0), 0, 255).astype(np.uint8)
    rgb = np.repeat(u8, 3, axis=0) if len(u8) == 1 else u8
    hwc = np.ascontiguousarray(rgb[::-1].transpose(1, 2, 0))  # RGB -> OpenCV's BGR
    if scale != 1.0:
        hwc = cv2.resize(hwc, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    return hwc


def _unique_rows(boxes: np.ndarray) -> np.ndarray:
    """Distinct rows, first occurrence kept, original order."""
    if len(boxes) == 0:
        return boxes
    _, first = np.unique(boxes, axis=0, return_index=True)
    return boxes[np.sort(first)]


class SelectiveSearch:
    """Selective search proposals, cached; see the module docstring.

    mode: "fast" (2 colour spaces, 2 similarity combinations, k in {50, 100}: R-CNN's setting), "quality"
    (more spaces and k: slower, a few more boxes) or "single" (one strategy, k = 200, sigma 0.8).
    max_proposals: the most boxes kept a image.  min_size: boxes with width or height under this (input
    pixels) are dropped.  scale: upscaling before segmentation (2 suits 64x64 scenes).  cache_dir: the
    disk cache's folder (default ``<data root>/proposals``); ``False`` keeps the cache in memory only.
    num_threads: OpenCV's thread count (1 or 2 leaves the cores to the trainer).

    ``ss(images)`` with images float32 (B, C, H, W) in [0, 1] (C = 1 or 3) returns B float32 (n_i, 4)
    xyxy arrays (read-only: the cache hands out the same arrays).  ``computed`` counts the images that
    were actually segmented (the rest came from a cache) and ``seconds`` the time they took, so that
    ``seconds / computed`` is selective search's cost per image, which cached runs do not pay.
    """

    def __init__(self, mode: str = "fast", max_proposals: int = 300, min_size: float = 2.0, scale: float = 2.0,
                 cache_dir=None, num_threads: int = 1):
        if mode not in _MODES:
            raise ValueError(f"SelectiveSearch: unknown mode {mode!r}; choose from {_MODES}")
        if max_proposals < 1 or min_size < 0 or not scale > 0:
            raise ValueError(f"SelectiveSearch: expected max_proposals >= 1, min_size >= 0, scale > 0, got "
                             f"{max_proposals}, {min_size}, {scale}")
        self._cv2 = _cv2(num_threads)
        self.mode, self.max_proposals = mode, int(max_proposals)
        self.min_size, self.scale = float(min_size), float(scale)
        self.cache_dir = None if cache_dir is False else Path(cache_dir or _cache.data_root() / "proposals")
        self._memory: dict[str, np.ndarray] = {}
        self.computed, self.seconds = 0, 0.0  # images segmented, and the time that took (no cache hits)
        self._settings = (f"v{_VERSION} cv2 {self._cv2.__version__} {mode} {self.max_proposals} {self.min_size!r} "
                          f"{self.scale!r}").encode()

    def __repr__(self) -> str:
        return (f"SelectiveSearch(mode={self.mode!r}, max_proposals={self.max_proposals}, min_size={self.min_size}, "
                f"scale={self.scale}, cache_dir={str(self.cache_dir) if self.cache_dir else False})")

    def key(self, image: np.ndarray) -> str:
        """The cache key of one (C, H, W) image: SHA-256 of its float32 bytes, shape and the settings."""
        a = np.ascontiguousarray(image, dtype=np.float32)
        h = hashlib.sha256(self._settings)
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
        return h.hexdigest()

    def __call__(self, images) -> list:
        return [self.proposals_for(im) for im in _as_images(images)]

    def proposals_for(self, image: np.ndarray) -> np.ndarray:
        """One image's proposals: from memory, else from disk, else computed and stored in both."""
        k = self.key(image)
        boxes = self._memory.get(k)
        path = self.cache_dir / k[:2] / f"{k}.npy" if self.cache_dir else None
        if boxes is None and path is not None:
            boxes = _cache.load_npy(path, dtype=np.float32)
            if boxes is not None and (boxes.ndim != 2 or boxes.shape[1] != 4):
                boxes = None  # a damaged file: recompute
        if boxes is None:
            start = time.perf_counter()
            boxes = self.compute(image)
            self.computed += 1
            self.seconds += time.perf_counter() - start
            if path is not None:
                _cache.atomic_save_npy(path, boxes)
        boxes.flags.writeable = False
        self._memory[k] = boxes
        return boxes

    def compute(self, image: np.ndarray) -> np.ndarray:
        """Selective search on one (C, H, W) image, no cache: float32 (n, 4) xyxy, see the module docstring."""
        cv2 = self._cv2
        seg = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
        seg.setBaseImage(_to_bgr_uint8(image, self.scale, cv2))
        if self.mode == "fast":
            seg.switchToSelectiveSearchFast()
        elif self.mode == "quality":
            seg.switchToSelectiveSearchQuality()
        else:
            seg.switchToSingleStrategy()
        rects = np.asarray(seg.process(), dtype=np.float64).reshape(-1, 4)  # (x, y, w, h) in upscaled pixels
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1) / self.scale
        h, w = image.shape[-2:]
        boxes = np.clip(boxes, 0, [w, h, w, h])
        big = ((boxes[:, 2] - boxes[:, 0]) >= self.min_size) & ((boxes[:, 3] - boxes[:, 1]) >= self.min_size)
        boxes = _unique_rows(boxes[big].astype(np.float32))[:self.max_proposals]
        return np.ascontiguousarray(boxes[np.lexsort(boxes.T[::-1])]) if len(boxes) else boxes.reshape(0, 4)


def _target_boxes(t) -> np.ndarray:
    b = t["boxes"] if isinstance(t, dict) else t
    b = b.data if isinstance(b, Tensor) else b
    return np.asarray(b, dtype=np.float32).reshape(-1, 4)


def proposal_recall(proposals, targets, iou: float = 0.5) -> float:
    """The fraction of ground-truth boxes (over all images) that some proposal of their image overlaps with
    IoU >= ``iou``.  targets: dicts with "boxes" or (n, 4) arrays; nan when there are no boxes."""
    if len(proposals) != len(targets):
        raise ValueError(f"proposal_recall: {len(proposals)} proposal arrays for {len(targets)} targets")
    hit = total = 0
    for p, t in zip(proposals, targets):
        g = _target_boxes(t)
        total += len(g)
        if len(g) and len(p):
            hit += int((pairwise_iou(g, np.asarray(p, np.float32).reshape(-1, 4)).max(axis=1) >= iou).sum())
    return hit / total if total else math.nan


def proposal_stats(proposals, targets, iou: float = 0.5) -> dict:
    """What R-CNN reports: ``{"proposals_per_image": mean count, "recall": recall at IoU >= iou}``."""
    counts = [len(p) for p in proposals]
    return {"proposals_per_image": float(np.mean(counts)) if counts else 0.0,
            "recall": proposal_recall(proposals, targets, iou)}


def sliding_windows(image_size, sizes=(16,), strides=(4,), aspect_ratios=(1.0,)) -> np.ndarray:
    """Every window of the sliding-window detector, float32 (n, 4) xyxy, exclusive right/bottom edges.

    For each scale s (with its stride in ``strides``, or one stride for all) and aspect ratio r = h / w
    (torchvision's anchor convention), the window is w = s / sqrt(r), h = s sqrt(r) (area s^2), rounded
    to whole pixels and capped at the image; its top-left corner steps over 0, stride, 2 stride, ... up
    to the last position inside the image, and a window flush with the right/bottom edge is added where
    the steps stop short of it, so that the whole image is covered.  image_size: (H, W) or an int.
    Order: scale, aspect ratio, then row-major positions (y outer, x inner).
    """
    H, W = (image_size, image_size) if isinstance(image_size, int) else tuple(int(v) for v in image_size)
    sizes = tuple(sizes)
    strides = tuple(strides) if np.ndim(strides) else (strides,) * len(sizes)
    if len(strides) != len(sizes):
        raise ValueError(f"sliding_windows: expected one stride per size or one for all, got sizes {sizes} and "
                         f"strides {strides}")
    if min(sizes, default=1) <= 0 or min(strides, default=1) <= 0 or min(aspect_ratios, default=1) <= 0:
        raise ValueError(f"sliding_windows: sizes, strides and aspect_ratios must be positive, got {sizes}, "
                         f"{strides}, {tuple(aspect_ratios)}")
    out = []
    for s, step in zip(sizes, strides):
        for r in aspect_ratios:
            w = min(W, max(1, round(s / math.sqrt(r))))
            h = min(H, max(1, round(s * math.sqrt(r))))
            xs, ys = _positions(W - w, step), _positions(H - h, step)
            x0, y0 = np.meshgrid(xs, ys)  # (len(ys), len(xs)): rows are y
            x0, y0 = x0.ravel(), y0.ravel()
            out.append(np.stack([x0, y0, x0 + w, y0 + h], axis=1))
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 4), np.float32)


def _positions(last: int, step: float) -> np.ndarray:
    """0, step, 2 step, ... <= last, with ``last`` appended when the steps stop short of it."""
    p = np.arange(0, last + 1e-9, step, dtype=np.float64)
    return np.unique(np.append(p, last)) if p[-1] < last else p


__all__ = ["SelectiveSearch", "proposal_recall", "proposal_stats", "sliding_windows"]
