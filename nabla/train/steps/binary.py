"""Binary classification on one logit per sample: the notes' binary log loss, end to end.

    z = model(x)  (B, 1)        loss = BCEWithLogitsLoss(z, t) = mean[softplus(z) - t z],  t in {0., 1.} (B, 1)

Training logs the loss and the accuracy at threshold 0 on the logit (p = sigmoid(z) > 1/2); ``evaluate``
adds precision, recall, F1, the ROC AUC and the log loss over the whole split (``nabla.train.binary_metrics``).
The data set's labels are 0/1 integers (B,); the step turns them into the float (B, 1) targets the loss wants.

Data parallelism: the ROC AUC ranks every score of the split against every other, and F1 is a ratio of counts,
so neither is a mean of the ranks' figures.  ``evaluate_sums(loader, rank, num_replicas)`` scores the rank's
contiguous share of the loader's samples and gives its logits and targets; ``add_sums`` concatenates the
shares in rank order (the loader's order) and ``figures_from_sums`` computes every figure from the whole split:
one process's figures (a few bytes a sample travel, once per evaluation).
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...autograd.tensor import Tensor
from ..binary_metrics import binary_accuracy, binary_scores
from .classification import SupervisedStep, main_output
from .sharding import evaluation_share


def binary_targets(y) -> np.ndarray:
    """0/1 labels of any integer or float dtype, (B,) or (B, 1), as float32 (B, 1)."""
    a = y.data if isinstance(y, Tensor) else np.asarray(y)
    return a.astype(np.float32, copy=False).reshape(-1, 1)


class BinaryStep(SupervisedStep):
    """``BCEWithLogitsLoss`` on the model's one logit; accuracy at threshold 0 while training; accuracy,
    precision, recall, F1, ROC AUC and log loss (``loss``) in ``evaluate``.  The best checkpoint has the
    highest validation accuracy."""

    default_loss = nn.BCEWithLogitsLoss
    monitor = ("val_accuracy", "max")

    def __init__(self, model, optimizer, loss_fn=None, metrics=None):
        super().__init__(model, optimizer, loss_fn, metrics=() if metrics is None else metrics)
        if metrics is None:
            self.metrics = [("accuracy", binary_accuracy)]

    def train_step(self, batch) -> dict:
        return super().train_step((batch[0], binary_targets(batch[1])))

    def _scores(self, loader) -> dict:
        logits, targets = [np.zeros(0, np.float32)], [np.zeros(0, np.float32)]
        for batch in loader:
            x = batch[0] if isinstance(batch[0], Tensor) else Tensor(batch[0])
            logits.append(main_output(self.model(x)).data.reshape(-1))
            targets.append(binary_targets(batch[1]).reshape(-1))
        return {"logits": np.concatenate(logits), "targets": np.concatenate(targets)}

    def _evaluate(self, loader) -> dict:
        return self.figures_from_sums(self._scores(loader))

    def evaluate_sums(self, loader, rank: int = 0, num_replicas: int = 1) -> dict:
        """``{"logits", "targets"}`` (N_r,) of the rank's share of ``loader`` (``evaluation_share``; eval mode, no
        graph): what the figures of the whole split are computed from once the shares are put together."""
        if num_replicas > 1:
            loader = evaluation_share(loader, rank, num_replicas, "BinaryStep.evaluate_sums")
        return self.run_eval(self._scores, loader)

    @staticmethod
    def add_sums(parts: list) -> dict:
        """The ranks' ``evaluate_sums`` one after another (rank order: the loader's order)."""
        return {k: np.concatenate([p[k] for p in parts]) for k in ("logits", "targets")}

    @staticmethod
    def figures_from_sums(sums: dict) -> dict:
        """Every figure of ``binary_scores`` over all the samples scored (``{"loss": 0.0}`` when none were)."""
        if not sums["targets"].size:
            return {"loss": 0.0}
        return binary_scores(sums["logits"], sums["targets"])
