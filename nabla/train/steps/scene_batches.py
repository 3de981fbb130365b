"""Batches of a detection or segmentation scene set: a seeded order each epoch, scenes drawn afresh, an
optional augmentation, and a rank's share for data parallelism.

Data parallelism: ``SceneBatches.shard(rank, N)`` keeps ``torch.utils.data.DistributedSampler``'s rule on
the loader's own epoch order in training: every rank draws the same permutation, pads it to a multiple of N
by repeating its start, and takes positions ``rank, rank + N, ...``; so every rank takes the same number of
steps, and the ranks' b-th batches together are the b-th batch of one process with batch N*B.  Augmentation
draws from the rank's own generator (seeded by seed, epoch and rank).  In evaluation each rank takes a
contiguous share of the batches, the batches one process would score.
"""
from __future__ import annotations

import copy

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from .sharding import check_shard


def model_dtype(model) -> np.dtype:
    """The dtype of the model's parameters (float32 for a model without any): what its images are cast to."""
    return next((p.data.dtype for p in model.parameters()), np.dtype(np.float32))


def as_images(x, dtype=np.float32) -> Tensor:
    """A batch of images as a Tensor of ``dtype`` (the model's: a float64 model takes float64 images)."""
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else from_numpy(x.data.astype(dtype))
    return from_numpy(np.ascontiguousarray(x, dtype=dtype))


class SceneBatches:
    """Batches of a detection data set: ``(images, targets)``, a new seeded order each epoch.

    ``dataset`` has ``get_batch(indices) -> (images array, list of dicts)`` and ``len``; when it has
    ``set_epoch`` and ``fixed`` is False, epoch ``e`` asks it for that epoch's scenes (scene generators
    draw new ones each epoch; a fixed training set, ``fixed=True``, keeps epoch 0's).  ``limit`` uses only
    the first ``limit`` items.  ``transform(images, targets, rng) -> (images, targets)`` runs per batch with
    a generator seeded by (seed, epoch), so a resumed run sees the same augmented batches.  ``shard(rank,
    num_replicas)``: a rank's share (see the module docstring)."""

    def __init__(self, dataset, batch_size: int, shuffle: bool = True, seed: int = 0, limit: int | None = None,
                 fixed: bool = False, transform=None, drop_last: bool = False):
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, int(batch_size), shuffle, int(seed)
        self.size = len(dataset) if limit is None else min(int(limit), len(dataset))
        self.fixed, self.transform, self.drop_last = fixed, transform, drop_last
        self.epoch = 0
        self.rank, self.num_replicas = 0, 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def shard(self, rank: int, num_replicas: int) -> "SceneBatches":
        """This rank's share of every epoch, a copy sharing the data set: shuffled (training), positions
        ``rank::num_replicas`` of each epoch's padded order; not shuffled (evaluation), the rank's contiguous
        share of the batches (``np.array_split``), so the ranks together score every image once."""
        check_shard("SceneBatches", rank, num_replicas, self.num_replicas)
        part = copy.copy(self)
        part.rank, part.num_replicas = int(rank), int(num_replicas)
        return part

    def _samples(self) -> int:
        """How many images this rank's epoch has (a training shard: the padded order's share)."""
        return -(-self.size // self.num_replicas) if self.shuffle else self.size

    def _batches(self) -> np.ndarray:
        """The positions of this rank's batches among its epoch's."""
        full, rest = divmod(self._samples(), self.batch_size)
        count = np.arange(full + (1 if rest and not self.drop_last else 0))
        return count if self.shuffle or self.num_replicas == 1 else np.array_split(count, self.num_replicas)[self.rank]

    def __len__(self) -> int:
        return len(self._batches())

    def __iter__(self):
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(0 if self.fixed else self.epoch)
        rng = np.random.default_rng([self.seed, self.epoch])
        order = rng.permutation(self.size) if self.shuffle else np.arange(self.size)
        if self.shuffle and self.num_replicas > 1:  # DistributedSampler's rule on the epoch's order
            order = np.resize(order, self._samples() * self.num_replicas)[self.rank::self.num_replicas]
            rng = np.random.default_rng([self.seed, self.epoch, 1 + self.rank])  # the rank's augmentation
        for b in self._batches().tolist():
            images, targets = self.dataset.get_batch(order[b * self.batch_size:(b + 1) * self.batch_size])
            if self.transform is not None:
                images, targets = self.transform(images, targets, rng)
            yield as_images(images), targets
