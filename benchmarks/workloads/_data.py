"""The same inputs and weights for both frameworks, as NumPy arrays from a fixed seed."""
from __future__ import annotations

import numpy as np


def linear_params(sizes, seed=0, layout="in_out"):
    """[(W, b)] for consecutive ``sizes``, PyTorch's default Linear initialisation
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)); W is (in, out) for ``x @ W`` or (out, in) for nn.Linear."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
        b = rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)
        params.append((np.ascontiguousarray(w.T) if layout == "out_in" else w, b))
    return params


def classification_batch(batch, features, classes, seed=1):
    """x ~ N(0, 1) float32 of shape (batch, features), integer targets y in [0, classes)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, features), dtype=np.float32)
    y = rng.integers(0, classes, batch).astype(np.int64)
    return x, y
