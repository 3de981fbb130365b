"""Samplers: the order in which a DataLoader visits a data set's indices (torch.utils.data names).

Besides iterating over Python ints as PyTorch's do, nabla's samplers can hand over a whole epoch's
order at once as an integer array (``index_array()``), and BatchSampler can hand over each batch
as an array (``index_batches()``): DataLoader uses these, so no Python loop runs per sample.
"""
from __future__ import annotations

import itertools
from numbers import Integral

import numpy as np

from .dataset import as_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


class Sampler:
    """Base class: subclasses define ``__iter__`` (indices) and usually ``__len__``.

    A subclass that can produce an epoch's indices as an array defines ``index_array()``.
    """

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each epoch (or ``num_samples`` draws with replacement).

    ``generator``: a numpy Generator or an int seed; the same generator gives the same sequence of
    epoch orders run after run, and each epoch (each ``iter``) draws a new order.  None uses nabla's
    global generator (``nabla.manual_seed``) at the start of each epoch.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = None if generator is None else as_generator(generator)
        if num_samples is not None and (not isinstance(num_samples, Integral) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer, got {num_samples!r}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def index_array(self) -> np.ndarray:
        rng = self.generator if self.generator is not None else as_generator(None)
        n, k = len(self.data_source), self.num_samples
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        # without replacement: whole permutations, as many as needed for num_samples
        reps = -(-k // n) if n else 0
        perm = np.concatenate([rng.permutation(n) for _ in range(reps)]) if reps else np.zeros(0, np.int64)
        return perm[:k].astype(np.int64, copy=False)

    def __iter__(self):
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices, in a new random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        self.generator = None if generator is None else as_generator(generator)

    def index_array(self) -> np.ndarray:
        rng = self.generator if self.generator is not None else as_generator(None)
        return self.indices[rng.permutation(len(self.indices))]

    def __iter__(self):
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        w = np.asarray(weights, dtype=np.float64).reshape(-1)
        if w.size == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not replacement and num_samples > (w > 0).sum():
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without replacement "
                             f"from {(w > 0).sum()} with non-zero weight")
        self.weights, self.num_samples, self.replacement = w, int(num_samples), bool(replacement)
        self.generator = None if generator is None else as_generator(generator)

    def index_array(self) -> np.ndarray:
        rng = self.generator if self.generator is not None else as_generator(None)
        return rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                          p=self.weights / self.weights.sum()).astype(np.int64)

    def __iter__(self):
        return iter(self.index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if not isinstance(batch_size, Integral) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean, got {drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def index_batches(self):
        """Each batch as an int64 array: slices of the epoch's index array when the sampler has one."""
        bs = self.batch_size
        if hasattr(self.sampler, "index_array"):
            order = np.asarray(self.sampler.index_array(), dtype=np.int64)
            stop = len(order) - len(order) % bs if self.drop_last else len(order)
            for i in range(0, stop, bs):
                yield order[i:i + bs]
            return
        it = iter(self.sampler)  # any iterable of ints: chunk it lazily (it may even be endless)
        while True:
            chunk = list(itertools.islice(it, bs))
            if not chunk or (self.drop_last and len(chunk) < bs):
                return
            yield np.asarray(chunk, dtype=np.int64)

    def __iter__(self):
        for b in self.index_batches():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
