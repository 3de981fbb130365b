"""Supervised steps on ``(x, y)`` batches: classification (cross-entropy, accuracy) and regression (MSE).

One step:  batch -> model(x) -> loss_fn(out, y) -> loss.backward() -> before_optimizer_step -> step().
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...autograd.tensor import Tensor
from .. import metrics as metric_fns
from .base import Step

_METRICS = {"accuracy": metric_fns.accuracy,
            "top5": lambda s, t: metric_fns.top_k_accuracy(s, t, 5)}


def main_output(out):
    """The logits of a model's output: models with auxiliary heads (GoogLeNet in training) return a tuple
    whose first element is the main output; the metrics score that one."""
    return out[0] if isinstance(out, tuple) else out


def metric_fn(m):
    """``(name, fn(scores, targets) -> float)`` for a metric name ("accuracy", "top5") or a callable."""
    if callable(m):
        return getattr(m, "__name__", "metric"), m
    if m not in _METRICS:
        raise ValueError(f"unknown metric {m!r}; choose from {sorted(_METRICS)} or pass a callable")
    return m, _METRICS[m]


def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class SupervisedStep(Step):
    """``model(x)`` scored by ``loss_fn(out, y)`` and by ``metrics`` on the main output."""

    default_loss = nn.MSELoss
    default_metrics: tuple = ()

    def __init__(self, model, optimizer, loss_fn=None, metrics=None):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer = model, optimizer
        self.loss_fn = loss_fn if loss_fn is not None else self.default_loss()
        self.metrics = [metric_fn(m) for m in (self.default_metrics if metrics is None else metrics)]

    def train_step(self, batch) -> dict:
        x, y = _tensor(batch[0]), _tensor(batch[1])
        self.optimizer.zero_grad()
        out = self.model(x)
        loss = self.loss_fn(out, y)
        logs = {"loss": self.minimize(loss, self.optimizer), "batch_size": len(y)}
        scores = main_output(out).data
        for name, fn in self.metrics:
            logs[name] = fn(scores, y.data)
        return logs

    def _evaluate(self, loader) -> dict:
        total, loss_sum, outs, targets = 0, 0.0, [], []
        for batch in loader:
            x, y = _tensor(batch[0]), _tensor(batch[1])
            out = self.model(x)
            loss_sum += float(self.loss_fn(out, y).item()) * len(y)
            total += len(y)
            outs.append(main_output(out).data)
            targets.append(y.data)
        result = {"loss": loss_sum / max(total, 1)}
        if total:
            scores, target = np.concatenate(outs), np.concatenate(targets)
            result.update({name: float(fn(scores, target)) for name, fn in self.metrics})
        return result

    def evaluate(self, loader) -> dict:
        """Mean loss and the metrics over all of ``loader`` (eval mode, no graph)."""
        return self.run_eval(self._evaluate, loader)

    def predict(self, loader) -> np.ndarray:
        """The model's main output for every batch, concatenated (eval mode, no graph)."""
        def run():
            outs = []
            for batch in loader:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                outs.append(main_output(self.model(_tensor(x))).data)
            return np.concatenate(outs) if outs else np.zeros((0,))
        return self.run_eval(run)


class ClassificationStep(SupervisedStep):
    """Cross-entropy on logits (a model with auxiliary heads: pass its training loss), accuracy."""

    default_loss = nn.CrossEntropyLoss
    default_metrics = ("accuracy",)
    monitor = ("val_accuracy", "max")


class RegressionStep(SupervisedStep):
    """Mean squared error; the best checkpoint has the lowest validation loss."""

    default_loss = nn.MSELoss
    default_metrics = ()
    monitor = ("val_loss", "min")
