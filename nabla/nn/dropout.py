"""Dropout layers: active in training mode, the identity in eval mode.  See nabla.ops.dropout for why
scaling kept units by 1/(1-p) in training equals the notes' test-time scaling of the weights by (1-p)."""
from __future__ import annotations

from . import functional as F
from .module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Inverted dropout.  In training each element is zeroed with probability p and the survivors are
    scaled by 1/(1-p); in eval mode y = x.

    Equivalence with the notes' version (keep units with probability 1-p in training, multiply the
    outgoing weights by (1-p) at test time): a unit's training-time contribution m x has expectation
    E[m] x = (1-p) x, so the notes scale test-time weights by (1-p) to match it.  Dividing by (1-p)
    during training makes the expectation E[m x / (1-p)] = x instead, which is what an unscaled test
    network feeds forward; both give a test-time output equal to the training-time expectation."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training)


class Dropout1d(_DropoutNd):
    """Zero whole channels of (N, C, L) inputs (one draw per sample and channel)."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zero whole feature maps of (N, C, H, W) inputs (one draw per sample and channel)."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)


class Dropout3d(_DropoutNd):
    """Zero whole volumes of (N, C, D, H, W) inputs (one draw per sample and channel)."""

    def forward(self, input):
        return F.dropout3d(input, self.p, self.training)
