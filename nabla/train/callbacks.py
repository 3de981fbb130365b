"""Callbacks: code that runs at fixed points of ``Trainer.fit`` (Keras/Lightning style).

Hooks receive the trainer.  ``on_evaluate(trainer, logs)`` runs at each evaluation row (each epoch's
end, or every ``eval_every`` steps): ``logs`` holds the row (epoch, step, mean training loss and
metrics since the last row, ``val_*``, lr, time); checkpoints, logs and early stopping work there.
"""
from __future__ import annotations

import csv
import json
import math
import os


class Callback:
    def on_train_begin(self, trainer):
        pass

    def on_epoch_begin(self, trainer, epoch: int):
        pass

    def on_batch_end(self, trainer, batch: int, loss: float):
        pass

    def on_before_optimizer_step(self, trainer, parameters):
        """Between backward and the optimizer's step: the gradients are in ``p.grad``."""

    def on_evaluate(self, trainer, logs: dict):
        pass

    def on_epoch_end(self, trainer, epoch: int, logs: dict):
        pass

    def on_train_end(self, trainer):
        pass


def _better(mode: str, value: float, best: float | None, min_delta: float = 0.0) -> bool:
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def _mode_for(monitor: str, mode: str) -> str:
    if mode != "auto":
        return mode
    return "max" if "acc" in monitor or "f1" in monitor or "bleu" in monitor else "min"


def _best_in(history: dict, monitor: str, mode: str):
    values = [v for v in history.get(monitor, []) if v is not None and math.isfinite(v)]
    if not values:
        return None
    return min(values) if mode == "min" else max(values)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` evaluations (epochs)."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0, mode: str = "auto"):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = _mode_for(monitor, mode)
        self.best, self.wait, self.stopped_epoch = None, 0, None

    def on_evaluate(self, trainer, logs):
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitored value {self.monitor!r} is not logged; "
                           f"available: {sorted(logs)}")
        value = logs[self.monitor]
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = trainer.epoch - 1
                trainer.stop_training = True


class ModelCheckpoint(Callback):
    """Save ``last.safetensors`` at every evaluation and ``best.safetensors`` when ``monitor`` improves.

    Best is best within this run: a resumed run continues the comparison from its own history."""

    def __init__(self, directory, monitor: str = "val_loss", mode: str = "auto", save_last: bool = True,
                 save_best: bool = True):
        self.directory = os.fspath(directory)
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.save_last, self.save_best = save_last, save_best
        self.best = None
        self.written: list = []

    @property
    def last_path(self):
        return os.path.join(self.directory, "last.safetensors")

    @property
    def best_path(self):
        return os.path.join(self.directory, "best.safetensors")

    def on_train_begin(self, trainer):
        self.best = _best_in(trainer.history, self.monitor, self.mode)

    def on_evaluate(self, trainer, logs):
        if self.save_last:
            trainer.save_checkpoint(self.last_path)
            self._wrote(self.last_path)
        value = logs.get(self.monitor, logs.get(self.monitor.replace("val_", ""), None))
        if self.save_best and value is not None and _better(self.mode, value, self.best):
            self.best = value
            trainer.save_checkpoint(self.best_path)
            self._wrote(self.best_path)

    def _wrote(self, path):
        if path not in self.written:
            self.written.append(path)


def write_json(path, record: dict) -> None:
    """``record``'s numbers, strings and lists of them as JSON, written atomically (non-finite -> null)."""
    def plain(v):
        if isinstance(v, dict):
            return {str(k): plain(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, (bool, int, str)) or v is None:
            return v
        if isinstance(v, float) or hasattr(v, "item"):
            f = float(v)
            return f if math.isfinite(f) else None
        return str(v)
    _atomic_write(os.fspath(path), lambda f: json.dump(plain(record), f, indent=1))


def _atomic_write(path, write) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        write(f)
    os.replace(tmp, path)


class CSVLogger(Callback):
    """The whole history as a CSV file, one row per evaluation (``epoch`` counts from 1), rewritten at each
    evaluation, so a resumed run keeps the rows of its earlier part."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_evaluate(self, trainer, logs):
        hist = trainer.history
        keys = list(hist)
        n = max((len(v) for v in hist.values()), default=0)
        rows = [{k: hist[k][i] for k in keys if i < len(hist[k])} for i in range(n)]

        def write(f):
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
        _atomic_write(self.path, write)


class JSONLogger(Callback):
    """Write the whole history as JSON after every evaluation."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_evaluate(self, trainer, logs):
        hist = {k: [None if isinstance(v, float) and not math.isfinite(v) else v for v in vals]
                for k, vals in trainer.history.items()}
        _atomic_write(self.path, lambda f: json.dump(hist, f, indent=1))


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class ProgressLine(Callback):
    """One line per evaluation, as it happens (so ``--quiet`` runs still report): the epoch or step, the
    training loss and metrics, the validation figures, the time so far and an estimate of what is left."""

    def __init__(self, echo=print):
        self.echo = echo

    def _where(self, trainer, logs) -> str:
        epochs = trainer.budget.get("epochs")
        if not trainer.eval_every and float(logs["epoch"]).is_integer():
            return f"epoch {int(logs['epoch'])}" + (f"/{epochs:g}" if epochs else "")
        total = f"/{trainer.planned_steps}" if trainer.planned_steps else ""
        return f"step {logs['step']}{total} (epoch {logs['epoch']:.2f})"

    def _eta(self, trainer) -> str:
        left = []
        if trainer.planned_steps and trainer.global_step:
            left.append(trainer.elapsed / trainer.global_step * (trainer.planned_steps - trainer.global_step))
        if trainer.budget.get("time_budget"):
            left.append(trainer.budget["time_budget"] - trainer.elapsed)
        return _duration(min(left)) if left else "?"

    def on_evaluate(self, trainer, logs):
        skip = ("epoch", "step", "time", "lr", "eval_time")
        figures = "  ".join(f"{k} {v:.4f}" for k, v in logs.items() if k not in skip and isinstance(v, float))
        self.echo(f"{self._where(trainer, logs)}  {figures}  lr {logs['lr']:.3g}  {_duration(logs['time'])}"
                  f"  ETA {self._eta(trainer)}")
