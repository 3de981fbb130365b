"""Normalisation layers: BatchNorm1d/2d/3d (statistics per channel over the batch) and LayerNorm
(statistics per sample over the last dims).  The math is in nabla.ops.normalization."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor
from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


class _BatchNorm(Module):
    """Batch normalisation (Ioffe & Szegedy 2015) over (N, C, *):
        y = (x - E[x]) / sqrt(Var[x] + eps) * weight + bias
    Training: batch statistics (biased variance for normalising), and the running estimates move by
        running = (1 - momentum) running + momentum batch_stat
    with the unbiased variance, as PyTorch; momentum=None averages all batches seen so far
    (factor 1 / num_batches_tracked).  Eval: the running estimates are used.  With
    track_running_stats=False there are no running estimates and batch statistics are always used."""

    _expected_dims: tuple = ()
    _shape_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, dtype=None):
        super().__init__()
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dt))
            self.bias = Parameter(np.zeros(self.num_features, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dt)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input(self, input):
        if input.ndim not in self._expected_dims:
            raise ValueError(f"{self._short_repr()}: expected {self._shape_text} input, got "
                             f"{input.ndim}D input of shape {tuple(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{self._short_repr()}: expected {self.num_features} channels (dim 1) in an "
                             f"{self._shape_text} input, got input of shape {tuple(input.shape)}")

    def forward(self, input):
        self._check_input(input)
        if self.training and input.data.size // max(input.shape[1], 1) <= 1:
            raise ValueError(f"{type(self).__name__}: expected more than 1 value per channel when training, got "
                             f"input of shape {tuple(input.shape)}")
        factor = self._momentum_factor() if self.training else 0.0
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        return F.batch_norm(input,
                            self.running_mean if not self.training or self.track_running_stats else None,
                            self.running_var if not self.training or self.track_running_stats else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def _momentum_factor(self) -> float:
        """A training batch's weight in the running statistics (counting it in ``num_batches_tracked``):
        ``momentum``, or 1 / batches seen with momentum=None (a cumulative moving average)."""
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            self.num_batches_tracked._bump()
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked.data)
        return factor

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")

    def _short_repr(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def _load_from_state_dict(self, state_dict, prefix, strict, missing, unexpected, errors):
        # checkpoints from before num_batches_tracked existed (PyTorch < 0.4.1) lack it: start at 0
        key = prefix + "num_batches_tracked"
        if self.track_running_stats and key not in state_dict:
            state_dict = dict(state_dict)
            state_dict[key] = np.array(0, dtype=np.int64)
        super()._load_from_state_dict(state_dict, prefix, strict, missing, unexpected, errors)


class BatchNorm1d(_BatchNorm):
    """Batch norm over (N, C) or (N, C, L) inputs, per channel C."""
    _expected_dims = (2, 3)
    _shape_text = "2D (N, C) or 3D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over (N, C, H, W) inputs, per channel C."""
    _expected_dims = (4,)
    _shape_text = "4D (N, C, H, W)"


class BatchNorm3d(_BatchNorm):
    """Batch norm over (N, C, D, H, W) inputs, per channel C."""
    _expected_dims = (5,)
    _shape_text = "5D (N, C, D, H, W)"


class LayerNorm(Module):
    """Layer normalisation (Ba et al. 2016): each sample normalised over its last dims
    ``normalized_shape``, then y = xh * weight + bias (elementwise, of shape normalized_shape).
    No running statistics: training and eval behave the same."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 dtype=None):
        super().__init__()
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input):
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k:]) != self.normalized_shape:
            raise ValueError(f"{self._short_repr()}: expected input of shape (*, "
                             f"{', '.join(map(str, self.normalized_shape))}), got {tuple(input.shape)}")
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
