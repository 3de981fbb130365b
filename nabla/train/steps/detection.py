"""Object detection: a detector's losses in training, its boxes scored by mean average precision in evaluation.

A detector follows torchvision's contract: ``model(images, targets)`` in training mode returns a dict of
scalar losses (targets: one dict per image, ``boxes`` float (n, 4) xyxy pixels and ``labels`` int64 (n,) in
0..K-1, as numpy arrays); in eval mode ``model(images)`` returns one dict per image of ``boxes`` (n, 4),
``scores`` (n,) and ``labels`` (n,) Tensors, by descending score.  One step:

    batch (images, targets) -> model(images, targets) -> sum of the losses -> backward
                            -> before_optimizer_step -> step()

Evaluation runs the detector over the loader and feeds ``nabla.metrics.MeanAveragePrecision``; it reports
COCO's ``map`` (AP@[.5:.95], 101-point), ``map_50``, ``map_75``, ``map_small/medium/large``, ``mar_100``,
the worst class's AP (``map_worst`` and ``worst_class``), PASCAL VOC's all-point ``voc_map_50`` and the
inference speed ``images_per_s`` (the detector's forward and post-processing, NMS included; not data
loading).  The best checkpoint has the highest validation ``map``.

``SceneBatches`` is the training loader: each epoch a seeded permutation of the training set, batches of
``(images Tensor, list of target dicts)``, scene generators told the epoch (``set_epoch``) so epoch ``e``
draws fresh scenes, and an optional batch transform (the geometric augmentation of
``nabla.data.detection_transforms``, which moves the boxes with the pixels).
"""
from __future__ import annotations

import time

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ...metrics import MeanAveragePrecision
from .base import Step

# the figures a detector's evaluation prints, in this order ("name=value" pairs)
REPORTED = ("map", "map_50", "map_75", "voc_map_50", "map_small", "map_medium", "map_large", "mar_100",
            "map_worst", "images_per_s")


def _images(x) -> Tensor:
    return x if isinstance(x, Tensor) else from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _plain_targets(targets) -> list:
    """Targets as numpy (what the detectors take): boxes float32 (n, 4), labels int64 (n,)."""
    out = []
    for t in targets:
        boxes, labels = t["boxes"], t["labels"]
        boxes = boxes.data if isinstance(boxes, Tensor) else boxes
        labels = labels.data if isinstance(labels, Tensor) else labels
        out.append({"boxes": np.asarray(boxes, np.float32).reshape(-1, 4),
                    "labels": np.asarray(labels, np.int64).reshape(-1)})
    return out


def total_loss(losses: dict):
    """The sum of a detector's loss terms (a dict of scalar Tensors)."""
    if not isinstance(losses, dict) or not losses:
        raise TypeError(f"a detector in training mode must return a non-empty dict of losses, got "
                        f"{type(losses).__name__}")
    terms = list(losses.values())
    loss = terms[0]
    for t in terms[1:]:
        loss = loss + t
    return loss


class SceneBatches:
    """Batches of a detection data set: ``(images, targets)``, a new seeded order each epoch.

    ``dataset`` has ``get_batch(indices) -> (images array, list of dicts)`` and ``len``; when it has
    ``set_epoch`` and ``fixed`` is False, epoch ``e`` asks it for that epoch's scenes (scene generators
    draw new ones each epoch; a fixed training set, ``fixed=True``, keeps epoch 0's).  ``limit`` uses only
    the first ``limit`` items.  ``transform(images, targets, rng) -> (images, targets)`` runs per batch with
    a generator seeded by (seed, epoch), so a resumed run sees the same augmented batches."""

    def __init__(self, dataset, batch_size: int, shuffle: bool = True, seed: int = 0, limit: int | None = None,
                 fixed: bool = False, transform=None, drop_last: bool = False):
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, int(batch_size), shuffle, int(seed)
        self.size = len(dataset) if limit is None else min(int(limit), len(dataset))
        self.fixed, self.transform, self.drop_last = fixed, transform, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        full, rest = divmod(self.size, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self):
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(0 if self.fixed else self.epoch)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.size) if self.shuffle else np.arange(self.size)
        for b in range(len(self)):
            images, targets = self.dataset.get_batch(order[b * self.batch_size:(b + 1) * self.batch_size])
            if self.transform is not None:
                images, targets = self.transform(images, targets, rng)
            yield _images(images), targets


