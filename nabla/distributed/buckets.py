"""Gradient buckets: every parameter's gradient averaged over the ranks in a few large Allreduce calls.

One Allreduce per parameter would pay MPI's latency (microseconds to tens of microseconds a call) dozens of
times a step; one call for the whole model could not start before the last gradient exists.  So, as
PyTorch's DistributedDataParallel does, the parameters are laid out in buckets of about ``bucket_cap_mb``
megabytes, in reverse order of registration (backward produces the last layers' gradients first), one dtype
per bucket.  A bucket is one flat buffer: each gradient is copied into its slice, the buffer is summed over
the ranks, and each parameter's ``.grad`` becomes its slice divided by the number of ranks:

    grad_p <- (1/N) sum_r grad_p^(r)      (the mean over ranks of each rank's mean-over-its-batch gradient,
                                           i.e. the gradient of the mean loss over all N*B samples)

A parameter without a gradient on a rank contributes zeros there; each bucket carries one more number per
parameter, 1 where the rank had a gradient, so a parameter that no rank has a gradient for keeps
``.grad = None`` everywhere (an optimizer then skips it, as it would in one process).  Every rank must
reduce the same buckets in the same order, which is why the layout is fixed at construction from the
parameter list, the same on every rank.
"""
from __future__ import annotations

import time

import numpy as np

from .. import comm
from ..autograd.tensor import from_numpy


class Bucket:
    """Parameters of one dtype sharing one buffer; ``slices[i]`` is parameter i's place in it."""

    def __init__(self, params: list):
        self.params = params
        self.dtype = params[0].data.dtype
        sizes = [p.data.size for p in params]
        stops = np.cumsum(sizes)
        self.slices = [slice(int(stop - size), int(stop)) for size, stop in zip(sizes, stops)]
        self.size = int(stops[-1])

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def new_buffer(self) -> np.ndarray:
        """A fresh buffer, gradients then one presence flag per parameter (fresh each step: the ``.grad``s of
        the last step are views into the last buffer)."""
        return np.zeros(self.size + len(self.params), self.dtype)

    def put(self, buffer: np.ndarray, i: int, grad) -> None:
        buffer[self.slices[i]] = grad.reshape(-1)
        buffer[self.size + i] = 1

    def pack(self) -> np.ndarray:
        buffer = self.new_buffer()
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self.put(buffer, i, p.grad.data)
        return buffer

    def unpack(self, buffer: np.ndarray, world_size: int) -> None:
        """Each parameter's ``.grad`` becomes the mean over ranks (a view of the summed buffer)."""
        buffer[:self.size] /= world_size
        present = buffer[self.size:]
        for p, where, count in zip(self.params, self.slices, present):
            p.grad = from_numpy(buffer[where].reshape(p.data.shape)) if count > 0 else None


def make_buckets(parameters, bucket_cap_mb: float = 25.0) -> list:
    """The parameters that require a gradient, last registered first, cut into buckets of at most
    ``bucket_cap_mb`` MiB (a larger parameter gets a bucket of its own) and one dtype."""
    if not bucket_cap_mb > 0:
        raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
    cap = bucket_cap_mb * 2 ** 20
    seen, ordered = set(), []
    for p in parameters:
        if p.requires_grad and id(p) not in seen:
            seen.add(id(p))
            ordered.append(p)
    buckets, open_ = [], {}  # dtype -> (params, bytes) of the bucket being filled
    for p in reversed(ordered):
        params, size = open_.get(p.data.dtype, ([], 0))
        if params and size + p.data.nbytes > cap:
            buckets.append(Bucket(params))
            params, size = [], 0
        open_[p.data.dtype] = (params + [p], size + p.data.nbytes)
    buckets.extend(Bucket(params) for params, _ in open_.values() if params)
    return buckets


class GradientReducer:
    """Averages the gradients of a fixed list of parameters over the ranks, one Allreduce per bucket
    (``reduce()``, after backward: what the Trainer's ``before_optimizer_step`` calls).  ``calls`` and
    ``seconds`` count the Allreduce calls and the time spent in them (communication and waiting for the
    slowest rank), for the benchmarks."""

    def __init__(self, parameters, bucket_cap_mb: float = 25.0):
        self.buckets = make_buckets(parameters, bucket_cap_mb)
        self.calls, self.seconds = 0, 0.0

    def reduce(self) -> None:
        n = comm.world_size()
        if n == 1:
            return
        for bucket in self.buckets:
            buffer = bucket.pack()
            t0 = time.perf_counter()
            comm.all_reduce(buffer)
            self.seconds += time.perf_counter() - t0
            self.calls += 1
            bucket.unpack(buffer, n)
