"""The images ``nabla train ... --tensorboard`` shows at each evaluation, chosen by the training step's class:

* GAN and VAE (``GANStep``, ``VAEStep``): ``samples``, a grid of ``samples`` images drawn by the model's
  ``sample`` (the generator from noise; the decoder from the prior), from a fixed seed so the grids of
  successive evaluations compare; a class-conditional model draws the classes in turn;
* PixelCNN (``AutoregressiveStep``): the same grid of at most ``AUTOREGRESSIVE_SAMPLES`` images (it samples
  pixel by pixel: H x W forward passes);
* detection (``DetectionStep``): ``detections``, the first ``overlays`` validation images with their true
  boxes (grey, one pixel) and the boxes found (score >= ``score_thresh``) drawn over them, each labelled with
  its class name and score, a colour per class;
* segmentation (``SegmentationStep``): ``segmentation``, the first ``overlays`` validation images with the
  predicted classes blended in (half opacity; class 0, the background, left clear), in the VOC colours.

Validation images are shown each stretched to its own 0..255 (whatever the normalisation) and, when their
shorter side is under ``MIN_SIDE`` pixels, enlarged by an integer factor (nearest neighbour) so boxes and labels
can be read.  Several images are laid out as one grid (``nabla.vision.utils.make_grid``, 2-pixel padding).  The
drawing is the project's own: ``sample_images`` (the generative tasks), ``draw_bounding_boxes`` (``nabla
predict``), ``draw_segmentation_masks`` and ``label_colormap``.  Any other step gives no images.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Tensor, no_grad
from ..train.steps import AutoregressiveStep, DetectionStep, GANStep, SegmentationStep, VAEStep
from ..vision.utils import make_grid

AUTOREGRESSIVE_SAMPLES = 9
MIN_SIDE = 128
TRUTH_COLOUR = (128, 128, 128)


def _array(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _grid(images01: np.ndarray) -> np.ndarray:
    """(B, C, H, W) in [0, 1] as one (C, H', W') grid, about square."""
    return np.clip(make_grid(images01, nrow=int(math.ceil(math.sqrt(len(images01))))), 0.0, 1.0)


def _first_batch(val_data, count: int):
    """``(images float (B, C, H, W), targets or None)`` of the first validation batch, at most ``count``; None
    when there is no batch."""
    batch = next(iter(val_data), None) if val_data is not None else None
    if batch is None:
        return None
    images, targets = (batch[0], batch[1]) if isinstance(batch, (tuple, list)) else (batch, None)
    return _array(images)[:count], None if targets is None else targets[:count]


def _stretched(images: np.ndarray) -> np.ndarray:
    """Each image stretched to 0..255 uint8, and enlarged by an integer factor when smaller than ``MIN_SIDE``."""
    low = images.min(axis=(1, 2, 3), keepdims=True)
    span = np.maximum(images.max(axis=(1, 2, 3), keepdims=True) - low, 1e-12)
    pixels = np.rint((images - low) / span * 255).astype(np.uint8)
    f = max(1, math.ceil(MIN_SIDE / min(images.shape[2:])))
    return pixels.repeat(f, axis=2).repeat(f, axis=3) if f > 1 else pixels


def generated_samples(step, val_data, count: int, **_) -> dict:
    """``{"samples": grid}`` of ``count`` samples of ``step.model`` (eval mode, no graph, seed 0)."""
    from ..train.tasks.generative import sample_images
    if count < 1:
        return {}
    model = step.model
    was_training = model.training
    model.eval()
    try:
        with no_grad():  # a seed of its own: the training's random stream is not touched
            images = _array(sample_images(model, count, seed=0))
    finally:
        model.train(was_training)
    return {"samples": _grid(images.astype(np.float32))}


def autoregressive_samples(step, val_data, count: int, **_) -> dict:
    """``generated_samples`` of at most ``AUTOREGRESSIVE_SAMPLES`` (each costs H x W forward passes)."""
    return generated_samples(step, val_data, min(count, AUTOREGRESSIVE_SAMPLES))


def _truth_boxes(targets, k) -> np.ndarray:
    """Image ``k``'s ground-truth boxes (n, 4), or none when the batch carries no targets."""
    if targets is None or k >= len(targets) or not isinstance(targets[k], dict) or "boxes" not in targets[k]:
        return np.zeros((0, 4))
    return _array(targets[k]["boxes"]).reshape(-1, 4)