class DetectionStep(Step):
    """A detector's summed losses (each term logged), evaluated by mAP."""

    monitor = ("val_map", "max")

    def __init__(self, model, optimizer, score_classes=None):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer = model, optimizer
        self.class_names = score_classes

    def train_step(self, batch) -> dict:
        images, targets = _images(batch[0]), _plain_targets(batch[1])
        self.optimizer.zero_grad()
        losses = self.model(images, targets)
        loss = total_loss(losses)
        logs = {"loss": self.minimize(loss, self.optimizer), "batch_size": len(targets)}
        logs.update({k: float(v.item()) for k, v in losses.items()})
        return logs

    def detect(self, images) -> list:
        """The detector's output for one batch, as numpy dicts (eval mode, no graph)."""
        def run():
            out = self.model(_images(images))
            return [{k: (v.data if isinstance(v, Tensor) else np.asarray(v)) for k, v in d.items()} for d in out]
        return self.run_eval(run)

    def _evaluate(self, loader, per_class: bool = False) -> dict:
        metric, seconds, n = MeanAveragePrecision(), 0.0, 0
        for images, targets in loader:
            images = _images(images)
            start = time.perf_counter()
            out = self.model(images)
            seconds += time.perf_counter() - start
            n += len(targets)
            metric.update([{k: (v.data if isinstance(v, Tensor) else v) for k, v in d.items()} for d in out],
                          _plain_targets(targets))
        result = metric.compute()
        per_class = [(ap, c) for ap, c in zip(result["map_per_class"], result["classes"]) if ap >= 0]
        worst_ap, worst = min(per_class) if per_class else (-1.0, -1)
        summary = {k: float(result[k]) for k in REPORTED if k in result}
        summary.update({"map_worst": float(worst_ap), "worst_class": int(worst),
                        "images_per_s": n / seconds if seconds > 0 else 0.0, "images": n})
        if per_class:  # lists stay out of the training history (its rows are numbers)
            summary.update({"classes": [int(c) for c in result["classes"]],
                            "map_per_class": [float(v) for v in result["map_per_class"]]})
        return summary

    def evaluate(self, loader, per_class: bool = False) -> dict:
        """mAP figures over all of ``loader`` (eval mode, no graph); see the module docstring.  With
        ``per_class`` also ``classes`` and ``map_per_class`` (lists)."""
        return self.run_eval(self._evaluate, loader, per_class)


def proposal_figures(model, loader) -> dict:
    """For a detector with proposals (``model.propose(images)``: R-CNN's selective search, Faster R-CNN's RPN,
    the sliding windows): ``proposals_per_image`` and ``proposal_recall_50``, the share of ground-truth boxes
    some proposal of their image overlaps with IoU >= 0.5, over the loader; {} for one-stage detectors."""
    if not hasattr(model, "propose"):
        return {}
    from ...vision.proposals import proposal_stats
    proposals, targets = [], []
    mode = model.training
    model.eval()
    try:
        for images, batch_targets in loader:
            proposals += list(model.propose(images))
            targets += _plain_targets(batch_targets)
    finally:
        model.train(mode)
    stats = proposal_stats(proposals, targets, 0.5)
    return {"proposals_per_image": stats["proposals_per_image"], "proposal_recall_50": stats["recall"]}


def format_detection(result: dict) -> str:
    """``map=0.81 map_50=0.97 ...``: the reported figures as ``name=value`` pairs (the last line of ``nabla
    train`` and ``nabla eval`` on a detector)."""
    parts = []
    for k in REPORTED:
        if k in result:
            v = result[k]
            parts.append(f"{k}={v:.1f}" if k == "images_per_s" else f"{k}={v:.4f}")
    if "worst_class" in result:
        parts.append(f"worst_class={result['worst_class']}")
    return " ".join(parts)
