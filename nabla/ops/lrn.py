"""Local response normalisation (AlexNet, section 3.3), PyTorch's form:

    b[n,c] = a[n,c] / (k + alpha/size * sum_{c' in window(c)} a[n,c']^2) ^ beta

with the window of ``size`` channels from c - size//2 to c + (size-1)//2, zero beyond the edges
(PyTorch divides by ``size`` even at the edges).  Built from nabla ops (square, pad, shifted slices,
power, divide), so its gradient and second gradient come from theirs; the sum over the window is a
loop over the ``size`` channel offsets, each one whole-tensor add.
"""
from __future__ import annotations

from ._util import as_tensor
from .shape import pad


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    x = as_tensor(input)
    if x.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input of 3 or more dimensions (N, C, *), got shape "
                         f"{tuple(x.shape)}")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    if x.shape[1] == 0 or x.numel() == 0:
        return x * 1.0
    c = x.shape[1]
    sq = pad(x * x, (0, 0) * (x.ndim - 2) + (size // 2, (size - 1) // 2))
    s = sq[:, 0:c]
    for j in range(1, size):
        s = s + sq[:, j:j + c]
    return x / (s * (alpha / size) + k) ** beta


__all__ = ["local_response_norm"]
