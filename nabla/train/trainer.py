"""The one training loop.  What differs between tasks is a step object (``nabla.train.steps``); the loop
around it is written once, here:

    for each epoch:                      (set_epoch(epoch) on the loader or its sampler, where they have it)
        for each batch:
            set the learning rate        (a BudgetSchedule, or a scheduler stepped per step)
            step.train_step(batch)       forward, backward, before_optimizer_step (clipping), step()
            an evaluation row            every ``eval_every`` steps, or at each epoch's end
        scheduler.step()                 (per-epoch schedulers)
    until the budget is spent            epochs, steps or seconds of training (evaluation excluded)

Each evaluation row (``history``) holds the mean training figures since the last row, the step's
``evaluate`` on the validation data (``val_*``), the learning rate and the time; callbacks see it
(``on_evaluate``), and checkpoints are taken there.  A checkpoint holds everything a resumed run needs
to continue bit-identically: the step's state (weights, optimizers), the scheduler, the loader's state
at the start of the epoch and how many batches of it were done, the global random generator, the
history and the running sums.

With several processes (``strategy``: ``nabla.distributed.DDPStrategy``) the loop is the same; at the points
where the processes must agree it asks the strategy (``nabla.train.strategy``): gradients averaged first
thing in ``before_optimizer_step``, a NaN loss on any rank stops every rank, rank 0's clock and decision to
stop after each step, the training sums and the evaluation figures reduced over the ranks.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import backend
from ..autograd.tensor import from_numpy
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .schedules import BudgetSchedule
from .strategy import Strategy
from .steps.base import Step
from .steps.classification import ClassificationStep, main_output  # noqa: F401  (re-exported)

_CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def l1_weights(parameters) -> list:
    """The parameters the L1 penalty counts: weight matrices and kernels (2+ dimensions: Linear, Conv, Embedding,
    attention projections).  Biases and norm scales and shifts (1 dimension) are left out, as the notes' penalty
    lambda sum_j |w_j| runs over the weights and as PyTorch users leave them out of weight decay."""
    return [p for p in parameters if p.ndim >= 2]


def add_l1_subgradient_(parameters, strength: float) -> None:
    """grad <- grad + strength * sign(w) for each of ``l1_weights(parameters)`` that has a gradient: the gradient of
    strength * nn.l1_penalty(weights) (sign(0) = 0), added to the gradients instead of to the loss, so that it works
    for every step unchanged, a two-optimizer GAN step included (each optimizer's weights get it before their step).
    The gradient array is replaced, not written through (the engine may share one array between tensors)."""
    for p in l1_weights(parameters):
        if p.grad is not None:
            g = p.grad.data
            p.grad = from_numpy(g + np.sign(p.data).astype(g.dtype) * g.dtype.type(strength))


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def _progress_bar(iterable, total, desc, enabled):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True, unit="batch")


class Trainer:
    """Runs ``step`` (a ``Step``) until a budget is spent; see the module docstring.

    ``Trainer(model, loss_fn, optimizer, ...)`` (a model instead of a step) wraps them in a
    ``ClassificationStep`` with ``metrics``.  ``scheduler``: an ``optim.lr_scheduler`` scheduler, stepped
    once per epoch (``schedule_interval="epoch"``) or per optimizer step ("step"), or a
    ``BudgetSchedule`` (set before every step from the share of the budget spent).  ``config``: a
    JSON-able description stored in every checkpoint (``nabla eval`` rebuilds the model from it).
    ``clock``: what ``time_budget`` counts, "wall" seconds or this process's "cpu" seconds.  ``l1``: the L1
    penalty's lambda, added to the weights' gradients before each optimizer step (``add_l1_subgradient_``).
    ``strategy``: how many processes train together (``nabla.train.strategy``; default: this one alone)."""

    def __init__(self, step, loss_fn=None, optimizer=None, scheduler=None, metrics=("accuracy",), callbacks=(),
                 progress: bool = True, config: dict | None = None, clip_grad_norm: float | None = None,
                 schedule_interval: str = "epoch", log=None, clock: str = "wall", l1: float = 0.0,
                 strategy: Strategy | None = None):
        if not isinstance(step, Step):  # the classic form: Trainer(model, loss_fn, optimizer)
            step = ClassificationStep(step, optimizer, loss_fn, metrics)
        if schedule_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: schedule_interval must be 'epoch' or 'step', got {schedule_interval!r}")
        if clock not in _CLOCKS:
            raise ValueError(f"Trainer: clock must be 'wall' or 'cpu', got {clock!r}")
        if not (math.isfinite(l1) and l1 >= 0):
            raise ValueError(f"Trainer: l1 must be a finite number >= 0, got {l1}")
        self.step, step.trainer = step, self
        self.scheduler, self.schedule_interval = scheduler, schedule_interval
        self.callbacks = list(callbacks)
        if log is not None:
            from .callbacks import ProgressLine
            self.callbacks.append(ProgressLine(log))
        self.progress, self.config, self.clip_grad_norm, self.l1 = progress, dict(config or {}), clip_grad_norm, l1
        self.clock = _CLOCKS[clock]
        self.strategy = strategy if strategy is not None else Strategy()
        self.history: dict[str, list] = {}
        self.step_history: dict[str, list] = {}
        self.epoch = 0              # epochs completed
        self.global_step = 0        # optimizer steps done
        self._checked_step = -1     # the step whose loss check_finite already saw (one collective check a step)
        self.batch_in_epoch = 0     # batches of the current epoch done
        self.elapsed = 0.0          # seconds of training (evaluation excluded)
        self.stop_training = False
        self.train_loader = None
        self.planned_steps = None
        self._sums, self._epoch_loader_state, self._resumed = {}, None, False

    # ------------------------------------------------------------------ conveniences
    @property
    def model(self):
        return next(iter(self.step.models.values()))

    @property
    def optimizer(self):
        opts = self.step.optimizers()
        return opts[0] if opts else None

    def evaluate(self, data) -> dict:
        """The step's figures over all of ``data`` (with several processes: each evaluates a shard)."""
        return self.strategy.evaluate(self.step, data)

    def predict(self, data) -> np.ndarray:
        return self.step.predict(data)

    # ------------------------------------------------------------------ hooks the step calls
    def before_optimizer_step(self, parameters) -> None:
        """Between backward and each ``optimizer.step()``: the gradients are averaged over the processes (the
        strategy's), the L1 penalty's gradient is added (so callbacks and clipping see the whole objective's
        gradient, as if the penalty were in the loss), callbacks see the gradients, then clipping."""
        self.strategy.reduce_gradients(parameters)
        if self.l1:
            add_l1_subgradient_(parameters, self.l1)
        for cb in self.callbacks:
            hook = getattr(cb, "on_before_optimizer_step", None)
            if hook is not None:
                hook(self, parameters)
        if self.clip_grad_norm:
            from ..nn.utils import clip_grad_norm_
            clip_grad_norm_(parameters, self.clip_grad_norm)

    def check_finite(self, value: float) -> None:
        """TrainingDiverged if the loss is NaN or infinite (on any rank: every rank stops at the same step)."""
        bad = self.strategy.nonfinite_loss(value)
        self._checked_step = self.global_step
        if bad is not None:
            value, rank = bad
            lr = self.optimizer.param_groups[0]["lr"] if self.optimizer is not None else float("nan")
            where = "" if rank is None else f" on rank {rank}"
            raise TrainingDiverged(
                f"the loss became {value}{where} at epoch {self.epoch + 1}, batch {self.batch_in_epoch + 1} "
                f"(step {self.global_step + 1}, lr {lr:.3g}): training stopped. Try a smaller learning rate, "
                "gradient clipping, or check the inputs for NaN.")

    # ------------------------------------------------------------------ the budget
    def _plan(self, loader, epochs, max_steps, time_budget):
        if epochs is None and max_steps is None and time_budget is None:
            epochs = 1
        for name, v in (("epochs", epochs), ("max_steps", max_steps), ("time_budget", time_budget)):
            if v is not None and not (v > 0 and math.isfinite(v)):
                raise ValueError(f"Trainer.fit: {name} must be a positive number, got {v}")
        per_epoch = len(loader) if hasattr(loader, "__len__") else None
        planned = math.inf
        if epochs is not None and per_epoch is not None:
            planned = int(math.ceil(epochs * per_epoch))
        if max_steps is not None:
            planned = min(planned, int(max_steps))
        self.planned_steps = None if planned == math.inf else planned
        self.budget = {"epochs": epochs, "max_steps": max_steps, "time_budget": time_budget,
                       "steps_per_epoch": per_epoch}

    def progress_fraction(self) -> float:
        """The share of the budget spent: steps over planned steps, or seconds over the time budget."""
        p = self.global_step / self.planned_steps if self.planned_steps else 0.0
        if self.budget.get("time_budget"):
            p = max(p, self.elapsed / self.budget["time_budget"])
        return p

    def budget_spent(self, loader=None, epochs=None, max_steps=None, time_budget=None) -> bool:
        """Whether the budget is spent; given a loader and a budget, that budget is planned first (a resumed
        run asks this before training: is there anything left to do?)."""
        if loader is not None:
            self._plan(loader, epochs, max_steps, time_budget)
        return self._step_budget_spent() or (self.budget["epochs"] is not None and self.epoch >= self.budget["epochs"])

    # ------------------------------------------------------------------ the loop
    def fit(self, train_data, val_data=None, epochs=None, max_steps: int | None = None,
            time_budget: float | None = None, eval_every: int | None = None):
        """Train until ``epochs`` epochs, ``max_steps`` steps or ``time_budget`` seconds are done (counting
        what a resumed run already did), whichever comes first; returns ``history``."""
        self._plan(train_data, epochs, max_steps, time_budget)
        self.train_loader, self.val_data, self.eval_every = train_data, val_data, eval_every
        self.stop_training = False
        self.strategy.setup(self)
        self._call("on_train_begin")
        while not self.budget_spent() and not self.stop_training:
            finished_epoch = self._run_epoch(train_data)
            if not finished_epoch:
                break
        if self._sums:  # steps since the last row: one more row (a step budget inside an epoch)
            self._evaluation_row()
        self._base_lrs_back()
        self._call("on_train_end")
        return self.history

    def _run_epoch(self, loader) -> bool:
        """One epoch (or the rest of it, after a resume); True when it ran to its end."""
        epoch = self.epoch
        if not self.batch_in_epoch:  # a resume mid-epoch keeps what the step carries (an LM's state)
            self.step.begin_epoch(epoch)
            self._call("on_epoch_begin", epoch)
        batches = self._epoch_batches(loader, epoch)
        per_epoch = total = len(loader) if hasattr(loader, "__len__") else None
        if total is not None and self.planned_steps is not None:  # a step budget that ends inside the epoch
            total = min(total, self.planned_steps - self.global_step + self.batch_in_epoch)
        desc = f"epoch {epoch + 1}" + (f"/{self.budget['epochs']:g}" if self.budget["epochs"] else "")
        bar = _progress_bar(batches, total, desc, self.progress)
        if bar is not batches and self.batch_in_epoch:
            bar.update(self.batch_in_epoch)
        self.step.train(True)
        start = self.clock()
        ran_to_end = True
        for batch in bar:
            self._one_step(batch, bar)
            self.elapsed += self.clock() - start
            if self.eval_every and self.global_step % self.eval_every == 0:
                self._evaluation_row()
            self._agree()
            if self._step_budget_spent():  # the budget ends inside the epoch, or exactly at its end
                ran_to_end = per_epoch is not None and self.batch_in_epoch >= per_epoch
                break
            start = self.clock()
        if bar is not batches:
            bar.close()
        if ran_to_end:
            self._end_epoch(epoch)
            self._agree()
        return ran_to_end

    def _agree(self) -> None:
        """Every process takes rank 0's clock and decision to stop (one process: nothing changes)."""
        self.elapsed, self.stop_training = self.strategy.agree(self.elapsed, self.stop_training)

    def _step_budget_spent(self) -> bool:
        b = self.budget
        if self.stop_training or (self.planned_steps is not None and self.global_step >= self.planned_steps):
            return True
        return b["time_budget"] is not None and self.elapsed >= b["time_budget"]

    def _epoch_batches(self, loader, epoch):
        """The epoch's batches; after a mid-epoch resume, the loader is put back where the epoch began
        and the batches already done are skipped (the global generator restored after the skip)."""
        if hasattr(loader, "set_epoch"):
            loader.set_epoch(epoch)
        elif hasattr(getattr(loader, "sampler", None), "set_epoch"):  # a DistributedSampler, as PyTorch users call it
            loader.sampler.set_epoch(epoch)
        if self._resumed and self._epoch_loader_state is not None and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(self._epoch_loader_state)
        elif hasattr(loader, "state_dict"):
            self._epoch_loader_state = loader.state_dict()
        it = iter(loader)
        if self._resumed and self.batch_in_epoch:
            rng = backend.get_rng_state()
            for _ in range(self.batch_in_epoch):
                next(it)
            backend.set_rng_state(rng)
        self._resumed = False
        return it

    def _one_step(self, batch, bar) -> dict:
        self._set_budget_lr()
        logs = self.step.train_step(batch)
        if self._checked_step != self.global_step:  # a step that does not check its own loss (Step.minimize does)
            self.check_finite(logs["loss"])
        self.global_step += 1
        self.batch_in_epoch += 1
        n = logs.pop("batch_size", 1)
        self._sums["_n"] = self._sums.get("_n", 0) + n
        for k, v in logs.items():
            self._sums[k] = self._sums.get(k, 0.0) + v * n
            self.step_history.setdefault(k, []).append(v)
        if self.scheduler is not None and self.schedule_interval == "step" \
                and not isinstance(self.scheduler, BudgetSchedule):
            self.scheduler.step()
        for cb in self.callbacks:
            cb.on_batch_end(self, self.batch_in_epoch - 1, logs["loss"])
        if bar is not None and hasattr(bar, "set_postfix") and self.batch_in_epoch % 10 == 1:
            bar.set_postfix({k: f"{v / self._sums['_n']:.4f}" for k, v in self._sums.items() if k != "_n"},
                            refresh=False)
        return logs

    def _set_budget_lr(self) -> None:
        if not isinstance(self.scheduler, BudgetSchedule):
            return
        progress = self.progress_fraction()
        for g in self.step_groups():
            g["lr"] = self.scheduler.lr(g.setdefault("initial_lr", g["lr"]), self.global_step, progress)

    def step_groups(self):
        return [g for opt in self.step.optimizers() for g in opt.param_groups]

    def _base_lrs_back(self) -> None:
        """A budget schedule leaves each group at its base rate (what a later run starts from)."""
        if isinstance(self.scheduler, BudgetSchedule):
            for g in self.step_groups():
                if "initial_lr" in g:
                    g["lr"] = g.pop("initial_lr")

    def _end_epoch(self, epoch: int) -> None:
        self.epoch = epoch + 1
        self.batch_in_epoch = 0
        self._epoch_loader_state = None  # a checkpoint now records the loader as the next epoch finds it
        row = None if self.eval_every else self._evaluation_row(epoch_end=True, notify=False)
        if self.scheduler is not None and self.schedule_interval == "epoch" \
                and not isinstance(self.scheduler, BudgetSchedule):
            if type(self.scheduler).__name__ == "ReduceLROnPlateau":
                source = row or self.history
                self.scheduler.step(_last(source, "val_loss", _last(source, "loss", 0.0)))
            else:
                self.scheduler.step()
        if row is not None:  # after the scheduler's step: a checkpoint taken now resumes the next epoch
            self._call("on_evaluate", row)
        self._call("on_epoch_end", epoch, row if row is not None else {})

    def _evaluation_row(self, epoch_end: bool = False, notify: bool = True) -> dict:
        """Close the running means into a history row, add the validation figures, tell the callbacks."""
        self._sums = self.strategy.reduce_sums(self._sums)  # every rank's samples (one process: its own)
        n = self._sums.pop("_n", 0)
        row = {"epoch": self.epoch if epoch_end else self.epoch + self.batch_in_epoch / max(
            self.budget.get("steps_per_epoch") or 1, 1), "step": self.global_step}
        row.update({k: v / max(n, 1) for k, v in self._sums.items()})
        self._sums = {}
        if self.val_data is not None:
            t0 = time.perf_counter()
            row.update({f"val_{k}": v for k, v in self.evaluate(self.val_data).items()})
            row["eval_time"] = time.perf_counter() - t0
            self.step.train(True)
        groups = self.step_groups()
        row["lr"] = groups[0]["lr"] if groups else 0.0
        row["time"] = self.elapsed
        for k, v in row.items():
            self.history.setdefault(k, []).append(v)
        if notify:
            self._call("on_evaluate", row)
        return row

    def _call(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            fn = getattr(cb, hook, None)
            if fn is not None:
                fn(self, *args)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        state = dict(self.step.state_dict())
        state.update({"epoch": self.epoch, "global_step": self.global_step, "batch_in_epoch": self.batch_in_epoch,
                      "elapsed": self.elapsed, "history": self.history, "rng": backend.get_rng_state(),
                      "config": self.config, "running": dict(self._sums)})
        if self.scheduler is not None and hasattr(self.scheduler, "state_dict"):
            state["scheduler"] = self.scheduler.state_dict()
        if self._epoch_loader_state is not None:  # the loader as it was when this epoch began
            state["loader"] = self._epoch_loader_state
        elif hasattr(self.train_loader, "state_dict"):
            state["loader"] = self.train_loader.state_dict()
        return state

    def save_checkpoint(self, path) -> str:
        return save_checkpoint(path, self.state_dict())

    def load_state_dict(self, state: dict) -> None:
        try:
            self.step.load_state_dict(state)
        except KeyError as e:
            raise CheckpointError(f"checkpoint lacks {e}: it was not written by Trainer.save_checkpoint") from None
        if self.scheduler is not None and "scheduler" in state and hasattr(self.scheduler, "load_state_dict"):
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = int(state.get("epoch", 0))
        self.global_step = int(state.get("global_step", 0))
        self.batch_in_epoch = int(state.get("batch_in_epoch", 0))
        self.elapsed = float(state.get("elapsed", 0.0))
        self.history = {k: list(v) for k, v in state.get("history", {}).items()}
        self._sums = dict(state.get("running", {}))
        if "rng" in state:
            backend.set_rng_state(state["rng"])
        self._epoch_loader_state = state.get("loader")
        self._resumed = True

    def resume(self, path, train_data=None) -> dict:
        """Load a checkpoint written by ``save_checkpoint``; ``fit`` then continues where it stopped."""
        state = load_checkpoint(path)
        self.load_state_dict(state)
        if train_data is not None:
            self.train_loader = train_data
        return state


def _last(history_or_row: dict, key: str, default):
    v = history_or_row.get(key, default)
    return v[-1] if isinstance(v, list) and v else (default if isinstance(v, list) else v)


def fit(model, loss_fn, optimizer, train_data, val_data=None, epochs: int = 1, metrics=("accuracy",),
        scheduler=None, callbacks=(), progress: bool = True, **kwargs):
    """Train ``model`` for ``epochs`` epochs and return the history (see ``Trainer``)."""
    trainer = Trainer(model, loss_fn, optimizer, scheduler=scheduler, metrics=metrics, callbacks=callbacks,
                      progress=progress, **kwargs)
    return trainer.fit(train_data, val_data=val_data, epochs=epochs)
