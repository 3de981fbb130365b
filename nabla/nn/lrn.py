"""LocalResponseNorm: AlexNet's normalisation across neighbouring channels (nabla.ops.lrn)."""
from __future__ import annotations

from ..ops.lrn import local_response_norm
from .module import Module


class LocalResponseNorm(Module):
    """b_c = a_c / (k + alpha/size * sum_{c' near c} a_c'^2)^beta over a window of ``size`` channels.
    AlexNet used size=5, alpha=1e-4, beta=0.75, k=2 (PyTorch scales alpha by 1/size)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)


__all__ = ["LocalResponseNorm"]
