"""Convolution layers: Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, with PyTorch's weight layouts,
default initialisation and options.  The math (and how it is made fast) is in nabla.ops.conv.

    Conv2d           weight (out_channels, in_channels/groups, kh, kw)
    ConvTranspose2d  weight (in_channels, out_channels/groups, kh, kw)
Default init, as PyTorch: weight ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
with fan_in = weight.shape[1] * kh * kw; bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
padding_mode 'zeros' pads inside the convolution; 'reflect', 'replicate' and 'circular' pad first (F.pad)."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..ops.conv import (conv1d, conv2d, conv_transpose1d, conv_transpose2d, _tuple)
from ..ops.shape import pad as _pad
from . import init
from .module import Module
from .parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", output_padding=0, dtype=None):
        super().__init__()
        name, nd = type(self).__name__, self._nd
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _tuple(kernel_size, nd, "kernel_size", name)
        self.stride = _tuple(stride, nd, "stride", name)
        self.dilation = _tuple(dilation, nd, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions")
            if self._transposed:
                raise ValueError(f"{name}: padding must be an int or a tuple, got {padding!r}")
            self.padding = padding
        else:
            self.padding = _tuple(padding, nd, "padding", name)
        self.output_padding = _tuple(output_padding, nd, "output_padding", name)
        self.padding_mode = padding_mode
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        if self._transposed:
            shape = (self.in_channels, self.out_channels // groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // groups) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _check_input(self, input):
        nd = self._nd
        if input.ndim not in (nd + 1, nd + 2):
            dims = "(N, C, L) or (C, L)" if nd == 1 else "(N, C, H, W) or (C, H, W)"
            raise ValueError(f"{self._short_repr()}: expected input of shape {dims}, got {tuple(input.shape)}")
        c = input.shape[-nd - 1]
        if c != self.in_channels:
            raise ValueError(f"{self._short_repr()}: expected input with {self.in_channels} channels, got input of "
                             f"shape {tuple(input.shape)} ({c} channels)")

    def _rethrow(self, e):
        return type(e)(f"{self._short_repr()}: {e}")


class _Conv(_ConvNd):
    _fn = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, 0, dtype)

    def forward(self, input):
        self._check_input(input)
        padding = self.padding
        if self.padding_mode != "zeros":
            if isinstance(padding, str):
                pads = []
                for k, d in zip(reversed(self.kernel_size), reversed(self.dilation)):
                    total = 0 if padding == "valid" else d * (k - 1)
                    pads += [total // 2, total - total // 2]
            else:
                pads = [p for p in reversed(padding) for _ in (0, 1)]
            input = _pad(input, tuple(pads), mode=self.padding_mode)
            padding = 0
        try:
            return type(self)._fn(input, self.weight, self.bias, self.stride, padding, self.dilation, self.groups)
        except ValueError as e:
            raise self._rethrow(e) from None


class Conv1d(_Conv):
    """1-d convolution over (N, C_in, L): weight (C_out, C_in/groups, k)."""
    _nd = 1
    _fn = staticmethod(conv1d)


class Conv2d(_Conv):
    """2-d convolution over (N, C_in, H, W): weight (C_out, C_in/groups, kh, kw);
    H_out = (H + 2p - d(kh - 1) - 1) // s + 1."""
    _nd = 2
    _fn = staticmethod(conv2d)


class _ConvTranspose(_ConvNd):
    _transposed = True
    _fn = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding, dtype)

    def _output_padding(self, input, output_size):
        """output_padding that makes the output ``output_size`` (PyTorch's ConvTranspose forward(output_size=))."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        size = tuple(int(s) for s in output_size)[-nd:]
        if len(size) != nd:
            raise ValueError(f"{self._short_repr()}: output_size must have {nd} or {nd + 2} elements, got "
                             f"{tuple(output_size)}")
        out = []
        for d in range(nd):
            n = input.shape[input.ndim - nd + d]
            smallest = ((n - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            largest = smallest + self.stride[d] - 1
            if not smallest <= size[d] <= largest:
                raise ValueError(f"{self._short_repr()}: requested an output size of {size}, but valid sizes for "
                                 f"input of shape {tuple(input.shape)} range from {smallest} to {largest} in "
                                 f"dim {d}")
            out.append(size[d] - smallest)
        return tuple(out)

    def forward(self, input, output_size=None):
        self._check_input(input)
        op = self._output_padding(input, output_size)
        try:
            return type(self)._fn(input, self.weight, self.bias, self.stride, self.padding, op, self.groups,
                                  self.dilation)
        except ValueError as e:
            raise self._rethrow(e) from None


class ConvTranspose1d(_ConvTranspose):
    """1-d transposed convolution over (N, C_in, L): weight (C_in, C_out/groups, k)."""
    _nd = 1
    _fn = staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """2-d transposed convolution (the gradient of Conv2d with respect to its input, as a layer):
    weight (C_in, C_out/groups, kh, kw);  H_out = (H - 1) s - 2p + d(kh - 1) + output_padding + 1."""
    _nd = 2
    _fn = staticmethod(conv_transpose2d)


__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]
