"""Semantic segmentation: per-pixel cross-entropy (plus, optionally, a Dice loss) in training, mean IoU in
evaluation.

A segmentation model maps images (B, C, H, W) to logits (B, K, H, W) over K mask classes (class 0 the
background on nabla's scenes, 1 + digit the digits); the targets are int64 masks (B, H, W), pixels equal to
``ignore_index`` (255, VOC's border value) left out of the loss and the scores.  One step:

    loss = cross_entropy(logits, masks, ignore_index)  [+ dice_weight * dice_loss(logits, masks, ignore_index)]
         -> backward -> before_optimizer_step -> step()

Evaluation accumulates one K x K confusion matrix (``nabla.metrics.ConfusionMatrix``) over the whole loader
and reads from it

    miou          mean IoU over the classes that occur (torchmetrics' "macro" JaccardIndex)
    miou_digits   the same mean over the foreground classes 1..K-1 only (the digits on scenes), from the
                  same matrix: background, ~94% of the scenes' pixels and easy, no longer props it up
    pixel_acc     correctly labelled pixels / all scored pixels
    iou_worst     the lowest class IoU, and ``worst_class`` its index
    images_per_s  the model's forward pass over the evaluation images (no data loading)
    loss          the mean training loss over the evaluation batches

and picks the best checkpoint by the highest validation ``miou``.

Data parallelism: IoU is a ratio of counts, so a sharded evaluation adds counts, never the ranks' mIoUs.
``evaluate_sums(loader, rank, num_replicas)`` scores the rank's contiguous share of the loader's batches
(``SceneBatches.shard``: the same batches one process scores, so the per-batch losses are the same numbers)
and gives the confusion matrix and the sums of the loss, the batches, the images and the seconds; the ranks'
sums are added (``add_sums``) and ``figures_from_sums`` reads the figures from the total: one process's.
Training: ``SceneBatches.shard`` gives each rank its ``DistributedSampler`` share of the epoch's order and the
strategy averages the ranks' gradients, as DDP does.  Each rank's loss is a mean over its own scored pixels,
so the average is one process's gradient with batch N*B when every rank scores as many pixels (no ignored
pixels) and without the Dice term (a ratio over the batch); otherwise it is the mean of the ranks' means.
"""
from __future__ import annotations

import time

import numpy as np

from ...autograd.tensor import Tensor
from ...data.datasets.masks import IGNORE_INDEX   # 255: VOC's value for pixels that are not scored
from ...metrics.segmentation import ConfusionMatrix, iou_per_class
from ...nn import functional as F
from .base import Step
from .scene_batches import as_images as _images, model_dtype
from .sharding import add_counts, evaluation_share

# the figures of the last line of ``nabla train`` / ``nabla eval`` on a segmentation model, in this order
REPORTED = ("miou", "miou_digits", "pixel_acc")


def _masks(m) -> np.ndarray:
    return np.asarray(m.data if isinstance(m, Tensor) else m, dtype=np.int64)


def segmentation_loss(logits, masks, ignore_index: int = IGNORE_INDEX, dice_weight: float = 0.0) -> tuple:
    """``(loss, terms)``: the mean per-pixel cross-entropy, plus ``dice_weight`` times the soft Dice loss when
    it is positive; ``terms`` the parts' values for the log."""
    ce = F.cross_entropy(logits, masks, ignore_index=ignore_index)
    if not dice_weight:
        return ce, {}
    dice = F.dice_loss(logits, masks, ignore_index=ignore_index)
    return ce + dice * dice_weight, {"ce": float(ce.item()), "dice": float(dice.item())}


def summarize(confmat: np.ndarray) -> dict:
    """The figures of the module docstring from an accumulated confusion matrix (rows: target)."""
    iou, present = iou_per_class(confmat)
    digits = present[1:]
    total = confmat.sum()
    scored = np.flatnonzero(present)
    worst = int(scored[np.argmin(iou[scored])]) if scored.size else -1
    return {"miou": float(iou[present].mean()) if present.any() else 0.0,
            "miou_digits": float(iou[1:][digits].mean()) if digits.any() else 0.0,
            "pixel_acc": float(np.trace(confmat) / total) if total else 0.0,
            "iou_worst": float(iou[worst]) if worst >= 0 else 0.0, "worst_class": worst,
            "iou_per_class": [float(v) if p else -1.0 for v, p in zip(iou, present)]}


