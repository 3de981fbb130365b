"""``nabla predict`` on a segmentation checkpoint: a class per pixel of image files of any size, drawn and
printed.

Each image is read and fitted to the model's input exactly as for a detector (``nabla.train.predict``:
letterboxed when its size differs, scale ``s = min(H / h, W / w)``, pasted top-left on black).  The model's
mask (argmax over the classes) is cut to the part of the canvas the image covers, ``(round(h s), round(w
s))``, and brought back to the original (h, w) by nearest neighbour: original pixel (i, j) takes the canvas
pixel

    (floor((i + 1/2) round(h s) / h),  floor((j + 1/2) round(w s) / w)),

so a class index is never blended into a class that is not there.  The drawing, ``OUT/<name>.png``, is the
image (enlarged by an integer factor when small, as the detectors' drawings) with every class but class 0
(the background, which stays uncoloured) blended in its colour (PASCAL VOC's colour map,
``nabla.vision.draw_masks``), and a legend panel at its right naming each class's colour.  One line per image
is printed: ``IMAGE NAME=SHARE ...``, the share of the image's pixels predicted as each class that occurs,
largest first (class names as the checkpoint records them, spaces as ``_``).
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..data.image_io import letterbox_size, read_image, write_png
from ..vision.draw_masks import draw_legend, draw_segmentation_masks, label_colormap
from .steps.segmentation import SegmentationStep

__all__ = ["mask_to_original", "class_shares", "draw_prediction", "predict_masks"]

ALPHA = 0.6   # the colour's weight over the image: the strokes under it stay visible


def mask_to_original(mask: np.ndarray, original_size) -> np.ndarray:
    """A mask (H, W) predicted on a letterbox canvas -> int64 (h, w) on the original image (see the module
    docstring: the covered part, nearest neighbour)."""
    h, w = original_size
    new_h, new_w = letterbox_size((h, w), mask.shape)
    rows = np.minimum(((np.arange(h) + 0.5) * new_h / h).astype(np.int64), new_h - 1)
    cols = np.minimum(((np.arange(w) + 0.5) * new_w / w).astype(np.int64), new_w - 1)
    return np.asarray(mask, np.int64)[rows[:, None], cols[None, :]]


def class_shares(mask: np.ndarray, num_classes: int) -> np.ndarray:
    """float64 (num_classes,): the fraction of the mask's pixels predicted as each class."""
    return np.bincount(mask.ravel(), minlength=num_classes)[:num_classes] / max(mask.size, 1)


def draw_prediction(image: np.ndarray, mask: np.ndarray, names, min_side: int, max_side: int) -> np.ndarray:
    """uint8 (3, H', W' + legend): ``image`` (C, h, w) with ``mask`` (h, w) blended in (class 0 uncoloured),
    enlarged by an integer factor when its shorter side is under ``min_side`` (its longer side at most
    ``max_side``), and the legend at its right."""
    h, w = mask.shape
    f = max(1, min(math.ceil(min_side / min(h, w)), max_side // max(h, w)))
    big_image = image.repeat(f, axis=1).repeat(f, axis=2) if f > 1 else image
    big_mask = mask.repeat(f, axis=0).repeat(f, axis=1) if f > 1 else mask
    colors = label_colormap(len(names))
    foreground = big_mask[None] == np.arange(1, len(names))[:, None, None]      # (K - 1, H', W')
    drawn = draw_segmentation_masks(big_image, foreground, alpha=ALPHA, colors=colors[1:])
    legend = draw_legend(names, [None] + list(colors[1:]), drawn.shape[1])
    if legend.shape[1] > drawn.shape[1]:     # a tall legend: the drawing padded with black below
        drawn = np.pad(drawn, ((0, 0), (0, legend.shape[1] - drawn.shape[1]), (0, 0)))
    return np.concatenate([drawn, legend], axis=2)


def predict_masks(model, config, images, dests, out, names, echo, draw_sizes, batch: int, fit) -> list:
    """Segment, draw and print (see the module docstring); ``fit(originals, config) -> (x, scales)`` fits the
    images to the model as for detectors.  One dict per image: ``image``, ``output``, ``mask`` (h, w) int64,
    ``shares`` (K,)."""
    step, channels, k = SegmentationStep(model, None, len(names)), int(config["in_shape"][0]), len(names)
    results = []
    for start in range(0, len(images), batch):
        chunk = list(zip(images, dests))[start:start + batch]
        originals = [read_image(p, channels, who="nabla predict") for p, _ in chunk]
        x, _ = fit(originals, config)
        for (path, dest), im, canvas_mask in zip(chunk, originals, step.segment(x)):
            mask = mask_to_original(canvas_mask, im.shape[1:])
            shares = class_shares(mask, k)
            order = [c for c in np.argsort(-shares, kind="stable") if shares[c] > 0]
            echo(f"{path} " + " ".join(f"{names[c]}={shares[c]:.4f}" for c in order))
            write_png(draw_prediction(im, mask, names, *draw_sizes), dest)
            results.append({"image": path, "output": dest, "mask": mask, "shares": shares})
    n = len(results)
    echo(f"drew {n} predicted mask{'' if n == 1 else 's'} with a legend into {os.fspath(out)}")
    return results
