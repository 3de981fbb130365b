"""Linear (fully connected) layers: y = x W^T + b, with W of shape (out_features, in_features)
as in PyTorch, so weights copy over unchanged; and Identity."""
from __future__ import annotations

import math

import numpy as np

from ..autograd.tensor import Tensor
from ..ops.linear import linear
from . import init
from .module import Module
from .parameter import Parameter


class Identity(Module):
    """y = x (a placeholder that takes and ignores any constructor arguments)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b for x of shape (*, in_features).

    weight (out_features, in_features) ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in));
    bias (out_features,) ~ U(-1/sqrt(in), 1/sqrt(in)): PyTorch's defaults."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None):
        super().__init__()
        from .. import backend
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        # the registry, not self.weight: Module.__getattr__ costs ~1 us a lookup on this hot path
        params = self._parameters
        return linear(input, params["weight"], params["bias"])

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
