"""Step: what one task does in one training step; the Trainer runs the loop around it.

This is Chainer's Trainer/Updater split (Lightning calls it ``training_step``): the loop -- budget,
learning-rate schedule, evaluation cadence, callbacks, checkpoints, exact resume -- is written once in
``Trainer``; a task contributes only a step object:

    train_step(batch) -> dict of floats     forward, backward, and its optimizer(s); between backward and
                                            each ``optimizer.step()`` it calls
                                            ``self.trainer.before_optimizer_step(parameters)`` (gradient
                                            clipping, callbacks, later the data-parallel reduction)
    evaluate(loader) -> dict of floats      eval mode, no graph
    monitor = (key, "max" | "min")          the figure that picks the best checkpoint ("val_" + a key
                                            of ``evaluate``)
    optimizers() -> list                    the Trainer's schedulers drive them
    state_dict() / load_state_dict()        models, optimizers, the step's own RNG and counters

``train_step`` returns at least ``"loss"``; a ``"batch_size"`` entry weights the epoch means (it is not
logged).  A two-optimizer step (a GAN: discriminator, then generator) calls ``before_optimizer_step``
once per optimizer.
"""
from __future__ import annotations

from ...autograd.grad_mode import no_grad


class Step:
    """Base class of the task steps; see the module docstring for the contract."""

    monitor = ("val_loss", "min")
    trainer = None  # set by Trainer

    def __init__(self, models: dict, optimizers: dict):
        self.models = dict(models)          # name -> Module (state_dict keys use the names)
        self._optimizers = dict(optimizers)  # name -> Optimizer

    # ------------------------------------------------------------------ the contract
    def train_step(self, batch) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.train_step is abstract")

    def evaluate(self, loader) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.evaluate is abstract")

    def optimizers(self) -> list:
        return list(self._optimizers.values())

    def begin_epoch(self, epoch: int) -> None:
        """Called before each epoch's first batch (a language model's carried state starts afresh)."""

    # ------------------------------------------------------------------ helpers for subclasses
    def minimize(self, loss, optimizer) -> float:
        """The loss's value (a NaN or inf stops the run before it reaches the weights), then backward,
        ``before_optimizer_step`` and the optimizer's step."""
        value = float(loss.item())
        if self.trainer is not None:
            self.trainer.check_finite(value)
        loss.backward()
        self.optimizer_step(optimizer)
        return value

    def optimizer_step(self, optimizer, parameters=None) -> None:
        """``trainer.before_optimizer_step`` (clipping, callbacks), then ``optimizer.step()``."""
        if parameters is None:
            parameters = [p for g in optimizer.param_groups for p in g["params"]]
        if self.trainer is not None:
            self.trainer.before_optimizer_step(parameters)
        optimizer.step()

    def train(self, mode: bool = True) -> None:
        for m in self.models.values():
            m.train(mode)

    def run_eval(self, fn, *args, **kwargs):
        """Run ``fn`` in eval mode without a graph, restoring each model's mode afterwards."""
        modes = {k: m.training for k, m in self.models.items()}
        self.train(False)
        try:
            with no_grad():
                return fn(*args, **kwargs)
        finally:
            for k, m in self.models.items():
                m.train(modes[k])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """``{"model": ..., "optimizer": ...}`` for a one-model step (the checkpoint layout ``nabla eval``
        reads), ``{"models": {name: ...}, "optimizers": {name: ...}}`` for several."""
        if len(self.models) == 1 and len(self._optimizers) <= 1:
            state = {"model": next(iter(self.models.values())).state_dict()}
            if self._optimizers:
                state["optimizer"] = next(iter(self._optimizers.values())).state_dict()
            return state
        return {"models": {k: m.state_dict() for k, m in self.models.items()},
                "optimizers": {k: o.state_dict() for k, o in self._optimizers.items()}}

    def load_state_dict(self, state: dict) -> None:
        if "models" in state:
            for k, m in self.models.items():
                m.load_state_dict(state["models"][k])
            for k, o in self._optimizers.items():
                o.load_state_dict(state["optimizers"][k])
            return
        next(iter(self.models.values())).load_state_dict(state["model"])
        if self._optimizers and "optimizer" in state:
            next(iter(self._optimizers.values())).load_state_dict(state["optimizer"])
