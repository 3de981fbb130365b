"""What several experiments share: data sets by their registered name, training a classifier for a
fixed number of steps through ``nabla.train.Trainer``, evaluation, curve summaries and progress lines.

Data sets come from the registry (``nabla.data.datasets.get_dataset``), so an experiment names the
same data sets ``nabla train`` does, and a missing one is fetched (``download=True``) or reported by
the data layer exactly as there.
"""
from __future__ import annotations

import time

import numpy as np

from .. import nn, optim
from ..data import DataLoader, Subset
from ..data.datasets import get_dataset
from ..data.transforms import Normalize
from ..train import Callback, ClassificationStep, Trainer, TrainingDiverged

__all__ = ["load_dataset", "load_images", "random_subset", "tail_mean", "moving_average", "at", "format_claims",
           "say", "Heartbeat", "make_optimizer", "train_classifier", "evaluate", "GradientRecorder"]


# ------------------------------------------------------------------ data
def load_dataset(name: str, train: bool = True, download: bool = True, **kwargs):
    """The data set registered as ``name`` (its training or test split; ``split=`` for the text sets)."""
    return get_dataset(name, train=train, download=download, **kwargs)


def random_subset(ds, n: int | None, seed: int = 0):
    """A random subset of ``n`` samples of ``ds`` in their original order (``ds`` itself when n covers it)."""
    if n is None or n >= len(ds):
        return ds
    return Subset(ds, np.sort(np.random.default_rng(seed).permutation(len(ds))[:n]))


def load_images(name: str, n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                download: bool = True):
    """(train, test) of an image data set, standardised by the training pixels' mean and std, each cut to
    a random subset of n_train / n_test images when given (one generator, train first)."""
    train, test = load_dataset(name, True, download), load_dataset(name, False, download)
    pixels = train.data.data
    mean, std = float(pixels.mean()) / train.max_value, float(pixels.std()) / train.max_value
    train.transform = test.transform = Normalize([mean], [std])
    rng = np.random.default_rng(seed)
    if n_train is not None and n_train < len(train):
        train = Subset(train, np.sort(rng.permutation(len(train))[:n_train]))
    if n_test is not None and n_test < len(test):
        test = Subset(test, np.sort(rng.permutation(len(test))[:n_test]))
    return train, test


# ------------------------------------------------------------------ numbers and words
def tail_mean(losses, fraction: float = 0.1) -> float:
    """Mean of the last ``fraction`` of a loss curve (inf when it diverged)."""
    losses = np.asarray(losses, dtype=np.float64)
    if len(losses) == 0 or not np.isfinite(losses).all():
        return float("inf")
    return float(losses[-max(1, int(len(losses) * fraction)):].mean())


