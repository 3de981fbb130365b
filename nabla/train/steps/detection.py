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

The batches come from ``SceneBatches`` (``scene_batches.py``: each epoch a seeded order, scenes drawn
afresh, augmentation, a rank's share).

Data parallelism (``mpiexec -n N nabla train``):

* training: each rank its ``SceneBatches.shard(rank, N)``: the ranks' b-th batches together are the b-th
  batch of one process with batch N*B.
* sampling: a two-stage detector samples positive and negative anchors and proposals at random
  (``BalancedPositiveNegativeSampler``).  With N ranks each step draws N seeds from nabla's global generator
  (the same draw on every rank, so the global generators stay equal and rank 0's checkpoint resumes on
  any N) and the samplers of the rank's model use the generator of seed ``rank``: each rank its own draws.
  Gradients are then averaged by the strategy, as torchvision's detection references do with DDP (a
  parameter without a gradient on a rank counts as zero there, ``nabla.distributed.buckets``): for a loss
  that is a mean over the images (YOLO) that is one process's gradient with batch N*B (with ``--sync-bn``:
  batch norm's statistics are per rank otherwise); for a loss that is a mean over the sampled regions of
  the batch (the R-CNN heads) it is the mean of the ranks' means.
* evaluation: mAP is not a mean over images.  ``evaluate_sums(loader, rank, N)`` runs the detector over the
  rank's contiguous share of the loader's batches and returns its detections and ground truth; the
  strategy gathers the shards in rank order (the data set's order), ``add_sums`` joins them and
  ``figures_from_sums`` computes mAP once over the whole set: the figures of one process.  (The batches
  are the same as one process's, so are the detections.)  ``images_per_s`` is the images over the seconds
  of all ranks: the speed of one process.
"""
from __future__ import annotations

import time

import numpy as np

from ...autograd.tensor import Tensor
from ...backend import rng as global_rng
from ...metrics import MeanAveragePrecision
from .base import Step
from .scene_batches import as_images as _images, model_dtype
from .sharding import evaluation_share

# the figures a detector's evaluation prints, in this order ("name=value" pairs)
REPORTED = ("map", "map_50", "map_75", "voc_map_50", "map_small", "map_medium", "map_large", "mar_100",
            "map_worst", "images_per_s")


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


class DetectionStep(Step):
    """A detector's summed losses (each term logged), evaluated by mAP.  ``per_class``: whether ``evaluate``
    (and the strategy's sharded evaluation, through ``figures_from_sums``) also gives the AP of each class;
    ``proposals``: whether ``evaluate_sums`` also keeps a two-stage detector's proposals, for the proposal
    figures.  The final test report sets both around its evaluation; validation leaves them off."""

    monitor = ("val_map", "max")
    per_class = False
    proposals = False

    def __init__(self, model, optimizer, score_classes=None):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer = model, optimizer
        self.class_names = score_classes

    def _dtype(self):
        return model_dtype(self.model)

    def train_step(self, batch) -> dict:
        images, targets = _images(batch[0], self._dtype()), _plain_targets(batch[1])
        self.optimizer.zero_grad()
        samplers = self._rank_generators()
        try:
            losses = self.model(images, targets)
        finally:
            for module in samplers:
                module.generator = None
        loss = total_loss(losses)
        logs = {"loss": self.minimize(loss, self.optimizer), "batch_size": len(targets)}
        logs.update({k: float(v.item()) for k, v in losses.items()})
        return logs

    def _rank_generators(self) -> list:
        """With N ranks: the model's samplers (modules with ``fg_bg_sampler`` and no generator of their own)
        given this step's generator of this rank (see the module docstring); the modules changed."""
        strategy = getattr(self.trainer, "strategy", None)
        if strategy is None or strategy.world_size == 1:
            return []
        samplers = [m for m in self.model.modules()
                    if hasattr(m, "fg_bg_sampler") and getattr(m, "generator", 0) is None]
        if not samplers:  # a one-stage detector (YOLO): the global generator is left as one process leaves it
            return []
        seeds = global_rng().integers(0, 2 ** 63, size=strategy.world_size)  # the same draw on every rank
        generator = np.random.default_rng(int(seeds[strategy.rank]))
        for module in samplers:
            module.generator = generator
        return samplers

    def detect(self, images) -> list:
        """The detector's output for one batch, as numpy dicts (eval mode, no graph)."""
        def run():
            out = self.model(_images(images, self._dtype()))
            return [{k: (v.data if isinstance(v, Tensor) else np.asarray(v)) for k, v in d.items()} for d in out]
        return self.run_eval(run)

    def _detections(self, loader) -> dict:
        preds, targets, seconds, dtype = [], [], 0.0, self._dtype()
        proposals = [] if self.proposals and hasattr(self.model, "propose") else None
        for batch, batch_targets in loader:
            images = _images(batch, dtype)
            start = time.perf_counter()
            out = self.model(images)
            seconds += time.perf_counter() - start
            preds += [{k: (d[k].data if isinstance(d[k], Tensor) else np.asarray(d[k]))
                       for k in ("boxes", "scores", "labels")} for d in out]
            targets += _plain_targets(batch_targets)
            if proposals is not None:  # the same pass: the regions the detector scored (not timed)
                proposals += list(self.model.propose(batch))
        sums = {"preds": preds, "targets": targets, "seconds": seconds, "images": len(targets)}
        if proposals is not None:
            sums["proposals"] = proposals
        return sums

    def evaluate_sums(self, loader, rank: int = 0, num_replicas: int = 1) -> dict:
        """The detector over the rank's share of ``loader`` (``SceneBatches.shard``; eval mode, no graph):
        ``{"preds", "targets"}`` (one dict per image, in the loader's order), ``seconds`` (forward and
        post-processing) and ``images``; with ``proposals`` set and a detector that has them
        (``model.propose``), also ``"proposals"``, one (n_i, 4) array per image."""
        if num_replicas > 1:
            loader = evaluation_share(loader, rank, num_replicas, "DetectionStep.evaluate_sums")
        return self.run_eval(self._detections, loader)

    @staticmethod
    def add_sums(parts: list) -> dict:
        """The ``evaluate_sums`` of consecutive shards joined, in their order."""
        joined = {"preds": [p for part in parts for p in part["preds"]],
                  "targets": [t for part in parts for t in part["targets"]],
                  "seconds": sum(part["seconds"] for part in parts),
                  "images": sum(part["images"] for part in parts)}
        if "proposals" in parts[0]:
            joined["proposals"] = [p for part in parts for p in part["proposals"]]
        return joined

    def figures_from_sums(self, sums: dict, per_class: bool | None = None) -> dict:
        """The figures of the module docstring from (joined) ``evaluate_sums``: mAP computed once over all
        the images.  With ``per_class`` (default: the step's ``per_class``) also ``classes`` and
        ``map_per_class`` (lists); with proposals in the sums also ``proposal_figures_from``'s."""
        per_class = self.per_class if per_class is None else per_class
        metric = MeanAveragePrecision()
        metric.update(sums["preds"], sums["targets"])
        result = metric.compute()
        scored = [(ap, c) for ap, c in zip(result["map_per_class"], result["classes"]) if ap >= 0]
        worst_ap, worst = min(scored) if scored else (-1.0, -1)
        n, seconds = sums["images"], sums["seconds"]
        summary = {k: float(result[k]) for k in REPORTED if k in result}
        summary.update({"map_worst": float(worst_ap), "worst_class": int(worst),
                        "images_per_s": n / seconds if seconds > 0 else 0.0, "images": n})
        if per_class and scored:  # lists stay out of the training history (its rows are numbers)
            summary.update({"classes": [int(c) for c in result["classes"]],
                            "map_per_class": [float(v) for v in result["map_per_class"]]})
        if "proposals" in sums:
            summary.update(proposal_figures_from(sums["proposals"], sums["targets"]))
        return summary

    def evaluate(self, loader, per_class: bool | None = None) -> dict:
        """mAP figures over all of ``loader`` (eval mode, no graph); see the module docstring.  With
        ``per_class`` (default: the step's ``per_class``) also ``classes`` and ``map_per_class`` (lists)."""
        return self.figures_from_sums(self.evaluate_sums(loader), per_class)


def proposal_lists(model, loader) -> tuple:
    """``(proposals, targets)``, one entry per image of ``loader`` in its order, for a detector with proposals
    (``model.propose(images)``: R-CNN's selective search, Faster R-CNN's RPN, the sliding windows); None for
    one-stage detectors."""
    if not hasattr(model, "propose"):
        return None
    proposals, targets = [], []
    mode = model.training
    model.eval()
    try:
        for images, batch_targets in loader:
            proposals += list(model.propose(images))
            targets += _plain_targets(batch_targets)
    finally:
        model.train(mode)
    return proposals, targets


def proposal_figures_from(proposals, targets) -> dict:
    """``proposals_per_image`` and ``proposal_recall_50``, the share of ground-truth boxes some proposal of
    their image overlaps with IoU >= 0.5."""
    from ...vision.proposals import proposal_stats
    stats = proposal_stats(proposals, targets, 0.5)
    return {"proposals_per_image": stats["proposals_per_image"], "proposal_recall_50": stats["recall"]}


def proposal_figures(model, loader) -> dict:
    """The proposal figures (``proposal_figures_from``) of a detector with proposals over ``loader``; {} for
    one-stage detectors."""
    lists = proposal_lists(model, loader)
    return {} if lists is None else proposal_figures_from(*lists)


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