class SegmentationStep(Step):
    """Cross-entropy (+ optional Dice) per pixel; mean IoU from a dataset-wide confusion matrix.  ``per_class``:
    whether ``evaluate`` also gives ``iou_per_class`` (the final report sets it around its evaluation)."""

    monitor = ("val_miou", "max")
    per_class = False

    def __init__(self, model, optimizer, num_classes: int | None = None, ignore_index: int = IGNORE_INDEX,
                 dice_weight: float = 0.0):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer = model, optimizer
        self.num_classes = int(num_classes if num_classes is not None else model.num_classes)
        self.ignore_index, self.dice_weight = ignore_index, float(dice_weight)

    def _dtype(self):
        return model_dtype(self.model)

    def train_step(self, batch) -> dict:
        images, masks = _images(batch[0], self._dtype()), _masks(batch[1])
        self.optimizer.zero_grad()
        loss, terms = segmentation_loss(self.model(images), masks, self.ignore_index, self.dice_weight)
        return {"loss": self.minimize(loss, self.optimizer), "batch_size": len(masks), **terms}

    def segment(self, images) -> np.ndarray:
        """Predicted masks int64 (B, H, W) of one batch of images (eval mode, no graph): argmax over the classes."""
        return self.run_eval(lambda: self.model(_images(images, self._dtype())).data.argmax(axis=1))

    def predict(self, loader) -> np.ndarray:
        """Predicted masks of every batch of ``loader`` (``(images, masks)`` pairs or images), concatenated."""
        masks = [self.segment(b[0] if isinstance(b, (tuple, list)) else b) for b in loader]
        return np.concatenate(masks) if masks else np.zeros((0,), np.int64)

    def _sums(self, loader) -> dict:
        metric = ConfusionMatrix(num_classes=self.num_classes, ignore_index=self.ignore_index)
        seconds, n, loss_sum, batches, dtype = 0.0, 0, 0.0, 0, self._dtype()
        for images, masks in loader:
            images, masks = _images(images, dtype), _masks(masks)
            start = time.perf_counter()
            logits = self.model(images)
            seconds += time.perf_counter() - start
            loss_sum += float(segmentation_loss(logits, masks, self.ignore_index, self.dice_weight)[0].item())
            metric.update(logits.data.argmax(axis=1), masks)
            n, batches = n + len(masks), batches + 1
        return {"confmat": metric.confmat, "loss_sum": loss_sum, "batches": batches, "images": n, "seconds": seconds}

    def evaluate_sums(self, loader, rank: int = 0, num_replicas: int = 1) -> dict:
        """The sums the figures come from over the rank's share of ``loader``'s batches (``loader.shard``; eval
        mode, no graph): ``{"confmat" (K, K), "loss_sum", "batches", "images", "seconds"}``, which add."""
        if num_replicas > 1:
            loader = evaluation_share(loader, rank, num_replicas, "SegmentationStep.evaluate_sums")
        return self.run_eval(self._sums, loader)

    add_sums = staticmethod(add_counts)

    def figures_from_sums(self, sums: dict, per_class: bool | None = None) -> dict:
        """The figures of the module docstring from (added) ``evaluate_sums``: the loss is the mean over the
        batches, ``images_per_s`` the forward passes' rate of one process."""
        result = summarize(np.asarray(sums["confmat"]))
        seconds, n = sums["seconds"], sums["images"]
        result.update({"loss": sums["loss_sum"] / max(sums["batches"], 1),
                       "images_per_s": n / seconds if seconds > 0 else 0.0, "images": n})
        if not (self.per_class if per_class is None else per_class):   # lists stay out of the training history
            result.pop("iou_per_class")
        return result

    def evaluate(self, loader, per_class: bool | None = None) -> dict:
        """The figures of the module docstring over all of ``loader`` (eval mode, no graph); with ``per_class``
        (default: the step's ``per_class``) also ``iou_per_class`` (a list, -1 for a class that occurs nowhere)."""
        return self.figures_from_sums(self.evaluate_sums(loader), per_class)


def format_segmentation(result: dict, parameters: int | None = None) -> str:
    """``miou=0.9012 miou_digits=0.8931 pixel_acc=0.9950 worst_class=8 iou_worst=0.8012 images_per_s=310.2
    parameters=482,619``: the last line of ``nabla train`` and ``nabla eval`` on a segmentation model."""
    parts = [f"{k}={result[k]:.4f}" for k in REPORTED if k in result]
    if "worst_class" in result:
        parts.append(f"worst_class={result['worst_class']} iou_worst={result['iou_worst']:.4f}")
    if "images_per_s" in result:
        parts.append(f"images_per_s={result['images_per_s']:.1f}")
    if parameters is not None:
        parts.append(f"parameters={parameters:,}")
    return " ".join(parts)