def moving_average(values, points: int = 20) -> np.ndarray:
    """A curve smoothed over windows of len/points samples (for plots)."""
    values = np.asarray(values, dtype=np.float64)
    k = max(1, len(values) // points)
    return np.convolve(values, np.ones(k) / k, mode="valid")


def at(mapping: dict, key):
    """``mapping[key]``, also after a JSON round trip (where number keys became strings)."""
    return mapping[key] if key in mapping else mapping[str(key)]


def format_claims(claims: dict) -> str:
    """'Claims: <claim>: yes; <claim>: NO' (the end of most verdicts)."""
    return "Claims: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in claims.items())


def say(echo, experiment: str, label: str, steps: int, loss: float, seconds: float, extra: str = "") -> None:
    """One progress line per trained configuration: 'residual: plain-56 100 steps, loss 1.23, 12.3 s'."""
    if echo is not None:
        echo(f"{experiment}: {label} {steps} steps, loss {loss:.4g}{extra}, {seconds:.1f} s")


class Heartbeat(Callback):
    """A progress line every ``every`` seconds of a long training run, so a full-budget experiment is never
    silent for long: '<label> step 40/100, loss 1.93, 21.0 s' (the mean loss since the last line)."""

    def __init__(self, echo, label: str, every: float = 20.0):
        self.echo, self.label, self.every = echo, label, every
        self.start = self.last = time.perf_counter()
        self.recent = []

    def on_train_begin(self, trainer):
        self.start = self.last = time.perf_counter()

    def on_batch_end(self, trainer, batch, loss):
        self.recent.append(loss)
        now = time.perf_counter()
        if self.echo is None or now - self.last < self.every:
            return
        planned = trainer.planned_steps if trainer.budget.get("time_budget") is None else None
        self.echo(f"{self.label} step {trainer.global_step}" + (f"/{planned}" if planned else "")
                  + f", loss {float(np.mean(self.recent)):.4g}, {now - self.start:.1f} s")
        self.last, self.recent = now, []


# ------------------------------------------------------------------ training
def make_optimizer(model, name: str = "adam", lr: float = 1e-3, momentum: float = 0.9):
    """Adam, or SGD (with ``momentum``) when name is 'sgd'."""
    if name == "adam":
        return optim.Adam(model.parameters(), lr=lr)
    return optim.SGD(model.parameters(), lr=lr, momentum=momentum)


class GradientRecorder(Callback):
    """Records ``fn()`` (e.g. a gradient norm) after each backward pass, before the update."""

    def __init__(self, fn):
        self.fn, self.values = fn, []

    def on_before_optimizer_step(self, trainer, parameters):
        self.values.append(self.fn())


def train_classifier(model, train, steps: int | None = None, epochs: int | None = None, batch_size: int = 64,
                     optimizer=None, seed: int = 0, loss_fn=None, callbacks=(), drop_last: bool | None = None,
                     clip_grad_norm: float | None = None, metrics=(), echo=None, label: str = "") -> dict:
    """Train ``model`` on ``train`` through the Trainer for ``steps`` mini-batches (or ``epochs`` passes),
    reshuffling each pass (``DataLoader(seed=seed)``: the same batches for every model).

    ``optimizer`` defaults to Adam (lr 1e-3); ``loss_fn`` to cross-entropy (a model with auxiliary heads
    passes its registry entry's ``training_loss``).  A loss that stops being finite ends the run with
    ``diverged=True``.  ``metrics`` are computed per step (``trainer.step_history``) and by
    ``trainer.evaluate``.  ``echo`` receives a line every 20 s of a long run, headed by ``label``.  Returns
    the per-step losses, the wall time, the time per step, and the trainer."""
    optimizer = optimizer if optimizer is not None else make_optimizer(model)
    if drop_last is None:
        drop_last = len(train) > batch_size
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed, drop_last=drop_last)
    callbacks = list(callbacks) + ([Heartbeat(echo, label)] if echo is not None else [])
    trainer = Trainer(ClassificationStep(model, optimizer, loss_fn=loss_fn, metrics=metrics), callbacks=callbacks,
                      clip_grad_norm=clip_grad_norm, progress=False)
    model.train()
    diverged = False
    start = time.perf_counter()
    try:
        trainer.fit(loader, epochs=epochs, max_steps=steps)
    except TrainingDiverged:
        diverged = True
    elapsed = time.perf_counter() - start
    losses = np.asarray(trainer.step_history.get("loss", []), dtype=np.float64)
    if diverged and (len(losses) == 0 or np.isfinite(losses[-1])):
        losses = np.append(losses, np.inf)          # the step whose loss was not finite
    return {"losses": losses, "time": elapsed, "time_per_step": elapsed / max(1, len(losses)),
            "diverged": diverged, "trainer": trainer}


def evaluate(model, test, batch_size: int = 500) -> dict:
    """Accuracy and mean cross-entropy on ``test`` in eval mode."""
    trainer = Trainer(ClassificationStep(model, None, loss_fn=nn.CrossEntropyLoss()), progress=False)
    result = trainer.evaluate(DataLoader(test, batch_size=batch_size))
    model.train()
    return {"accuracy": float(result["accuracy"]), "loss": float(result["loss"])}


class CpuBudget(Callback):
    """Stops training once ``budget`` seconds of this process's CPU time went to training (never before
    ``min_epochs`` whole epochs).  With ``test`` data, the test accuracy after each whole epoch is recorded
    as (epochs, training CPU seconds, accuracy); the evaluation's own CPU time is not counted."""

    def __init__(self, budget: float, test=None, min_epochs: int = 0):
        self.budget, self.test, self.min_epochs = budget, test, min_epochs
        self.start, self.excluded, self.epochs = 0.0, 0.0, []

    def cpu(self) -> float:
        """CPU seconds spent training so far."""
        return time.process_time() - self.start - self.excluded

    def on_train_begin(self, trainer):
        self.start, self.excluded = time.process_time(), 0.0

    def on_batch_end(self, trainer, batch, loss):
        if self.cpu() >= self.budget and trainer.epoch >= self.min_epochs:
            trainer.stop_training = True

    def on_epoch_end(self, trainer, epoch, logs):
        spent = self.cpu()
        if self.test is not None:
            t0 = time.process_time()
            accuracy = evaluate(trainer.model, self.test)["accuracy"]
            self.epochs.append({"epochs": epoch + 1, "cpu": spent, "accuracy": accuracy})
            self.excluded += time.process_time() - t0
        if spent >= self.budget and epoch + 1 >= self.min_epochs:    # spent while finishing the last epoch
            trainer.stop_training = True
