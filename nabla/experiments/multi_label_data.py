"""The ``multi-label`` experiment's data: MNIST digits overlaid, with a 10-dim 0/1 target.

An image holds k digits of k different classes (k = 1, 2, ... drawn with given shares), overlaid by the
pixel-wise maximum; its target t in {0, 1}^10 has a 1 at each digit present.  Which digits are combined is
drawn once from a seeded generator (per slot, rejection rounds until its class differs from the earlier
slots'), and an image is built when its batch is asked for, so no composite array is stored.  The base
set is standardised (``common.load_images``); standardising is (x - m) / s with s > 0, which keeps the
order of pixels, so the maximum of standardised digits is the standardised maximum.
"""
from __future__ import annotations

import numpy as np

from ..data import Dataset
from .common import load_images

__all__ = ["OverlaidDigits", "mnist_digits", "overlaid_sets"]

NUM_CLASSES = 10


class OverlaidDigits(Dataset):
    """``n`` images from ``images`` (an image set with ``get_batch`` and ``targets``), drawn from its rows in
    ``pool``: a share ``shares[k - 1]`` of them holds k digits of different classes, overlaid by the pixel-wise
    maximum.  A sample is ``(image float32 (1, H, W), target float32 (10,))``."""

    def __init__(self, images, n: int, pool=None, shares=(1 / 3, 2 / 3), seed: int = 0):
        shares = np.asarray(shares, dtype=np.float64)
        if shares.ndim != 1 or not 1 <= len(shares) <= NUM_CLASSES or (shares < 0).any() or \
                abs(shares.sum() - 1) > 1e-9:
            raise ValueError(f"OverlaidDigits: shares must be 1 to {NUM_CLASSES} non-negative shares of images "
                             f"with 1, 2, ... digits summing to 1, got {shares.tolist()}")
        labels = np.asarray(images.targets.data, dtype=np.int64)
        pool = np.arange(len(labels)) if pool is None else np.asarray(pool, dtype=np.int64)
        rng = np.random.default_rng(seed)
        count = 1 + rng.choice(len(shares), size=n, p=shares)
        slots = pool[rng.integers(len(pool), size=(n, len(shares)))]      # (n, max digits) rows of ``images``
        for j in range(1, len(shares)):               # slot j's class must differ from slots 0..j-1
            clash = (labels[slots[:, j:j + 1]] == labels[slots[:, :j]]).any(1)
            while clash.any():                        # redraw the clashing rows, all at once
                slots[clash, j] = pool[rng.integers(len(pool), size=int(clash.sum()))]
                clash = (labels[slots[:, j:j + 1]] == labels[slots[:, :j]]).any(1)
        slots[np.arange(len(shares)) >= count[:, None]] = -1          # -1: an unused slot
        self.images, self.slots = images, slots
        self.target = np.zeros((n, NUM_CLASSES), dtype=np.float32)
        used = slots >= 0
        self.target[np.nonzero(used)[0], labels[slots[used]]] = 1

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def counts(self) -> np.ndarray:
        """The number of labels of each image."""
        return self.target.sum(1).astype(np.int64)

    def get_batch(self, indices) -> tuple:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        slots = self.slots[idx]
        x = self.images.get_batch(slots[:, 0])[0]
        for j in range(1, slots.shape[1]):            # a loop over the (few) slots, not over images
            rows = np.flatnonzero(slots[:, j] >= 0)
            if len(rows):
                x[rows] = np.maximum(x[rows], self.images.get_batch(slots[rows, j])[0])
        return x, self.target[idx]

    def __getitem__(self, index):
        x, t = self.get_batch([index])
        return x[0], t[0]


def mnist_digits(val_digits: int = 10000, download: bool = True) -> dict:
    """The registered ``mnist``, standardised: its training digits split by a seeded permutation into a training
    pool and a validation pool of ``val_digits``, and its test digits."""
    train_digits, test_digits = load_images("mnist", download=download)
    order = np.random.default_rng(0).permutation(len(train_digits))
    return {"train": train_digits, "test": test_digits, "train_pool": np.sort(order[:-val_digits]),
            "val_pool": np.sort(order[-val_digits:])}


def overlaid_sets(digits: dict, n_train: int, n_val: int, n_test: int, shares=(1 / 3, 2 / 3)) -> tuple:
    """(train, validation, test) overlaid-digit sets: train and validation from disjoint pools of MNIST's
    training digits, test from its test digits; each drawn with its own seed."""
    return (OverlaidDigits(digits["train"], n_train, digits["train_pool"], shares, seed=1),
            OverlaidDigits(digits["train"], n_val, digits["val_pool"], shares, seed=2),
            OverlaidDigits(digits["test"], n_test, None, shares, seed=3))
