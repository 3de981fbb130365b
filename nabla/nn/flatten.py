"""Flatten and Unflatten: reshape layers (default Flatten keeps the batch axis: (N, *) -> (N, prod))."""
from __future__ import annotations

import math

from .module import Module


class Flatten(Module):
    """Merge dims start_dim..end_dim into one."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size`` (whose product must equal that dim's size; one -1 allowed)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        n = input.shape[self.dim] if -input.ndim <= self.dim < input.ndim else None
        known = math.prod(s for s in self.unflattened_size if s != -1)
        if n is None or (-1 not in self.unflattened_size and known != n) or (known == 0 or n % known):
            raise ValueError(f"{self._short_repr()}: cannot split dim {self.dim} of input shape "
                             f"{tuple(input.shape)} into {self.unflattened_size}")
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
