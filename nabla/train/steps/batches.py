"""Length-bucketed batches of a variable-length sequence data set (text classification, tagging, seq2seq).

``BucketBatches(dataset, batch_size, shuffle=True, seed=0, limit=None, lengths=None)`` walks an epoch of
``dataset.get_batch(idx)`` tuples as Tensors, each batch made of samples of similar length
(``BucketBatchSampler``: little padding).  ``lengths`` are the ones the buckets sort by (default
``dataset.lengths``; a PairDataset's are its source lengths).  Shuffled: the sampler's generator is the
loader's state (``state_dict``), so a resumed run draws the same batches.  Not shuffled: the split sorted by
length once (evaluation).  ``limit``: only that many samples, evenly spaced over the split (so a split
ordered by book keeps every book's share).

Data parallelism (``shard(rank, num_replicas)``, a copy): every rank builds the same epoch of batches from
the same generator, so the ranks' generators stay equal and a checkpoint's loader state (rank 0's) resumes
on any number of processes.  Shuffled (training): rank r takes batches r, r+N, r+2N, ... and the epoch's
last ``len % N`` batches are dropped (PyTorch's ``drop_last``), so every rank takes ``len // N`` steps.
Not shuffled (evaluation): rank r takes its contiguous share of the sorted batches (``np.array_split``),
nothing dropped, so the ranks together score every sample once.
"""
from __future__ import annotations

import copy

import numpy as np

from ...autograd.tensor import from_numpy
from ...data.text.pairs import BucketBatchSampler
from .sharding import check_shard

__all__ = ["BucketBatches", "batch_tensors"]


def batch_tensors(dataset, idx) -> tuple:
    """The ``get_batch(idx)`` arrays of a data set as Tensors (contiguous, no copy where they already are)."""
    return tuple(from_numpy(np.ascontiguousarray(a)) for a in dataset.get_batch(idx))


class BucketBatches:
    state_fits_any_world_size = True  # every rank holds the same generator: its state resumes on any N

    def __init__(self, dataset, batch_size: int, shuffle: bool = True, seed: int = 0, limit: int | None = None,
                 lengths=None):
        lengths = np.asarray(dataset.lengths if lengths is None else lengths)
        self.dataset, n = dataset, len(lengths)
        self.indices = np.arange(n) if limit is None or limit >= n else \
            np.unique(np.linspace(0, n - 1, int(limit)).round().astype(np.int64))
        self.sampler = BucketBatchSampler(lengths[self.indices], batch_size, shuffle=shuffle,
                                          seed=seed if shuffle else None)
        self.rank, self.num_replicas = 0, 1

    def shard(self, rank: int, num_replicas: int) -> "BucketBatches":
        """This rank's share of every epoch (see the module docstring), sharing the data set and sampler."""
        check_shard("BucketBatches", rank, num_replicas, self.num_replicas)
        part = copy.copy(self)
        part.sampler = copy.deepcopy(self.sampler)  # its own generator, in the same state as every rank's
        part.rank, part.num_replicas = rank, num_replicas
        return part

    def _mine(self, count: int) -> list:
        """The positions of this rank's batches among an epoch's ``count``."""
        if self.num_replicas == 1:
            return list(range(count))
        if self.sampler.shuffle:
            return list(range(self.rank, count - count % self.num_replicas, self.num_replicas))
        return np.array_split(np.arange(count), self.num_replicas)[self.rank].tolist()

    def __len__(self) -> int:
        return len(self._mine(len(self.sampler)))

    def __iter__(self):
        batches = self.sampler.index_batches()
        if self.num_replicas > 1:  # the whole epoch drawn on every rank: the generators stay the same
            batches = list(batches)
            batches = [batches[i] for i in self._mine(len(batches))]
        for idx in batches:
            yield batch_tensors(self.dataset, self.indices[idx])

    def state_dict(self) -> dict:
        return {"bit_generator": self.sampler.generator.bit_generator.state} if self.sampler.shuffle else {}

    def load_state_dict(self, state: dict) -> None:
        if self.sampler.shuffle:
            self.sampler.generator.bit_generator.state = state["bit_generator"]
