"""Sequence classification of padded token batches: the step and its batches.

One step:  (tokens (B, T), lengths (B,), labels (B,)) -> logits = model(tokens, lengths)
           -> cross-entropy(logits, labels) -> backward -> before_optimizer_step -> step().
Batches hold sequences of similar length (``BucketBatchSampler``: little padding); evaluation sorts the
whole split by length once.  The validation figures are the loss, the accuracy and the macro-F1 (the
mean over classes of each class's F1, so that a rare book counts as much as the Psalms).
"""
from __future__ import annotations

import numpy as np

from ...ops.loss import cross_entropy
from ..metrics import accuracy, precision_recall_f1
from .base import Step
from .batches import BucketBatches

__all__ = ["SequenceBatches", "TextClassificationStep", "predict_sequences"]


SequenceBatches = BucketBatches  # a verse data set's batches: (tokens, lengths, labels)


def predict_sequences(model, loader) -> tuple:
    """``(logits (N, C), labels (N,), mean loss)`` of ``model`` over ``loader`` (in the loader's order; call
    in eval mode without a graph, e.g. through ``Step.run_eval``)."""
    logits, labels, loss_sum = [], [], 0.0
    for tokens, lengths, y in loader:
        out = model(tokens, lengths)
        loss_sum += float(cross_entropy(out, y).item()) * len(y.data)
        logits.append(out.data)
        labels.append(y.data)
    if not labels:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), 0.0
    logits, labels = np.concatenate(logits), np.concatenate(labels)
    return logits, labels, loss_sum / len(labels)


def classification_figures(logits, labels) -> dict:
    """Accuracy and macro-F1 (over all the model's classes) of logits (N, C) against labels (N,)."""
    _, _, f1 = precision_recall_f1(logits, labels, num_classes=logits.shape[1], average="macro")
    return {"accuracy": accuracy(logits, labels), "macro_f1": f1}


class TextClassificationStep(Step):
    """Cross-entropy of ``model(tokens, lengths)`` against the labels; the best checkpoint has the highest
    validation accuracy."""

    monitor = ("val_accuracy", "max")

    def __init__(self, model, optimizer):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer = model, optimizer

    def train_step(self, batch) -> dict:
        tokens, lengths, labels = batch
        self.optimizer.zero_grad()
        logits = self.model(tokens, lengths)
        loss = cross_entropy(logits, labels)
        return {"loss": self.minimize(loss, self.optimizer), "accuracy": accuracy(logits.data, labels.data),
                "batch_size": len(labels.data)}

    def predict(self, loader) -> tuple:
        """``(logits, labels, loss)`` over ``loader`` (eval mode, no graph)."""
        return self.run_eval(predict_sequences, self.model, loader)

    def evaluate(self, loader) -> dict:
        """Mean loss, accuracy and macro-F1 over all of ``loader``."""
        logits, labels, loss = self.predict(loader)
        return {"loss": loss, **classification_figures(logits, labels)} if len(labels) else {"loss": loss}
