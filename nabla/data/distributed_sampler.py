"""DistributedSampler: each process's share of an epoch, with ``torch.utils.data.DistributedSampler``'s semantics.

With ``N = num_replicas`` processes and a data set of ``n`` samples, every rank takes the same epoch order
(a permutation drawn from ``seed + epoch``, or ``0..n-1`` without shuffling) and keeps every N-th index,
starting at its rank: rank ``r`` gets ``order[r::N]``.  So the ranks' shares are disjoint and together are
the whole epoch.  When ``n`` is not a multiple of N:

* ``drop_last=False`` (default): the order is padded by repeating its first ``N * ceil(n / N) - n``
  indices, so every rank gets ``ceil(n / N)`` samples (a few samples are seen twice in that epoch);
* ``drop_last=True``: the order is cut to ``N * floor(n / N)`` indices, so every rank gets ``floor(n / N)``
  samples (a few samples are skipped in that epoch, different ones each epoch when shuffling).

Every rank must call ``set_epoch(epoch)`` before each epoch, as in PyTorch, or each epoch repeats the
first epoch's order.  The permutation comes from NumPy's generator (``default_rng(seed + epoch)``), so the
orders differ from PyTorch's, not the rules.  ``num_replicas`` and ``rank`` default to the process's MPI
world (``nabla.comm``): 1 and 0 in a single process.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from .. import comm
from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        num_replicas = comm.world_size() if num_replicas is None else num_replicas
        rank = comm.rank() if rank is None else rank
        if not isinstance(num_replicas, Integral) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive integer, got {num_replicas!r}")
        if not isinstance(rank, Integral) or not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {rank!r}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last, self.epoch = bool(shuffle), int(seed), bool(drop_last), 0
        n = len(dataset)
        if self.drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order to draw (the same on every rank, so the shares stay disjoint)."""
        self.epoch = int(epoch)

    def epoch_order(self) -> np.ndarray:
        """The whole epoch's order, padded or cut to ``total_size``: the same array on every rank."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n).astype(np.int64)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.total_size <= n:
            return order[:self.total_size]
        return np.resize(order, self.total_size)  # np.resize repeats the order from its start

    def index_array(self) -> np.ndarray:
        return self.epoch_order()[self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last})")
