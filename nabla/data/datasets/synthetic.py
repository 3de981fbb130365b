"""Generated data for the notes' regression example: y = w x + b + noise (w = 2.5, b = -1, noise 0.3).

Registered as ``linear`` so that ``nabla train linear-regression`` has a regression problem with a
known answer.  The samples are generated from a fixed seed, so every run sees the same data.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..dataset import Dataset, _index_array


class LinearData(Dataset):
    name = "linear"
    task = "regression"
    normalize = None  # the notes' x and y as they are: the fitted line reads 2.5 and -1
    description = "the notes' y = 2.5x - 1 + N(0, 0.3^2), x ~ U(-2, 2) (generated, seed 0)"
    sizes = {"train": 1000, "test": 200}
    image_shape = (1,)
    classes: list = []
    max_value = 1
    true_w, true_b, noise = 2.5, -1.0, 0.3

    def __init__(self, root=None, train: bool = True, download: bool = False, transform=None, **kwargs):
        rng = np.random.default_rng(0 if train else 1)
        n = self.sizes["train" if train else "test"]
        x = rng.uniform(-2, 2, (n, 1)).astype(np.float32)
        y = (self.true_w * x + self.true_b + rng.normal(0, self.noise, (n, 1))).astype(np.float32)
        self.x, self.y, self.transform = x, y, transform

    def __len__(self):
        return len(self.x)

    def get_batch(self, indices):
        idx = _index_array(indices)
        return self.x[idx], self.y[idx]

    def __getitem__(self, index):
        return self.x[index], self.y[index]

    @classmethod
    def is_present(cls, root=None) -> bool:
        return True

    @classmethod
    def install_hint(cls) -> str:
        return "(generated)"

    @classmethod
    def folder(cls, root=None) -> Path:
        return Path("(generated)")
