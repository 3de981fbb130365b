"""OpInfo entries for nabla/ops/pool.py: max/avg pooling over kernel, stride, padding, dilation, ceil_mode,
count_include_pad, odd sizes; adaptive pools (divisible and not); max_unpool2d with and without output_size."""
import numpy as np

import nabla as nb
from .opinfo import OpInfo, Sample, randn


def _F():
    import torch.nn.functional as F
    return F


def _spread(r, *shape):
    """Distinct values at least ~0.05 apart, so each window's max is unique (finite differences stay on one side)."""
    n = int(np.prod(shape))
    return (r.permutation(n).astype(np.float64) * 0.05 + r.uniform(0, 0.01, n)).reshape(shape) - n * 0.025


def max_pool2d_samples(r):
    cases = [((2, 2, 4, 4), dict(kernel_size=2)),
             ((1, 2, 5, 7), dict(kernel_size=3, stride=2, padding=1)),
             ((1, 2, 5, 7), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
             ((1, 1, 6, 5), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))),
             ((1, 2, 5, 5), dict(kernel_size=2, stride=2, ceil_mode=True)),
             ((1, 1, 7, 7), dict(kernel_size=3, stride=2, dilation=2, ceil_mode=True)),
             ((1, 2, 4, 4), dict(kernel_size=2, stride=1, return_indices=True)),
             ((1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True)),
             ((2, 5, 5), dict(kernel_size=2, return_indices=True))]
    return [Sample((_spread(r, *s),), kw, name=f"{s}-{kw}") for s, kw in cases]


def max_pool1d_samples(r):
    return [Sample((_spread(r, 2, 2, 7),), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
            Sample((_spread(r, 2, 6),), dict(kernel_size=2, return_indices=True))]


def avg_pool2d_samples(r):
    cases = [((2, 2, 4, 4), dict(kernel_size=2)),
             ((1, 2, 5, 7), dict(kernel_size=3, stride=2, padding=1)),
             ((1, 2, 5, 7), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
             ((1, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
             ((1, 2, 5, 6), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
             ((1, 1, 6, 5), dict(kernel_size=(3, 2), stride=(1, 2), padding=(1, 1))),
             ((1, 1, 5, 5), dict(kernel_size=2, stride=1, divisor_override=3)),
             ((2, 5, 5), dict(kernel_size=2, ceil_mode=True))]
    return [Sample((randn(r, *s),), kw, name=f"{s}-{kw}") for s, kw in cases]


def avg_pool1d_samples(r):
    return [Sample((randn(r, 2, 2, 7),), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False))]


def adaptive_samples(r, make):
    cases = [((2, 2, 6, 4), 1), ((1, 2, 6, 4), (3, 2)), ((1, 2, 5, 7), (3, 4)), ((1, 1, 5, 7), (2, None)),
             ((1, 2, 3, 3), 5), ((2, 5, 4), 3)]
    return [Sample((make(r, *s),), dict(output_size=o), name=f"{s}-{o}") for s, o in cases]


def adaptive_max_samples(r):
    out = adaptive_samples(r, _spread)
    out.append(Sample((_spread(r, 1, 2, 5, 7),), dict(output_size=(3, 4), return_indices=True), name="indices"))
    out.append(Sample((_spread(r, 1, 2, 6, 4),), dict(output_size=(3, 2), return_indices=True), name="indices-div"))
    return out


def _pool_indices(r, n, c, oh, ow, k, s, p, h, w):
    """max_pool2d-like indices, distinct within each plane (a random position in each window's first
    stride x stride block), so no two inputs land on one output and the gradient is well defined."""
    rows = np.arange(oh)[:, None] * s + r.integers(0, min(k, s), (n, c, oh, ow))
    cols = np.arange(ow)[None, :] * s + r.integers(0, min(k, s), (n, c, oh, ow))
    rows, cols = np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)
    return (rows * w + cols).astype(np.int64)


def max_unpool2d_samples(r):
    return [
        Sample((randn(r, 2, 2, 2, 3), _pool_indices(r, 2, 2, 2, 3, 2, 2, 0, 4, 6)), dict(kernel_size=2), name="k2"),
        Sample((randn(r, 1, 2, 3, 3), _pool_indices(r, 1, 2, 3, 3, 3, 2, 1, 5, 5)),
               dict(kernel_size=3, stride=2, padding=1), name="k3s2p1"),
        Sample((randn(r, 1, 2, 2, 2), _pool_indices(r, 1, 2, 2, 2, 2, 2, 0, 5, 5)),
               dict(kernel_size=2, output_size=(5, 5)), name="output_size"),
        Sample((randn(r, 1, 2, 2, 2), _pool_indices(r, 1, 2, 2, 2, 2, 2, 0, 5, 4)),
               dict(kernel_size=2, output_size=(1, 2, 5, 4)), name="output_size4"),
    ]


OPS = [
    OpInfo("max_pool2d", nb.max_pool2d, lambda *a, **k: _F().max_pool2d(*a, **k), max_pool2d_samples),
    OpInfo("max_pool1d", nb.max_pool1d, lambda *a, **k: _F().max_pool1d(*a, **k), max_pool1d_samples),
    OpInfo("avg_pool2d", nb.avg_pool2d, lambda *a, **k: _F().avg_pool2d(*a, **k), avg_pool2d_samples),
    OpInfo("avg_pool1d", nb.avg_pool1d, lambda *a, **k: _F().avg_pool1d(*a, **k), avg_pool1d_samples),
    OpInfo("adaptive_avg_pool2d", nb.adaptive_avg_pool2d, lambda *a, **k: _F().adaptive_avg_pool2d(*a, **k),
           lambda r: adaptive_samples(r, randn)),
    OpInfo("adaptive_avg_pool1d", nb.adaptive_avg_pool1d, lambda *a, **k: _F().adaptive_avg_pool1d(*a, **k),
           lambda r: [Sample((randn(r, 2, 2, 7),), dict(output_size=3)), Sample((randn(r, 2, 6),), dict(output_size=2))]),
    OpInfo("adaptive_max_pool2d", nb.adaptive_max_pool2d, lambda *a, **k: _F().adaptive_max_pool2d(*a, **k),
           adaptive_max_samples),
    OpInfo("max_unpool2d", nb.max_unpool2d, lambda *a, **k: _F().max_unpool2d(*a, **k), max_unpool2d_samples),
]
