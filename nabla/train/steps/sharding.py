"""A rank's share of the data, for data parallelism (``nabla.distributed`` calls these; one process never does).

Training loaders that own their epoch's order (length buckets, scenes, text streams) have a ``shard(rank,
num_replicas)`` method returning a copy that yields the rank's share; ``check_shard`` is the argument check
they share.  Evaluation needs every sample scored exactly once, in the loader's order, by batches one process
would form: ``evaluation_share`` gives a loader with a ``shard`` method its own share, and a DataLoader the
rank's contiguous part (``np.array_split``) of its samples over the same data set (``ShardSampler``), so the
shares of ranks 0..N-1 one after another are the loader's samples.  ``contiguous_share`` is that cut of
``range(n)`` for steps that share out samples or batches themselves; ``add_counts`` adds the ranks' sums.
"""
from __future__ import annotations

import numpy as np

from ...data import DataLoader
from ...data.sampler import Sampler


def check_shard(what: str, rank: int, num_replicas: int, current: int = 1) -> None:
    """A one-line ValueError for a rank outside [0, num_replicas), or for sharding batches that are a shard
    already (``current``: their own num_replicas)."""
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"{what}.shard: rank must be in [0, num_replicas), got rank {rank} of {num_replicas}")
    if current != 1:
        raise ValueError(f"{what}.shard: the batches are already a shard")


def contiguous_share(n: int, rank: int, num_replicas: int, who: str = "evaluation") -> tuple:
    """``(a, b)``: rank's contiguous share ``range(a, b)`` of ``range(n)``, as ``np.array_split`` cuts it (the
    first ``n % num_replicas`` shares hold one more).  ``who`` names the caller in the error for a bad rank."""
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"{who}: rank must be in [0, num_replicas), got rank {rank} of {num_replicas}")
    q, m = divmod(int(n), num_replicas)
    a = rank * q + min(rank, m)
    return a, a + q + (rank < m)


def add_counts(parts: list) -> dict:
    """The ranks' ``evaluate_sums`` added key by key (sums and counts: numbers or arrays of one shape)."""
    return {k: sum(p[k] for p in parts) for k in parts[0]}


class ShardSampler(Sampler):
    """Fixed indices in their order: a rank's contiguous share of an evaluation set (no padding, no repeats)."""

    def __init__(self, indices):
        self.indices = np.asarray(indices, dtype=np.int64)

    def index_array(self) -> np.ndarray:
        return self.indices

    def __iter__(self):
        return iter(self.indices.tolist())

    def __len__(self) -> int:
        return len(self.indices)


def evaluation_share(loader, rank: int, num_replicas: int, who: str = "evaluation"):
    """Rank's share of an evaluation ``loader``: its own ``shard`` when it has one, else (a DataLoader with a
    batch size) the rank's contiguous part of the loader's samples, batched as before.  ``who`` names the
    caller in the error for a loader that cannot be shared out."""
    if num_replicas < 1 or not 0 <= rank < num_replicas:
        raise ValueError(f"{who}: rank must be in [0, num_replicas), got rank {rank} of {num_replicas}")
    if hasattr(loader, "shard"):
        return loader.shard(rank, num_replicas)
    if not isinstance(loader, DataLoader) or loader.batch_size is None:
        raise ValueError(f"{who}: {num_replicas} ranks need a DataLoader with a batch_size over an indexable data "
                         f"set, or batches with a shard method, got {type(loader).__name__}")
    sampler = loader.sampler
    order = sampler.index_array() if hasattr(sampler, "index_array") else np.fromiter(sampler, dtype=np.int64)
    mine = np.array_split(np.asarray(order, dtype=np.int64), num_replicas)[rank]
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=ShardSampler(mine),
                      collate_fn=loader.collate_fn)
