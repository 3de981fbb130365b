"""Dropout: zero each unit with probability p during training (inverted dropout).

    y = x * m / (1 - p),   m ~ Bernoulli(1 - p) elementwise (or per channel for dropout1d/2d/3d)
    dx = g * m / (1 - p)

Why scale by 1/(1-p) in training rather than scaling the weights by (1-p) at test time (the notes'
form)?  A unit survives with probability 1-p, so E[x * m] = (1-p) x: the next layer sees on average
(1-p) times the full activation.  The notes multiply the weights by (1-p) at test time so that the
test-time input matches that expectation; inverted dropout divides by (1-p) during training instead,
so that E[x * m / (1-p)] = x already equals the test-time input, and evaluation is the identity.
The two networks compute the same function up to the constant factor moved into the weights.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.function import Function
from ._util import as_tensor, _const


class Dropout(Function):
    """y = x * mask, mask = Bernoulli(1-p) / (1-p) of shape ``mask_shape`` (broadcast over x);
    dx = g * mask."""
    save_inputs = False

    def __init__(self, p, mask_shape=None):
        self.p = p
        self.mask_shape = mask_shape

    def forward(self, x):
        shape = x.shape if self.mask_shape is None else self.mask_shape
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        keep = 1.0 - self.p
        if keep <= 0.0:
            mask = np.zeros(shape, dtype=dtype)
        else:
            # float32 draws are half the work of float64 ones; their resolution (2^-24) is plenty for p
            mask = backend.rng().random(shape, dtype=np.float32) < keep
            mask = np.multiply(mask, 1.0 / keep, dtype=dtype)
        self.mask = mask
        return x * mask

    def backward(self, g):
        return g * _const(self.mask)


def _check_p(p, op):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Inverted dropout: in training, zero each element with probability p and scale the others by
    1/(1-p); outside training, the identity.  (``inplace`` is accepted for PyTorch compatibility and
    computes out of place.)"""
    _check_p(p, "dropout")
    input = as_tensor(input)
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p=float(p))


def _feature_dropout(input, p, training, op, feature_dims):
    _check_p(p, op)
    input = as_tensor(input)
    if input.ndim not in feature_dims:
        raise ValueError(f"{op}: expected an input with {' or '.join(map(str, feature_dims))} dimensions "
                         f"((N, C, ...) or unbatched (C, ...)), got shape {tuple(input.shape)}")
    if not training or p == 0.0:
        return input
    batched = input.ndim == max(feature_dims)
    lead = 2 if batched else 1
    mask_shape = input.shape[:lead] + (1,) * (input.ndim - lead)
    return Dropout.apply(input, p=float(p), mask_shape=mask_shape)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels: input (N, C, L) or (C, L), one Bernoulli draw per (n, c)."""
    return _feature_dropout(input, p, training, "dropout1d", (2, 3))


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole feature maps: input (N, C, H, W) or (C, H, W), one draw per (n, c)."""
    return _feature_dropout(input, p, training, "dropout2d", (3, 4))


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole volumes: input (N, C, D, H, W) or (C, D, H, W), one draw per (n, c)."""
    return _feature_dropout(input, p, training, "dropout3d", (4, 5))


__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]
