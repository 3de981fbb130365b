"""Upsample, UpsamplingNearest2d, UpsamplingBilinear2d (nabla.ops.upsample.interpolate as layers)."""
from __future__ import annotations

from ..ops.upsample import interpolate
from .module import Module


class Upsample(Module):
    """Resize to ``size`` or by ``scale_factor``; mode 'nearest', 'nearest-exact', 'linear' or 'bilinear'."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size, self.scale_factor, self.mode = size, scale_factor, mode
        self.align_corners, self.recompute_scale_factor = align_corners, recompute_scale_factor

    def extra_repr(self):
        s = f"scale_factor={self.scale_factor}" if self.scale_factor is not None else f"size={self.size}"
        return s + f", mode={self.mode!r}"

    def forward(self, input):
        return interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                           self.recompute_scale_factor)


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """Bilinear with align_corners=True (as PyTorch's UpsamplingBilinear2d)."""

    def __init__(self, size=None, scale_factor=None):
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]
