"""Binary classification on one logit per sample: the notes' binary log loss, end to end.

    z = model(x)  (B, 1)        loss = BCEWithLogitsLoss(z, t) = mean[softplus(z) - t z],  t in {0., 1.} (B, 1)

Training logs the loss and the accuracy at threshold 0 on the logit (p = sigmoid(z) > 1/2); ``evaluate``
adds precision, recall, F1, the ROC AUC and the log loss over the whole split (``nabla.train.binary_metrics``).
The data set's labels are 0/1 integers (B,); the step turns them into the float (B, 1) targets the loss wants.
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...autograd.tensor import Tensor
from ..binary_metrics import binary_accuracy, binary_scores
from .classification import SupervisedStep, main_output


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

    def _evaluate(self, loader) -> dict:
        logits, targets = [], []
        for batch in loader:
            x = batch[0] if isinstance(batch[0], Tensor) else Tensor(batch[0])
            logits.append(main_output(self.model(x)).data.reshape(-1))
            targets.append(binary_targets(batch[1]).reshape(-1))
        if not logits:
            return {"loss": 0.0}
        return binary_scores(np.concatenate(logits), np.concatenate(targets))
