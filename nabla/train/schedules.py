"""Learning-rate schedules that follow the training budget rather than the epoch count.

A ``BudgetSchedule`` sets every parameter group's rate before each optimizer step from two numbers
the Trainer knows: the step index and ``progress``, the fraction of the budget spent (steps done over
steps planned, or seconds over the time budget, whichever is further along).  That is what a run with
a time budget needs: the decay ends when the time does.  Epoch-based schedulers (``nabla.optim.
lr_scheduler``) stay what they are in PyTorch; the Trainer steps them per epoch or per step.
"""
from __future__ import annotations

import math


class BudgetSchedule:
    """Base: ``factor(step, progress) -> float``, the multiple of each group's base rate to use."""

    def factor(self, step: int, progress: float) -> float:  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__}.factor is abstract")

    def lr(self, base_lr: float, step: int, progress: float) -> float:
        return base_lr * self.factor(step, progress)


class WarmupCosine(BudgetSchedule):
    """Linear warm-up over ``warmup`` steps, then a cosine decay from the base rate to
    ``min_ratio`` x base as ``progress`` goes from 0 to 1:

        lr = base * (step + 1) / warmup                                         (step < warmup)
        lr = base * (min_ratio + (1 - min_ratio) * (1 + cos(pi * progress)) / 2)  (after)
    """

    def __init__(self, warmup: int = 0, min_ratio: float = 0.1):
        if warmup < 0 or not 0.0 <= min_ratio <= 1.0:
            raise ValueError(f"WarmupCosine: warmup must be >= 0 and min_ratio in [0, 1], got warmup={warmup}, "
                             f"min_ratio={min_ratio}")
        self.warmup, self.min_ratio = int(warmup), float(min_ratio)

    def lr(self, base_lr: float, step: int, progress: float) -> float:
        # the same expression, operation for operation, as the loops it replaced: runs stay bit-identical
        if self.warmup and step < self.warmup:
            return base_lr * (step + 1) / self.warmup
        p = min(max(progress, 0.0), 1.0)
        return base_lr * (self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))

    def factor(self, step: int, progress: float) -> float:
        return self.lr(1.0, step, progress)

    def __repr__(self) -> str:
        return f"WarmupCosine(warmup={self.warmup}, min_ratio={self.min_ratio})"


def lr_at(base_lr: float, progress: float, step: int, warmup: int = 0, min_ratio: float = 0.1) -> float:
    """The rate ``WarmupCosine(warmup, min_ratio)`` gives at ``step`` and ``progress``."""
    return WarmupCosine(warmup, min_ratio).lr(base_lr, step, progress)
