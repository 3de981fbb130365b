"""Batch normalisation whose statistics span every process of a data-parallel run (``nn.SyncBatchNorm``).

Each of N ranks holds a part x_r of the global batch (M_r values per channel, M = sum_r M_r).  Forward:
every rank adds its per-channel [sum x, sum x^2, M_r] into one all-reduce, so all ranks normalise with the
global statistics
    mu = sum_r sum x_r / M,   var = sum_r sum x_r^2 / M - mu^2  (biased),   r = 1 / sqrt(var + eps)
    xh = (x - mu) r,   y = w xh + b
(the same numbers one process with the whole batch computes, up to rounding).  Backward: the three-term
batch-norm formula, whose two sums run over the whole batch, so they are all-reduced too (one call):
    dx = w r (g - sum_all(g) / M - xh sum_all(g xh) / M)
dw = sum(g xh) and db = sum(g) stay this rank's own, as in PyTorch: data parallelism averages every
parameter's gradient afterwards, and the mean of the ranks' local sums is then the one-process gradient.

Why E[x^2] - mu^2 and not a two-pass variance: one all-reduce instead of two.  The statistics are accumulated
in float64, so the cancellation costs nothing at float32 precision.  Once differentiable (no grad of grad).
"""
from __future__ import annotations

import numpy as np

from .. import comm
from ..autograd.function import Function
from ._util import as_tensor
from .normalization import _channel_sum, update_running_stats


class _SyncNormalize(Function):
    def __init__(self, eps, stats):
        self.eps, self.stats = eps, stats

    def forward(self, x, w, b):
        c = x.shape[1]
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.pshape = (1, c) + (1,) * (x.ndim - 2)
        x64 = x.astype(np.float64)     # a copy even for float64 input: it is squared in place below
        sums = _channel_sum(x64, self.axes)
        local = np.concatenate([sums, _channel_sum(np.square(x64, out=x64), self.axes), [x.size // c]])
        del x64
        total = comm.all_reduce(np.ascontiguousarray(local))
        self.count = total[-1]
        if self.count <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over all ranks when training, "
                             f"got {int(self.count)} (input of shape {tuple(x.shape)} on this rank)")
        mean = total[:c] / self.count
        var = np.maximum(total[c:2 * c] / self.count - mean * mean, 0.0)
        self.stats["mean"], self.stats["var"], self.stats["count"] = mean, var, self.count
        self.invstd = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype).reshape(self.pshape)
        self.xhat = (x - mean.astype(x.dtype).reshape(self.pshape)) * self.invstd
        return self.xhat * w.reshape(self.pshape) + b.reshape(self.pshape)

    def backward_arrays(self, g):
        c, dt = g.shape[1], g.dtype
        sg, sgx = _channel_sum(g, self.axes), _channel_sum(g * self.xhat, self.axes)
        needs = self.needs_input_grad
        gw = sgx.astype(dt, copy=False) if needs[1] else None
        gb = sg.astype(dt, copy=False) if needs[2] else None
        gx = None
        if needs[0]:
            both = comm.all_reduce(np.ascontiguousarray(np.concatenate([sg, sgx]).astype(np.float64)))
            mg, mgx = (both[:c] / self.count).astype(dt), (both[c:] / self.count).astype(dt)
            w = self.inputs[1].data
            gx = g - mg.reshape(self.pshape) - self.xhat * mgx.reshape(self.pshape)
            gx *= self.invstd * w.reshape(self.pshape)
        return gx, gw, gb


def sync_batch_norm(input, weight, bias, running_mean=None, running_var=None, momentum: float = 0.1,
                    eps: float = 1e-5):
    """Training-mode batch norm over (N, C, *) with statistics over the batches of every rank; updates the
    running estimates (the unbiased global variance, as ``batch_norm``) the same way on every rank."""
    x, w, b = as_tensor(input), as_tensor(weight), as_tensor(bias)
    stats: dict = {}
    out = _SyncNormalize.apply(x, w, b, eps=eps, stats=stats)
    if running_mean is not None and running_var is not None:
        update_running_stats(running_mean, running_var, stats["mean"], stats["var"], stats["count"], momentum)
    return out
