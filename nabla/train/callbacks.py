"""Callbacks: code that runs at fixed points of ``Trainer.fit`` (Keras/Lightning style).

Hooks receive the trainer; ``logs`` holds the epoch's numbers (loss, metrics, val_*, lr, time).
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
    return "max" if "acc" in monitor or "f1" in monitor else "min"


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(self, monitor: str = "val_loss", patience: int = 3, min_delta: float = 0.0, mode: str = "auto"):
        self.monitor, self.patience, self.min_delta = monitor, patience, min_delta
        self.mode = _mode_for(monitor, mode)
        self.best, self.wait, self.stopped_epoch = None, 0, None

    def on_epoch_end(self, trainer, epoch, logs):
        if self.monitor not in logs:
            raise KeyError(f"EarlyStopping: monitored value {self.monitor!r} is not logged; "
                           f"available: {sorted(logs)}")
        value = logs[self.monitor]
        if _better(self.mode, value, self.best, self.min_delta):
            self.best, self.wait = value, 0
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                trainer.stop_training = True


class ModelCheckpoint(Callback):
    """Save ``last.safetensors`` every epoch and ``best.safetensors`` when ``monitor`` improves."""

    def __init__(self, directory, monitor: str = "val_loss", mode: str = "auto", save_last: bool = True,
                 save_best: bool = True):
        self.directory = os.fspath(directory)
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.save_last, self.save_best = save_last, save_best
        self.best = None

    @property
    def last_path(self):
        return os.path.join(self.directory, "last.safetensors")

    @property
    def best_path(self):
        return os.path.join(self.directory, "best.safetensors")

    def on_epoch_end(self, trainer, epoch, logs):
        if self.save_last:
            trainer.save_checkpoint(self.last_path)
        value = logs.get(self.monitor, logs.get(self.monitor.replace("val_", ""), None))
        if self.save_best and value is not None and _better(self.mode, value, self.best):
            self.best = value
            trainer.save_checkpoint(self.best_path)


class CSVLogger(Callback):
    """Append each epoch's logs as a row of a CSV file."""

    def __init__(self, path):
        self.path = os.fspath(path)
        self.rows = []

    def on_epoch_end(self, trainer, epoch, logs):
        self.rows.append({"epoch": epoch, **logs})
        keys = list(dict.fromkeys(k for row in self.rows for k in row))
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.rows)
        os.replace(tmp, self.path)


class JSONLogger(Callback):
    """Write the whole history as JSON after every epoch."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def on_epoch_end(self, trainer, epoch, logs):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({k: [None if isinstance(v, float) and not math.isfinite(v) else v for v in vals]
                       for k, vals in trainer.history.items()}, f, indent=1)
        os.replace(tmp, self.path)
