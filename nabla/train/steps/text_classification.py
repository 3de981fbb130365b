"""Sequence classification of padded token batches: the step and its batches.

One step:  (tokens (B, T), lengths (B,), labels (B,)) -> logits = model(tokens, lengths)
           -> cross-entropy(logits, labels) -> backward -> before_optimizer_step -> step().
Batches hold sequences of similar length (``BucketBatchSampler``: little padding); evaluation sorts the
whole split by length once.  The validation figures are the loss, the accuracy and the macro-F1 (the
mean over classes of each class's F1, so that a rare book counts as much as the Psalms).

Data parallelism: ``evaluate_sums(loader)`` gives the sums the figures come from (the summed loss, the
sample count and the confusion matrix ``C[i, j]``); the ranks add theirs (``DDPStrategy.evaluate``) and
``figures_from_sums`` turns the total into the figures: accuracy ``trace(C) / n`` and macro-F1 from the
summed per-class counts (tp = C[i, i], fp = column sum - tp, fn = row sum - tp), never a mean of the
ranks' F1s, so the figures are one process's.
"""
from __future__ import annotations

import numpy as np

from ...ops.loss import cross_entropy
from ..metrics import accuracy, confusion_matrix, scores_from_confusion
from .base import Step
from .batches import BucketBatches
from .sharding import evaluation_share

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
        return self.figures_from_sums(self.evaluate_sums(loader))

    def evaluate_sums(self, loader, rank: int = 0, num_replicas: int = 1) -> dict:
        """``{"loss_sum", "n", "confusion"}`` over the rank's share of ``loader`` (``BucketBatches.shard``; the
        confusion None when it is empty): sums that add over the shards of a data set."""
        if num_replicas > 1:
            loader = evaluation_share(loader, rank, num_replicas, "TextClassificationStep.evaluate_sums")
        logits, labels, loss = self.predict(loader)
        cm = confusion_matrix(logits.argmax(1), labels, num_classes=logits.shape[1]) if len(labels) else None
        return {"loss_sum": loss * len(labels), "n": len(labels), "confusion": cm}

    @staticmethod
    def figures_from_sums(sums: dict) -> dict:
        """Mean loss, accuracy and macro-F1 from (summed) ``evaluate_sums`` (``scores_from_confusion``)."""
        n, cm = sums["n"], sums["confusion"]
        loss = sums["loss_sum"] / n if n else 0.0
        if not n:
            return {"loss": loss}
        return {"loss": loss, "accuracy": float(np.trace(cm) / n), "macro_f1": scores_from_confusion(cm)[2]}

    @staticmethod
    def add_sums(parts: list) -> dict:
        """The ``evaluate_sums`` of several shards added (empty shards skipped)."""
        full = [p for p in parts if p["n"]]
        return {"loss_sum": sum(p["loss_sum"] for p in full), "n": sum(p["n"] for p in full),
                "confusion": sum(p["confusion"] for p in full) if full else None}
