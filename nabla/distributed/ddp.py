"""DistributedDataParallel: a module whose gradients come out of ``backward()`` averaged over every MPI rank.

PyTorch's name and semantics, for a loop the user writes::

    model = DistributedDataParallel(model)         # rank 0's weights and buffers copied to every rank
    for x, y in loader:                            # each rank its own shard (DistributedSampler)
        opt.zero_grad()
        loss_fn(model(x), y).backward()            # gradients averaged over the ranks during backward
        opt.step()                                 # the same update on every rank

* At construction: the model's parameter and buffer names, shapes and dtypes are checked to be the same on
  every rank (a hash; a one-line ValueError naming the first difference), then rank 0's values are
  broadcast, so every rank starts from the same weights whatever its seed.
* During backward: a hook on each parameter (``Tensor.register_hook``) copies its gradient into the
  parameter's slice of a bucket (``nabla.distributed.buckets``); when the last gradient of the step has
  arrived, each ``.grad`` becomes the mean over ranks of its bucket's Allreduce.  With ``overlap=True`` (the
  default, as PyTorch's DDP) a bucket's Allreduce starts (MPI_Iallreduce) as soon as its gradients are
  complete, while backward computes the rest, and the last hook waits for them all; ``overlap=False`` reduces
  every bucket (MPI_Allreduce, bucket order) when the last gradient arrives.  Measured on a busy 2-core machine
  (``benchmarks/README.md``), overlapping was faster in 5 of 6 comparisons (by 3-50 %).  Overlapping needs the
  buckets to complete in the same order on every rank, which the same model and the same graph give.
* ``broadcast_buffers`` (default): rank 0's buffers (batch-norm running statistics) are copied to every
  rank before each forward in training mode.  ``nn.SyncBatchNorm`` instead computes the batch statistics
  over every rank's batch.
* ``with model.no_sync():`` backward passes accumulate locally (gradient accumulation); the next backward
  outside it averages the accumulated gradients.
* Every parameter that requires a gradient must get one in each backward, or the reduction never completes:
  the next forward says which did not.  ``find_unused_parameters=True`` walks the graph of each forward's
  output and counts the parameters it does not reach as done (they contribute nothing), as PyTorch does.

``.module`` is the wrapped model (its ``state_dict`` has no ``module.`` prefix: save that one).  In one
process the wrapper only calls the module.  The Trainer (``nabla train``) does not wrap the model: it
reduces the gradients in ``before_optimizer_step`` (``nabla.distributed.strategy``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

from .. import comm
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor, from_numpy
from ..nn.module import Module
from .buckets import make_buckets
from .collectives import broadcast_tensors, check_same_everywhere


def signature(module: Module) -> list:
    """``(name, "shape dtype")`` of each parameter and buffer: what must agree between ranks."""
    named = list(module.named_parameters()) + list(module.named_buffers())
    return [(name, f"{tuple(t.shape)} {t.data.dtype}") for name, t in named]


def _reachable_leaves(outputs) -> set:
    """The ids of the leaf tensors the graph of ``outputs`` (a tensor, or a tuple/list/dict of them) reads."""
    stack, seen_fns, leaves = [], set(), set()
    pending = [outputs]
    while pending:
        o = pending.pop()
        if isinstance(o, Tensor):
            stack.append(o)
        elif isinstance(o, (tuple, list)):
            pending.extend(o)
        elif isinstance(o, dict):
            pending.extend(o.values())
    while stack:
        t = stack.pop()
        fn = t._fn
        if fn is None:
            leaves.add(id(t))
        elif id(fn) not in seen_fns:
            seen_fns.add(id(fn))
            stack.extend(fn.inputs)
    return leaves


@dataclass
class _Reduction:
    """One backward's reduction: a fresh buffer per bucket, the ``(bucket, index)`` of every gradient not
    arrived yet, how many each bucket still waits for, and the Iallreduce requests started so far."""
    buffers: list
    waiting: set
    pending: list
    requests: list = field(default_factory=list)

    @classmethod
    def start(cls, buckets) -> "_Reduction":
        sizes = [len(bucket.params) for bucket in buckets]
        return cls([b.new_buffer() for b in buckets], {(b, i) for b, n in enumerate(sizes) for i in range(n)}, sizes)

    def arrive(self, b: int, i: int) -> bool:
        """Count gradient i of bucket b in; True when that completes bucket b."""
        self.waiting.discard((b, i))
        self.pending[b] -= 1
        return self.pending[b] == 0


class DistributedDataParallel(Module):
    def __init__(self, module: Module, device_ids=None, output_device=None, broadcast_buffers: bool = True,
                 process_group=None, bucket_cap_mb: float = 25.0, find_unused_parameters: bool = False,
                 overlap: bool = True):
        super().__init__()
        if process_group is not None:
            raise ValueError("DistributedDataParallel: process_group must be None: nabla averages over every MPI rank")
        if device_ids not in (None, [], ["cpu"]) or output_device not in (None, "cpu"):
            raise ValueError(f"DistributedDataParallel: nabla runs on the CPU, one process per rank; device_ids "
                             f"must be None, got {device_ids!r}")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        self.module = module
        self.broadcast_buffers, self.find_unused_parameters = bool(broadcast_buffers), bool(find_unused_parameters)
        self.overlap, self.bucket_cap_mb = bool(overlap), float(bucket_cap_mb)
        self.require_backward_grad_sync = True
        self.world_size = comm.world_size()
        self._buckets = make_buckets(module.parameters(), bucket_cap_mb)
        self._step = None  # the reduction under way: see _prepare
        self._names = {id(p): name for name, p in module.named_parameters()}
        if self.world_size > 1:
            check_same_everywhere(f"DistributedDataParallel({type(module).__name__})'s parameters and buffers",
                                  signature(module))
            broadcast_tensors(list(module.parameters()) + list(module.buffers()))
            self._handles = [p.register_hook(self._hook(b, i))
                             for b, bucket in enumerate(self._buckets) for i, p in enumerate(bucket.params)]

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        sync = self.world_size > 1 and self.training and is_grad_enabled() and self.require_backward_grad_sync
        if self.world_size > 1:
            self._check_finished()
            if self.training and self.broadcast_buffers:
                broadcast_tensors(list(self.module.buffers()))
        self._step = None
        out = self.module(*args, **kwargs)
        if sync:
            self._prepare(out)
        return out

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate each rank's own gradients; the first one after averages them."""
        before = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = before

    # ------------------------------------------------------------------ the reduction
    def _prepare(self, out) -> None:
        """A fresh reduction, nothing arrived yet; unreached parameters counted as done."""
        self._step = _Reduction.start(self._buckets)
        if self.find_unused_parameters:
            reached = _reachable_leaves(out)
            for b, bucket in enumerate(self._buckets):
                for i, p in enumerate(bucket.params):
                    if id(p) not in reached:
                        self._arrive(b, i)

    def _hook(self, b: int, i: int):
        def hook(grad):
            step = self._step
            if step is None or (b, i) not in step.waiting:
                return None  # no_sync, eval, or a backward that this forward did not prepare
            p = self._buckets[b].params[i]
            total = grad.data if p.grad is None else p.grad.data + grad.data  # accumulated, as DDP reduces .grad
            p.grad = None
            self._buckets[b].put(step.buffers[b], i, total)
            if self._arrive(b, i):
                mine = p.grad
                p.grad = None  # the engine stores what the hook returns
                return mine
            return from_numpy(total)
        return hook

    def _arrive(self, b: int, i: int) -> bool:
        """Count parameter i of bucket b in; True when that was the step's last (all reduced now)."""
        step = self._step
        if step.arrive(b, i) and self.overlap:
            step.requests.append(comm.iall_reduce(step.buffers[b]))
        if step.waiting:
            return False
        if self.overlap:
            for request in step.requests:
                request.wait()
        else:
            for buffer in step.buffers:
                comm.all_reduce(buffer)
        for bucket, buffer in zip(self._buckets, step.buffers):
            bucket.unpack(buffer, self.world_size)
        self._step = None
        return True

    def _check_finished(self) -> None:
        step = self._step
        if step is None or sum(step.pending) == sum(len(b.params) for b in self._buckets):
            return  # nothing arrived: no backward ran since the forward
        missing = sorted(self._names.get(id(self._buckets[b].params[i]), "?") for b, i in step.waiting)
        self._step = None
        raise RuntimeError(f"DistributedDataParallel: the last backward gave no gradient to {len(missing)} "
                           f"parameter(s) ({', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}), so their "
                           "gradients were not averaged over the ranks; pass find_unused_parameters=True")

    def extra_repr(self) -> str:
        return (f"world_size={self.world_size}, buckets={len(self._buckets)}, bucket_cap_mb={self.bucket_cap_mb:g}, "
                f"overlap={self.overlap}")
