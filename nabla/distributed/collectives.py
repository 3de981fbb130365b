"""Collective operations on Tensors as well as NumPy arrays (``torch.distributed``'s and Horovod's names), and
the two checks every data-parallel start makes: the same model on every rank, rank 0's weights everywhere.

    init()                      joins the MPI job this process was started in (``mpiexec -n N``); one process:
                                nothing to join (no MPI is imported)
    rank(), world_size()        this process's rank, the number of processes (0 and 1 without MPI)
    all_reduce(t, op="sum")     every rank's ``t`` becomes the reduction of all ranks' (in place; returns t);
                                op: "sum", "mean" (sum / world_size: Horovod's default), "max", "min", "prod"
    broadcast(t, src=0)         every rank's ``t`` becomes rank ``src``'s (in place; returns t)
    barrier()                   returns when every rank has called it

The arrays travel through ``nabla.comm`` (mpi4py's buffer interface, no pickling).  A Tensor is reduced in its
``.data``; a non-contiguous one is reduced in a contiguous copy that then becomes its ``.data``.
"""
from __future__ import annotations

import hashlib

import numpy as np

from .. import comm
from ..autograd.tensor import Tensor

__all__ = ["init", "rank", "world_size", "is_initialized", "all_reduce", "broadcast", "barrier",
           "broadcast_tensors", "check_same_everywhere"]

_OPS = ("sum", "mean", "max", "min", "prod")


def init() -> None:
    """Join the MPI job (mpi4py initialises MPI on import); a one-line ``comm.MPIUnavailableError`` when the
    process was started by ``mpiexec -n N`` (N > 1) and mpi4py is missing.  Calling it again does nothing."""
    comm.world_size()


def rank() -> int:
    return comm.rank()


def world_size() -> int:
    return comm.world_size()


def is_initialized() -> bool:
    """Whether this process is one of several MPI ranks (``torch.distributed.is_initialized``)."""
    return comm.is_distributed()


def _array(x, what: str):
    """``(contiguous array, write-back)`` for a Tensor or an ndarray."""
    if isinstance(x, Tensor):
        def put(a):
            x.data = a  # the same array when it was contiguous
            return x._bump()
        return (x.data if x.data.flags.c_contiguous else np.ascontiguousarray(x.data)), put
    if isinstance(x, np.ndarray):
        return comm._check_array(what, x), lambda a: x
    raise TypeError(f"{what}: expected a Tensor or a NumPy array, got {type(x).__name__}")


def all_reduce(x, op: str = "sum"):
    """Reduce ``x`` (a Tensor or an ndarray) elementwise over every rank with ``op``, in place; returns ``x``."""
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")
    a, put = _array(x, "all_reduce")
    comm.all_reduce(a, "sum" if op == "mean" else op)
    if op == "mean":
        if a.dtype.kind not in "fc":
            raise ValueError(f"all_reduce: op 'mean' needs a floating-point array, got {a.dtype}")
        a /= comm.world_size()
    return put(a)


def broadcast(x, src: int = 0):
    """Rank ``src``'s ``x`` on every rank (a Tensor or an ndarray of the same shape and dtype), in place."""
    size = comm.world_size()
    if not 0 <= src < size:
        raise ValueError(f"broadcast: src must be a rank in [0, {size - 1}], got {src}")
    a, put = _array(x, "broadcast")
    comm.broadcast(a, src)
    return put(a)


def barrier() -> None:
    comm.barrier()


def broadcast_tensors(tensors, src: int = 0) -> None:
    """Rank ``src``'s values of ``tensors`` on every rank, in place: packed into one buffer per dtype, so a
    model's weights go in one call per dtype, not one per tensor."""
    if comm.world_size() == 1:
        return
    by_dtype: dict = {}
    for t in tensors:
        by_dtype.setdefault(t.data.dtype, []).append(t)
    for dtype, group in by_dtype.items():
        buffer = np.concatenate([t.data.reshape(-1) for t in group]) if group else np.zeros(0, dtype)
        comm.broadcast(buffer, src)
        start = 0
        for t in group:
            t.data[...] = buffer[start:start + t.data.size].reshape(t.data.shape)
            start += t.data.size
            t._bump()


def _digest(items) -> str:
    return hashlib.sha256(repr(list(items)).encode()).hexdigest()


def check_same_everywhere(what: str, items: list) -> None:
    """A one-line ValueError on every rank unless ``items`` (a list of ``(name, description)`` pairs, e.g. a
    model's parameter names with their shapes and dtypes) is the same on every rank; the error names the first
    rank and the first entry that differ from rank 0's.  Only a hash travels unless they differ."""
    if comm.world_size() == 1:
        return
    digests = comm.all_gather_object(_digest(items))
    if len(set(digests)) == 1:
        return
    lists = comm.all_gather_object([(str(k), str(v)) for k, v in items])
    first = lists[0]
    for r, other in enumerate(lists[1:], 1):
        if other == first:
            continue
        for i in range(max(len(first), len(other))):
            mine = first[i] if i < len(first) else ("(nothing)", "")
            theirs = other[i] if i < len(other) else ("(nothing)", "")
            if mine != theirs:
                raise ValueError(f"{what} differs between ranks: entry {i + 1} is {theirs[0]} {theirs[1]} on rank "
                                 f"{r} but {mine[0]} {mine[1]} on rank 0; start every rank with the same command, "
                                 "code and data")
