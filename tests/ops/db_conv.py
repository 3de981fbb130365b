"""OpInfo entries for nabla/ops/conv.py: conv1d, conv2d, conv_transpose1d/2d over strides, paddings
(ints, tuples, 'same', 'valid'), dilations, groups (depthwise included), bias and output_padding.
Shapes are tiny (gradcheck perturbs every element); the fast paths (shifted products for many channels,
im2col in chunks) are forced on small shapes by tests/ops/test_conv.py."""
import numpy as np

import nabla as nb
from .opinfo import OpInfo, Sample, randn


def _torch_f():
    import torch.nn.functional as F
    return F


def conv2d_samples(r):
    # (N, C, H, W), (K, C/g, kh, kw), bias?, kwargs
    cases = [
        ((2, 2, 5, 4), (3, 2, 3, 3), True, {}),
        ((1, 2, 5, 5), (2, 2, 3, 2), True, dict(padding=1)),
        ((2, 2, 6, 5), (2, 2, 3, 3), False, dict(stride=2, padding=(1, 0))),
        ((1, 2, 7, 6), (2, 2, 2, 3), True, dict(stride=(2, 1), dilation=(2, 1), padding=1)),
        ((1, 4, 5, 5), (4, 2, 3, 3), True, dict(groups=2, padding=1)),
        ((1, 3, 5, 4), (6, 1, 3, 3), True, dict(groups=3, padding="same")),      # depthwise, multiplier 2
        ((1, 2, 6, 6), (2, 1, 2, 2), False, dict(groups=2, stride=2)),            # depthwise, stride
        ((1, 2, 5, 6), (2, 2, 2, 3), True, dict(padding="same", dilation=2)),    # asymmetric 'same'
        ((1, 2, 4, 4), (3, 2, 3, 3), True, dict(padding="valid")),
        ((2, 3, 3, 3), (2, 3, 1, 1), True, {}),                                   # 1x1
        ((1, 2, 1, 1), (2, 2, 1, 1), True, {}),                                   # 1x1 image
        ((4, 3, 3), (2, 4, 3, 3), True, dict(padding=1)),                        # unbatched (C, H, W)
    ]
    out = []
    for xs, ws, bias, kw in cases:
        args = (randn(r, *xs), randn(r, *ws), randn(r, ws[0]) if bias else None)
        out.append(Sample(args, kw, name=f"{xs}x{ws}{'b' if bias else ''}-{kw}"))
    return out


def conv1d_samples(r):
    cases = [((2, 2, 6), (3, 2, 3), True, {}), ((1, 2, 7), (2, 1, 2), True, dict(groups=2, stride=2, padding=1)),
             ((1, 2, 6), (2, 2, 3), False, dict(padding="same", dilation=2)), ((2, 5), (2, 2, 3), True, {})]
    return [Sample((randn(r, *xs), randn(r, *ws), randn(r, ws[0]) if b else None), kw, name=f"{xs}x{ws}-{kw}")
            for xs, ws, b, kw in cases]


def conv_transpose2d_samples(r):
    # (N, C_in, H, W), (C_in, C_out/g, kh, kw), bias?, kwargs
    cases = [
        ((2, 2, 3, 4), (2, 3, 3, 3), True, {}),
        ((1, 2, 3, 3), (2, 2, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
        ((1, 2, 3, 2), (2, 1, 2, 3), False, dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2))),
        ((1, 4, 3, 3), (4, 1, 3, 3), True, dict(groups=2, stride=2, dilation=2, output_padding=1)),
        ((1, 2, 3, 3), (2, 2, 2, 2), True, dict(dilation=2, padding=1)),
        ((1, 3, 2, 2), (3, 1, 3, 3), True, dict(groups=3)),                        # depthwise
        ((2, 3, 2), (2, 2, 3, 2), True, dict(stride=2)),                            # unbatched
    ]
    return [Sample((randn(r, *xs), randn(r, *ws), randn(r, ws[1] * kw.get("groups", 1)) if b else None), kw,
                   name=f"{xs}x{ws}{'b' if b else ''}-{kw}") for xs, ws, b, kw in cases]


def conv_transpose1d_samples(r):
    cases = [((2, 2, 4), (2, 3, 3), True, dict(stride=2, padding=1, output_padding=1)),
             ((1, 2, 3), (2, 1, 2), False, dict(groups=2, dilation=2))]
    return [Sample((randn(r, *xs), randn(r, *ws), randn(r, ws[1] * kw.get("groups", 1)) if b else None), kw,
                   name=f"{xs}x{ws}-{kw}") for xs, ws, b, kw in cases]




OPS = [
    OpInfo("conv2d", nb.conv2d, lambda *a, **k: _torch_f().conv2d(*a, **k), conv2d_samples),
    OpInfo("conv1d", nb.conv1d, lambda *a, **k: _torch_f().conv1d(*a, **k), conv1d_samples),
    OpInfo("conv_transpose2d", nb.conv_transpose2d, lambda *a, **k: _torch_f().conv_transpose2d(*a, **k),
           conv_transpose2d_samples),
    OpInfo("conv_transpose1d", nb.conv_transpose1d, lambda *a, **k: _torch_f().conv_transpose1d(*a, **k),
           conv_transpose1d_samples),
]
