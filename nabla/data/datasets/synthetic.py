"""Generated regression data with a known answer, for the notes' regression examples:

    linear   y = w x + b + noise, w = 2.5, b = -1, noise N(0, 0.3^2), x ~ U(-2, 2)   (``nabla train linear-regression``)
    sine     y = sin(2x) + noise, noise N(0, 0.1^2), x ~ U(-3, 3)                 (non-linear: a line fits it badly)

Both are registered by name; their samples come from a fixed seed (0 for train, 1 for test), so every run sees
the same data.  The best possible test MSE is about the noise variance (0.09 and 0.01).
"""
from __future__ import annotations

import abc
from pathlib import Path

import numpy as np

from ..dataset import Dataset, _index_array


class Generated:
    """The registry facts of a data set made by code from a fixed seed: always present, nothing to install
    or fetch, no folder (``nabla datasets`` says "(generated)")."""

    @classmethod
    def is_present(cls, root=None) -> bool:
        return True

    @classmethod
    def install_hint(cls) -> str:
        return "(generated)"

    @classmethod
    def folder(cls, root=None) -> Path:
        return Path("(generated)")


class SyntheticRegression(Generated, Dataset, abc.ABC):
    """x ~ U(x_range) (N, 1) float32 and y = f(x) + N(0, noise^2) (N, 1) float32, drawn from seed 0 (train) or
    1 (test) in that order: a subclass says ``f`` (``target``), the range, the noise and the sizes."""

    task = "regression"
    normalize = None  # the notes' x and y as they are
    sizes = {"train": 1000, "test": 200}
    image_shape = (1,)
    classes: list = []
    max_value = 1
    x_range = (-2.0, 2.0)
    noise = 0.3

    def __init__(self, root=None, train: bool = True, download: bool = False, transform=None, **kwargs):
        rng = np.random.default_rng(0 if train else 1)
        n = self.sizes["train" if train else "test"]
        x = rng.uniform(*self.x_range, (n, 1)).astype(np.float32)
        y = (self.target(x) + rng.normal(0, self.noise, (n, 1))).astype(np.float32)
        self.x, self.y, self.transform = x, y, transform

    @abc.abstractmethod
    def target(self, x: np.ndarray) -> np.ndarray:
        """The noiseless y of each x."""

    def __len__(self):
        return len(self.x)

    def get_batch(self, indices):
        idx = _index_array(indices)
        return self.x[idx], self.y[idx]

    def __getitem__(self, index):
        return self.x[index], self.y[index]


class LinearData(SyntheticRegression):
    name = "linear"
    description = "the notes' y = 2.5x - 1 + N(0, 0.3^2), x ~ U(-2, 2) (generated, seed 0)"
    true_w, true_b, noise = 2.5, -1.0, 0.3

    def target(self, x):
        return self.true_w * x + self.true_b  # the fitted line reads 2.5 and -1


class SineData(SyntheticRegression):
    name = "sine"
    description = "y = sin(2x) + N(0, 0.1^2), x ~ U(-3, 3): non-linear regression (generated, seed 0)"
    x_range, noise = (-3.0, 3.0), 0.1

    def target(self, x):
        return np.sin(2.0 * x.astype(np.float64))
