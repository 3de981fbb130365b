"""Strategy: how many processes train together, and what the Trainer asks of them (Lightning's name).

The Trainer is written once, for any number of processes.  At the few points where processes must agree,
it asks its strategy:

    prepare_run(prepare)                ``nabla train``'s preparation (``run.prepare``), and with several
                                        processes their agreement that every rank has the same run
    setup(trainer)                      at the start of fit (data parallelism: rank 0's weights broadcast,
                                        the models checked to be the same on every rank)
    reduce_gradients(parameters)        first thing in before_optimizer_step (averaged over the ranks)
    nonfinite_loss(value)               (value, rank) of a NaN or infinite loss on any rank, else None
    agree(elapsed, stop_training)       rank 0's clock and decision to stop, so that every rank stops at
                                        the same step (a time budget, early stopping)
    reduce_sums(sums)                   the running training sums of every rank, added
    on_global_zero(fn)                  fn() computed by rank 0 alone and its result given to every rank (a
                                        final report that does not split over ranks: the weights are the same)
    evaluate(step, loader)              the step's figures over all of the loader (each rank a shard)

This one is a single process: every method returns what it is given.  ``nabla.distributed.DDPStrategy``
(MPI, above this layer) is the data-parallel one.  ``is_global_zero``: whether this process writes the
run's files and prints (rank 0).
"""
from __future__ import annotations

import math


class Strategy:
    """One process: nothing to agree on."""

    world_size = 1
    rank = 0

    @property
    def is_global_zero(self) -> bool:
        return self.rank == 0

    def prepare_run(self, prepare, discard=None):
        """``prepare()``'s Run (``nabla.train.run``); ``discard(run)`` undoes a run that cannot go on (data
        parallelism: when another rank failed)."""
        return prepare()

    def setup(self, trainer) -> None:
        """Called at the start of ``Trainer.fit``."""

    def reduce_gradients(self, parameters) -> None:
        """Between backward and ``optimizer.step()``: nothing to average in one process."""

    def nonfinite_loss(self, value: float):
        """``(value, rank)`` when the loss is NaN or infinite (rank None in one process), else None."""
        return None if math.isfinite(value) else (value, None)

    def agree(self, elapsed: float, stop: bool) -> tuple:
        return elapsed, stop

    def reduce_sums(self, sums: dict) -> dict:
        return sums

    def evaluate(self, step, loader) -> dict:
        return step.evaluate(loader)

    def on_global_zero(self, fn):
        return fn()
