"""MaskedConv2d: the masked convolution of PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel
Recurrent Neural Networks", ICML 2016, section 3.4 and Figure 2).

A PixelCNN models an image as a product of conditionals in raster order (row by row, left to right),

    p(x) = prod_i p(x_i | x_1, ..., x_{i-1}),

so the output at pixel i may depend on the pixels before i only.  A convolution keeps that order when its
kernel is multiplied by a fixed mask M that zeroes every tap at or after the centre:

    y = conv2d(x, W * M, b),   M[i, j] = 1 if i < ch, or i == ch and j < cw   (both masks)
                               M[ch, cw] = 0 for mask "A", 1 for mask "B"      (the centre tap)
                               every other tap (right of the centre, rows below) 0

with (ch, cw) = (kh // 2, kw // 2) the kernel's centre.  Mask A (the first layer) cannot see the pixel it
predicts; mask B (every later layer) may see its own position, whose features already depend only on the
pixels before it.  A 3x3 mask-B kernel is ``[[1, 1, 1], [1, 1, 0], [0, 0, 0]]``.

Because the mask multiplies the weight inside forward, the gradient reaching ``weight`` is masked too,
dL/dW = M * dL/d(W * M): the taps outside the mask never change and never matter (they are zeroed at
construction, so the stored weight shows the mask).  The mask is a non-persistent buffer: the state dict is
a Conv2d's, and the mask follows ``mask_type`` and ``kernel_size``.

Channels form a single group: every output channel sees every input channel at the allowed taps, and no
input channel at the centre for mask A.  This is exact for one channel (grey images).  The colour-channel
ordering of the paper (R before G before B at one pixel, split into channel groups in masks A and B) is not
implemented: with several input channels, the channels of one pixel are predicted independently given the
pixels before it.  Only ``padding_mode="zeros"``: reflect or circular padding would copy later pixels (to
the right, or the bottom rows) into the positions the mask lets a pixel see.

    >>> import nabla as nb
    >>> conv = MaskedConv2d(1, 4, 3, mask_type="B")
    >>> conv.mask[0, 0].data.tolist()
    [[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    >>> tuple(conv(nb.zeros((2, 1, 8, 8))).shape)
    (2, 4, 8, 8)
"""
from __future__ import annotations

import numpy as np

from ..ops.conv import Conv2dFunction, _padding, _tuple, conv2d
from ..ops.shape import squeeze, unsqueeze
from .conv import Conv2d
from .parameter import Buffer

MASK_TYPES = ("A", "B")


def raster_mask(kernel_size, mask_type: str) -> np.ndarray:
    """The (kh, kw) 0/1 float32 mask of the module docstring: the rows above the centre, the taps left of
    the centre in its row, and the centre itself for mask "B"."""
    kh, kw = kernel_size
    ch, cw = kh // 2, kw // 2
    mask = np.zeros((kh, kw), np.float32)
    mask[:ch] = 1.0
    mask[ch, :cw + (mask_type == "B")] = 1.0
    return mask


class MaskedConv2d(Conv2d):
    """A Conv2d whose weight is multiplied by a fixed raster-order mask in forward (module docstring):
    ``MaskedConv2d(in_channels, out_channels, kernel_size, mask_type="A" | "B", stride=1, padding=None,
    dilation=1, groups=1, bias=True)``.  ``padding=None`` is "same" for stride 1: dilation * (k // 2) on each
    side.  Kernel sides must be odd (the mask needs a centre)."""

    def __init__(self, in_channels, out_channels, kernel_size, mask_type: str = "A", stride=1, padding=None,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", dtype=None):
        name = type(self).__name__
        if mask_type not in MASK_TYPES:
            raise ValueError(f"{name}: mask_type must be 'A' or 'B', got {mask_type!r}")
        k = _tuple(kernel_size, 2, "kernel_size", name)
        if any(s % 2 == 0 or s < 1 for s in k):
            raise ValueError(f"{name}: kernel_size must be odd on both sides (the mask needs a centre), got {k}")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' keeps the raster order (reflect or circular "
                             f"padding copies later pixels into earlier positions), got {padding_mode!r}")
        if padding is None:
            d = _tuple(dilation, 2, "dilation", name)
            padding = (d[0] * (k[0] // 2), d[1] * (k[1] // 2))
        super().__init__(in_channels, out_channels, k, stride, padding, dilation, groups, bias, padding_mode,
                         dtype)
        self.mask_type = mask_type
        mask = raster_mask(k, mask_type).astype(self.weight.dtype)
        self.mask = Buffer(np.broadcast_to(mask, self.weight.shape).copy(), persistent=False)
        self.weight.data[self.mask.data == 0] = 0.0

    def reset_parameters(self) -> None:
        """Conv2d's initialisation, then the taps outside the mask set to zero (cosmetic: they never act)."""
        super().reset_parameters()
        if "mask" in self._buffers:
            self.weight.data[self.mask.data == 0] = 0.0

    def _row_pads(self):
        """(top, bottom, left, right) padding for the kernel's rows 0..kh//2 alone, or None when the padding
        below is too small for that (then the whole kernel runs)."""
        t, b, left, right = _padding(self.padding, self.kernel_size, self.stride, self.dilation, "MaskedConv2d")
        below = self.dilation[0] * (self.kernel_size[0] // 2)
        return (t, b - below, left, right) if b >= below else None

    def forward(self, input):
        self._check_input(input)
        pads = self._row_pads()
        try:
            if pads is None:
                return conv2d(input, self.weight * self.mask, self.bias, self.stride, self.padding, self.dilation,
                              self.groups)
            return self._upper_rows_conv(input, pads)
        except ValueError as e:
            raise self._rethrow(e) from None

    def _upper_rows_conv(self, input, pads):
        """The same convolution with the kernel's all-zero rows below the centre dropped (2 of 3 rows of a 3x3,
        4 of 7 of a 7x7) and the padding below reduced by as many rows: the same output, less work."""
        rows = self.kernel_size[0] // 2 + 1
        w = self.weight[:, :, :rows] * self.mask[:, :, :rows]
        unbatched = input.ndim == 3
        x = unsqueeze(input, 0) if unbatched else input
        if x.dtype != w.dtype:
            raise TypeError(f"input ({x.dtype}) and weight ({w.dtype}) must have the same dtype")
        args = (x, w) if self.bias is None else (x, w, self.bias)
        out = Conv2dFunction.apply(*args, stride=self.stride, pads=pads, dilation=self.dilation, groups=self.groups)
        return squeeze(out, 0) if unbatched else out

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type!r}"


__all__ = ["MaskedConv2d", "raster_mask"]