def detection_overlays(step, val_data, overlays: int, class_names=None, score_thresh: float = 0.5, **_) -> dict:
    """``{"detections": grid}``: the first validation images with their true boxes (grey, thin) and the boxes
    the detector finds (labelled, a colour per class) drawn."""
    from ..vision.draw import PALETTE, draw_bounding_boxes
    first = _first_batch(val_data, overlays) if overlays > 0 else None
    if first is None:
        return {}
    images, targets = first
    pixels, names = _stretched(images), list(class_names or [])
    f = pixels.shape[2] // images.shape[2]
    drawn = []
    for k, (img, det) in enumerate(zip(pixels, step.detect(images))):  # a few images; Pillow draws each
        keep = np.asarray(det["scores"]) >= score_thresh
        boxes, scores = np.asarray(det["boxes"])[keep], np.asarray(det["scores"])[keep]
        labels = np.asarray(det["labels"])[keep].astype(int)
        texts = [f"{names[c] if 0 <= c < len(names) else c} {s:.2f}" for c, s in zip(labels, scores)]
        colors = [PALETTE[c % len(PALETTE)] for c in labels]
        img = draw_bounding_boxes(img, _truth_boxes(targets, k) * f, colors=TRUTH_COLOUR)
        drawn.append(draw_bounding_boxes(img, boxes * f, labels=texts, colors=colors, width=max(1, f // 2)))
    return {"detections": _grid(np.stack(drawn).astype(np.float32) / 255)}


def segmentation_overlays(step, val_data, overlays: int, **_) -> dict:
    """``{"segmentation": grid}``: the first validation images with the predicted classes blended in."""
    from ..vision.draw_masks import draw_segmentation_masks, label_colormap
    first = _first_batch(val_data, overlays) if overlays > 0 else None
    if first is None:
        return {}
    images = first[0]
    predicted = np.asarray(step.segment(images))                               # (B, H, W) class ids
    pixels = _stretched(images)
    f = pixels.shape[2] // images.shape[2]
    predicted = predicted.repeat(f, axis=1).repeat(f, axis=2) if f > 1 else predicted
    classes = np.arange(1, int(step.num_classes))
    colours = label_colormap(len(classes) + 1)[1:]
    drawn = [draw_segmentation_masks(img, p[None] == classes[:, None, None], 0.5, colours)
             for img, p in zip(pixels, predicted)]  # a few images: the blend itself is vectorised
    return {"segmentation": _grid(np.stack(drawn).astype(np.float32) / 255)}


# the step classes with images, and what draws them (a subclass gets its first base's producer)
PRODUCERS = {GANStep: generated_samples, VAEStep: generated_samples, AutoregressiveStep: autoregressive_samples,
             DetectionStep: detection_overlays, SegmentationStep: segmentation_overlays}


def producer_for(step):
    """The producer of ``step``'s class (walking its bases), or None for a step with no images."""
    return next((PRODUCERS[c] for c in type(step).__mro__ if c in PRODUCERS), None)


def evaluation_images(step, val_data, samples: int = 16, overlays: int = 8, class_names=None) -> dict:
    """``{tag: image float (C, H, W) in [0, 1]}`` for ``step`` at an evaluation (see the module docstring)."""
    producer = producer_for(step)
    if producer is None:
        return {}
    return producer(step, val_data, count=int(samples), overlays=int(overlays), class_names=class_names)
