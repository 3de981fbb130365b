"""The sliding-window detector: the notes' "general method" of detection.  Slide a window over the image at
several scales and strides, classify each window (K digits + background) and localize it (class-specific
box regression), then keep the best boxes of each class by NMS.

    windows: sizes 12, 18 px (sqrt of the area) with strides 4, 6 px, h/w ratios 1, 2, 4
             (794 windows on a 64x64 scene; recall at IoU 0.5 of the valid scenes' digits 0.996)
      -> each window warped to 16 x 16 (bilinear RoIAlign, aligned) -> CropNet 16-32-64 -> fc 128
      -> K + 1 scores and 4 (K + 1) deltas -> per-class NMS 0.5

The windows are every region of every image (``nabla.vision.proposals.sliding_windows``); training samples
64 of them a image (at most 25 % with IoU >= 0.5 with a digit, the ground-truth boxes included), as the
R-CNN family does (``crop_detector.py``).  Each window is its own CNN pass: hundreds a image, which is
what makes the method slow and what R-CNN's proposals and then Fast R-CNN's shared features remove.

Measured (``nabla train sliding-window --time-budget 600 --eval-every 200``, 2-core machine shared with
other jobs, single-threaded BLAS): validation map_50 0.791 after 6.4k training images, 0.893 after 12.8k,
0.923 after 19.2k; test after 21.7k images (600 s of training, 1,118 s wall with evaluations): map_50
0.937, map_75 0.771, map 0.638, worst class "1" (AP 0.457).  ~36 training images/s, ~12 images/s at
inference (794 windows an image).
"""
from __future__ import annotations

import numpy as np

from ..vision.proposals import sliding_windows
from .crop_detector import CropDetector, crop_heads
from .options import parse_floats, parse_ints
from .registry import Option, register_model


class SlidingWindowDetector(CropDetector):
    """CropDetector over a fixed grid of windows (computed once per image size)."""

    def __init__(self, roi_heads, num_classes: int, sizes=(12, 18), strides=(4, 6), aspect_ratios=(1.0, 2.0, 4.0),
                 eval_chunk: int = 4096):
        super().__init__(roi_heads, num_classes, eval_chunk)
        self.sizes, self.strides, self.aspect_ratios = tuple(sizes), tuple(strides), tuple(aspect_ratios)
        self._windows = {}

    def windows(self, image_size) -> np.ndarray:
        """The (n, 4) windows of an image of size (H, W)."""
        key = tuple(int(v) for v in image_size)
        if key not in self._windows:
            self._windows[key] = sliding_windows(key, self.sizes, self.strides, self.aspect_ratios)
        return self._windows[key]

    def propose(self, images) -> list:
        w = self.windows(images.shape[-2:])
        return [w] * images.shape[0]

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, strides={self.strides}, aspect_ratios={self.aspect_ratios}"


def sliding_window(in_shape, num_classes: int, window_sizes="12,18", window_strides="4,6", aspect_ratios="1,2,4",
                   crop_size: int = 16, widths="16,32,64", representation_size: int = 128,
                   batch_size_per_image: int = 64, score_thresh: float = 0.01, nms_thresh: float = 0.5,
                   detections_per_img: int = 100, eval_chunk: int = 4096) -> SlidingWindowDetector:
    """A SlidingWindowDetector for images of in_shape (C, H, W) and num_classes foreground classes."""
    sizes, strides = parse_ints(window_sizes, "window_sizes"), parse_ints(window_strides, "window_strides")
    if len(strides) not in (1, len(sizes)):
        raise ValueError(f"sliding-window: window_strides needs one stride per size ({len(sizes)}) or one for all, "
                         f"got {window_strides!r}")
    heads = crop_heads(in_shape[0], num_classes, crop_size, 0.0, parse_ints(widths, "widths"), representation_size,
                       batch_size_per_image=batch_size_per_image, score_thresh=score_thresh, nms_thresh=nms_thresh,
                       detections_per_img=detections_per_img)
    return SlidingWindowDetector(heads, num_classes, sizes, strides * (len(sizes) // len(strides)),
                                 parse_floats(aspect_ratios, "aspect_ratios"), eval_chunk)


@register_model(
    "sliding-window", "sliding windows at several scales and strides, each classified (K + 1) and localized by a "
    "small CNN, per-class NMS", task="detection", default_dataset="mnist-scenes",
    training={"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "epochs": 3, "time_budget": 1200.0},
    window_sizes=Option("12,18", help="window sizes in px (sqrt of the area)"),
    window_strides=Option("4,6", help="the stride of each window size (or one for all), px"),
    aspect_ratios=Option("1,2,4", help="window h/w ratios"),
    crop_size=Option(16, help="each window is warped to crop_size x crop_size"),
    widths=Option("16,32,64", help="CropNet's conv widths (a 2x2 max pool after each)"),
    representation_size=Option(128, help="CropNet's fc width"),
    batch_size_per_image=Option(64, help="windows sampled per image in training (25% foreground at most)"),
    score_thresh=0.01, nms_thresh=0.5, detections_per_img=100,
    eval_chunk=Option(4096, help="windows per CNN call at inference (memory)"))
def _sliding_window(in_shape, num_classes, **options):
    return sliding_window(in_shape, num_classes, **options)


__all__ = ["SlidingWindowDetector", "sliding_window"]
