"""A tiny segmentation data set for the data-parallel tests: ``get_batch(idx) -> (images float64 Tensor
(B, 1, 6, 6), masks int64 (B, 6, 6))`` of three classes, a share ``ignored`` of the pixels ignored (255)."""
import numpy as np

from nabla.autograd.tensor import from_numpy


class ToyScenes:
    def __init__(self, n: int, seed: int = 0, ignored: float = 0.05):
        rng = np.random.default_rng(seed)
        self.images = rng.uniform(0, 1, (n, 1, 6, 6))
        self.masks = (self.images[:, 0] * 3).astype(np.int64).clip(0, 2)
        self.masks[rng.uniform(size=self.masks.shape) < ignored] = 255

    def __len__(self) -> int:
        return len(self.images)

    def get_batch(self, indices) -> tuple:
        idx = np.asarray(indices, dtype=np.int64)
        return from_numpy(self.images[idx]), self.masks[idx]
