"""The training loop: fit / evaluate / predict, with a progress bar, validation, history, callbacks
and checkpoints that resume exactly.

One step is the path every model walks:
    batch -> model(x) -> loss_fn(out, y) -> loss.backward() -> optimizer.step() -> next batch
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import backend
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from . import metrics as metric_fns
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint

_METRICS = {"accuracy": metric_fns.accuracy,
            "top5": lambda s, t: metric_fns.top_k_accuracy(s, t, 5)}


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def _metric_fn(m):
    if callable(m):
        return getattr(m, "__name__", "metric"), m
    if m not in _METRICS:
        raise ValueError(f"unknown metric {m!r}; choose from {sorted(_METRICS)} or pass a callable")
    return m, _METRICS[m]


def _progress(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - an install requirement
        return iterable
    return tqdm(iterable, total=total, desc=desc, leave=True, dynamic_ncols=True, unit="batch")


def main_output(out):
    """The logits of a model's output: models with auxiliary heads (GoogLeNet in training) return a tuple
    whose first element is the main output; the metrics score that one."""
    return out[0] if isinstance(out, tuple) else out


def _to_tensor(x):
    return x if isinstance(x, Tensor) else Tensor(x)


class Trainer:
    """Trains ``model`` with ``loss_fn`` and ``optimizer``; see ``fit``.

    config: a JSON-able description of the model (e.g. {"model": "mlp", "kwargs": {...}}) stored in
    every checkpoint so that the model can be rebuilt from the file alone (``nabla eval``)."""

    def __init__(self, model, loss_fn, optimizer, scheduler=None, metrics=("accuracy",), callbacks=(),
                 progress: bool = True, config: dict | None = None, clip_grad_norm: float | None = None):
        self.model, self.loss_fn, self.optimizer, self.scheduler = model, loss_fn, optimizer, scheduler
        self.metrics = [_metric_fn(m) for m in metrics]
        self.callbacks = list(callbacks)
        self.progress = progress
        self.config = dict(config or {})
        self.clip_grad_norm = clip_grad_norm
        self.history: dict[str, list] = {}
        self.epoch = 0  # epochs completed
        self.stop_training = False
        self.train_loader = None
        self._loader_state = None

    # ------------------------------------------------------------------ one epoch
    def _train_epoch(self, loader, epoch, epochs):
        model, opt = self.model, self.optimizer
        model.train()
        total, loss_sum = 0, 0.0
        sums = {name: 0.0 for name, _ in self.metrics}
        start = time.perf_counter()
        bar = _progress(loader, len(loader) if hasattr(loader, "__len__") else None,
                        f"epoch {epoch + 1}/{epochs}", self.progress)
        for i, (x, y) in enumerate(bar):
            x, y = _to_tensor(x), _to_tensor(y)
            opt.zero_grad()
            out = model(x)
            loss = self.loss_fn(out, y)
            value = float(loss.item())
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"the loss became {value} at epoch {epoch + 1}, batch {i + 1}: training stopped. "
                    "Try a smaller learning rate, gradient clipping, or check the inputs for NaN.")
            loss.backward()
            if self.clip_grad_norm is not None:
                from ..nn.utils import clip_grad_norm_
                clip_grad_norm_(model.parameters(), self.clip_grad_norm)
            opt.step()
            n = len(y)
            total += n
            loss_sum += value * n
            for name, fn in self.metrics:
                sums[name] += fn(main_output(out).data, y.data) * n
            for cb in self.callbacks:
                cb.on_batch_end(self, i, value)
            if bar is not loader and (i % 10 == 0):
                elapsed = time.perf_counter() - start
                post = {"loss": f"{loss_sum / total:.4f}"}
                post.update({k: f"{v / total:.4f}" for k, v in sums.items()})
                post["samples/s"] = f"{total / max(elapsed, 1e-9):.0f}"
                bar.set_postfix(post, refresh=False)
        if bar is not loader:
            bar.close()
        logs = {"loss": loss_sum / max(total, 1)}
        logs.update({k: v / max(total, 1) for k, v in sums.items()})
        logs["time"] = time.perf_counter() - start
        logs["samples_per_s"] = total / max(logs["time"], 1e-9)
        return logs

    # ------------------------------------------------------------------ public API
    def fit(self, train_data, val_data=None, epochs: int = 1):
        """Train until ``epochs`` epochs are complete (counting those a resumed run already did)."""
        self.train_loader = train_data
        self.stop_training = False
        for cb in self.callbacks:
            cb.on_train_begin(self)
        while self.epoch < epochs and not self.stop_training:
            epoch = self.epoch
            for cb in self.callbacks:
                cb.on_epoch_begin(self, epoch)
            logs = self._train_epoch(train_data, epoch, epochs)
            if val_data is not None:
                logs.update({f"val_{k}": v for k, v in self.evaluate(val_data).items()})
            logs["lr"] = self.optimizer.param_groups[0]["lr"]
            if self.scheduler is not None:
                if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                    self.scheduler.step(logs.get("val_loss", logs["loss"]))
                else:
                    self.scheduler.step()
            self.epoch = epoch + 1
            for k, v in logs.items():
                self.history.setdefault(k, []).append(v)
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch, logs)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def predict(self, data) -> np.ndarray:
        """The model's outputs for every batch, concatenated (eval mode, no graph)."""
        self.model.eval()
        outs = []
        with no_grad():
            for batch in data:
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                outs.append(main_output(self.model(_to_tensor(x))).data)
        return np.concatenate(outs) if outs else np.zeros((0,))

    def evaluate(self, data) -> dict:
        """Mean loss and the metrics over all of ``data`` (eval mode, no graph)."""
        self.model.eval()
        total, loss_sum, outs, targets = 0, 0.0, [], []
        with no_grad():
            for x, y in data:
                x, y = _to_tensor(x), _to_tensor(y)
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

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        state = {
            "model": {k: v for k, v in self.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "history": self.history,
            "rng": backend.get_rng_state(),
            "config": self.config,
        }
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        if hasattr(self.train_loader, "state_dict"):  # the loader's shuffling generator
            state["loader"] = self.train_loader.state_dict()
        return state

    def save_checkpoint(self, path) -> str:
        return save_checkpoint(path, self.state_dict())

    def load_state_dict(self, state: dict) -> None:
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except KeyError as e:
            raise CheckpointError(f"checkpoint lacks {e}: it was not written by Trainer.save_checkpoint") from None
        if self.scheduler is not None and "scheduler" in state:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state.get("epoch", 0))
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}
        if "rng" in state:
            backend.set_rng_state(state["rng"])
        self._loader_state = state.get("loader")

    def resume(self, path, train_data=None) -> dict:
        """Load a checkpoint written by ``save_checkpoint``; ``fit`` then continues where it stopped."""
        state = load_checkpoint(path)
        self.load_state_dict(state)
        loader = train_data if train_data is not None else self.train_loader
        if self._loader_state is not None and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(self._loader_state)
        self.train_loader = loader
        return state


def fit(model, loss_fn, optimizer, train_data, val_data=None, epochs: int = 1, metrics=("accuracy",),
        scheduler=None, callbacks=(), progress: bool = True, **kwargs):
    """Train ``model`` for ``epochs`` epochs and return the history (see ``Trainer``)."""
    trainer = Trainer(model, loss_fn, optimizer, scheduler=scheduler, metrics=metrics, callbacks=callbacks,
                      progress=progress, **kwargs)
    return trainer.fit(train_data, val_data=val_data, epochs=epochs)
