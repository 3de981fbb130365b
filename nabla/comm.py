"""The array-level communicator: which process this is, how many there are, and collective operations on
NumPy arrays between them, over MPI.

Why here, at the backend's level: ``nn.SyncBatchNorm`` must reduce batch statistics and
``data.DistributedSampler`` must know its rank, and neither may import anything above ``nn``/``data``.
Everything that knows about models, optimizers or the Trainer (``DistributedDataParallel``, the launcher)
lives in ``nabla.distributed``, above ``nabla.train``.

One process means no MPI: unless the process was started by an MPI launcher (``mpiexec``/``mpirun``: MPICH,
Open MPI or any PMI/PMIx launcher sets an environment variable saying how many processes it started),
``world_size()`` is 1, ``rank()`` is 0, the collectives return their input, and ``mpi4py`` is never
imported.  Started by ``mpiexec -n N`` with N > 1, the first collective imports ``mpi4py`` (which
initialises MPI) and works on ``MPI.COMM_WORLD``; when ``mpi4py`` is missing that is a one-line error
naming the extra to install.

The collectives follow ``torch.distributed``'s semantics where it has them:

    all_reduce(array, op="sum")   every rank gets the elementwise reduction of all ranks' arrays (in place
                                  for a contiguous NumPy array, which is also returned)
    iall_reduce(array, op="sum")  the same, started without waiting (MPI_Iallreduce); ``.wait()`` on the
                                  returned request finishes it
    broadcast(array, src=0)       every rank gets rank ``src``'s array (in place)
    barrier()                     waits until every rank has arrived
    broadcast_object(obj, src)    any picklable Python object from rank ``src`` (small control data:
                                  decisions, configs, hashes -- never model weights, which go as arrays)
    all_gather_object(obj)        the list of every rank's object, in rank order

The reduction of float arrays is MPI's: with more than two ranks the order of the additions is the MPI
library's, so results are equal across ranks but may differ from a serial sum in the last bit.
"""
from __future__ import annotations

import os

import numpy as np

__all__ = ["rank", "world_size", "is_distributed", "launched_size", "all_reduce", "iall_reduce", "broadcast", "barrier",
           "broadcast_object", "all_gather_object", "abort", "MPIUnavailableError", "mpi_library"]

# environment variables an MPI launcher sets to the number of processes it started (MPICH's Hydra and
# Intel MPI: PMI_SIZE; Open MPI: OMPI_COMM_WORLD_SIZE; PMIx launchers, e.g. Slurm's srun: PMIX_SIZE ...)
# (Slurm's SLURM_NTASKS alone does not mean that this process is an MPI rank, so it is not read)
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE")
_OPS = ("sum", "max", "min", "prod")
_state: dict = {"comm": None}


class MPIUnavailableError(RuntimeError):
    """Raised when a run needs MPI (several processes) but mpi4py cannot be imported."""


def launched_size() -> int:
    """How many processes the MPI launcher says it started (1 when none did); read from the environment,
    without importing mpi4py."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.strip().isdigit():
            return int(value)
    return 1


def _comm():
    """``MPI.COMM_WORLD`` when running as one of several MPI processes, else None (no MPI at all)."""
    if _state["comm"] is None and launched_size() > 1:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise MPIUnavailableError(
                f"this process is one of {launched_size()} started by an MPI launcher, but mpi4py cannot be "
                f"imported ({e}); install it with: pip install \"nabla[mpi]\"") from None
        _state["comm"] = MPI.COMM_WORLD
    return _state["comm"]


def mpi_library() -> str:
    """The MPI library's version line (\"none\" in a single process)."""
    comm = _comm()
    if comm is None:
        return "none"
    from mpi4py import MPI
    return MPI.Get_library_version().splitlines()[0].strip()


def rank() -> int:
    """This process's rank, 0 .. world_size() - 1 (0 in a single process)."""
    comm = _comm()
    return 0 if comm is None else comm.Get_rank()


def world_size() -> int:
    """The number of processes (1 without MPI)."""
    comm = _comm()
    return 1 if comm is None else comm.Get_size()


def is_distributed() -> bool:
    return world_size() > 1


def _check_op(op: str) -> None:
    if op not in _OPS:
        raise ValueError(f"all_reduce: op must be one of {', '.join(_OPS)}, got {op!r}")


def _mpi_op(op: str):
    from mpi4py import MPI
    return {"sum": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN, "prod": MPI.PROD}[op]


def _check_array(name: str, array) -> np.ndarray:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array, got {type(array).__name__}")
    if not array.flags.c_contiguous:
        raise ValueError(f"{name}: the array must be C-contiguous (it is reduced in place); "
                         f"pass np.ascontiguousarray(a) and use the returned array")
    return array


def all_reduce(array: np.ndarray, op: str = "sum") -> np.ndarray:
    """Reduce ``array`` elementwise over all ranks with ``op``; every rank's array holds the result
    (in place, also returned).  ``op``: "sum", "max", "min" or "prod"."""
    _check_op(op)
    comm = _comm()
    array = _check_array("all_reduce", array)
    if comm is None:
        return array
    from mpi4py import MPI
    comm.Allreduce(MPI.IN_PLACE, array, op=_mpi_op(op))
    return array


class _Done:
    """The request of a reduction that had nothing to wait for (one process)."""

    def wait(self) -> None:
        pass


class _Request:
    def __init__(self, request):
        self._request = request

    def wait(self) -> None:
        self._request.Wait()


def iall_reduce(array: np.ndarray, op: str = "sum"):
    """Start ``all_reduce(array, op)`` and return at once; ``request.wait()`` returns when ``array`` holds the
    result (until then the array must not be touched).  With MPICH's defaults the transfer progresses inside
    MPI calls, so the overlap with computation it buys depends on the MPI library and on spare cores."""
    _check_op(op)
    comm = _comm()
    array = _check_array("iall_reduce", array)
    if comm is None:
        return _Done()
    from mpi4py import MPI
    return _Request(comm.Iallreduce(MPI.IN_PLACE, array, op=_mpi_op(op)))


def broadcast(array: np.ndarray, src: int = 0) -> np.ndarray:
    """Every rank's ``array`` becomes rank ``src``'s (in place, also returned; shapes must agree)."""
    comm = _comm()
    array = _check_array("broadcast", array)
    if comm is not None:
        comm.Bcast(array, root=src)
    return array


def barrier() -> None:
    """Return when every rank has called it."""
    comm = _comm()
    if comm is not None:
        comm.Barrier()


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s ``obj`` on every rank (pickled: small control data only)."""
    comm = _comm()
    return obj if comm is None else comm.bcast(obj, root=src)


def all_gather_object(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank."""
    comm = _comm()
    return [obj] if comm is None else comm.allgather(obj)


def abort(code: int = 1) -> None:
    """End every rank at once (MPI_Abort): what a rank that failed does so that the others do not wait in a
    collective forever.  In a single process it does nothing (the caller raises or exits)."""
    comm = _comm()
    if comm is not None:
        comm.Abort(code)
