"""Length-bucketed batches of a variable-length sequence data set (text classification, tagging, seq2seq).

``BucketBatches(dataset, batch_size, shuffle=True, seed=0, limit=None, lengths=None)`` walks an epoch of
``dataset.get_batch(idx)`` tuples as Tensors, each batch made of samples of similar length
(``BucketBatchSampler``: little padding).  ``lengths`` are the ones the buckets sort by (default
``dataset.lengths``; a PairDataset's are its source lengths).  Shuffled: the sampler's generator is the
loader's state (``state_dict``), so a resumed run draws the same batches.  Not shuffled: the split sorted by
length once (evaluation).  ``limit``: only that many samples, evenly spaced over the split (so a split
ordered by book keeps every book's share).
"""
from __future__ import annotations

import numpy as np

from ...autograd.tensor import from_numpy
from ...data.text.pairs import BucketBatchSampler

__all__ = ["BucketBatches", "batch_tensors"]


def batch_tensors(dataset, idx) -> tuple:
    """The ``get_batch(idx)`` arrays of a data set as Tensors (contiguous, no copy where they already are)."""
    return tuple(from_numpy(np.ascontiguousarray(a)) for a in dataset.get_batch(idx))


class BucketBatches:
    def __init__(self, dataset, batch_size: int, shuffle: bool = True, seed: int = 0, limit: int | None = None,
                 lengths=None):
        lengths = np.asarray(dataset.lengths if lengths is None else lengths)
        self.dataset, n = dataset, len(lengths)
        self.indices = np.arange(n) if limit is None or limit >= n else \
            np.unique(np.linspace(0, n - 1, int(limit)).round().astype(np.int64))
        self.sampler = BucketBatchSampler(lengths[self.indices], batch_size, shuffle=shuffle,
                                          seed=seed if shuffle else None)

    def __len__(self) -> int:
        return len(self.sampler)

    def __iter__(self):
        for idx in self.sampler.index_batches():
            yield batch_tensors(self.dataset, self.indices[idx])

    def state_dict(self) -> dict:
        return {"bit_generator": self.sampler.generator.bit_generator.state} if self.sampler.shuffle else {}

    def load_state_dict(self, state: dict) -> None:
        if self.sampler.shuffle:
            self.sampler.generator.bit_generator.state = state["bit_generator"]
