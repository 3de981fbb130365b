"""nabla.comm in a single process (no MPI launcher): rank 0 of 1, the collectives are identities, mpi4py is not
imported; started as one of several MPI ranks without mpi4py, a one-line error names the extra.  The
multi-process behaviour is tested under mpiexec in tests/distributed/."""
import subprocess
import sys

import numpy as np
import pytest

from nabla import comm


def test_single_process_is_rank_0_of_1(monkeypatch):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert (comm.rank(), comm.world_size(), comm.is_distributed()) == (0, 1, False)
    a = np.arange(3.0)
    assert comm.all_reduce(a) is a and a.tolist() == [0, 1, 2]
    assert comm.broadcast(a) is a
    assert comm.broadcast_object({"x": 1}) == {"x": 1}
    assert comm.all_gather_object(5) == [5]
    comm.barrier()
    assert comm.mpi_library() == "none"


def test_single_process_never_imports_mpi4py():
    code = ("import sys, numpy as np, nabla; from nabla import comm; comm.all_reduce(np.ones(2)); "
            "print('mpi4py' in sys.modules)")
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"


def test_errors_name_the_collective():
    with pytest.raises(ValueError, match="all_reduce: op must be one of"):
        comm.all_reduce(np.ones(2), op="mean")
    with pytest.raises(TypeError, match="all_reduce: expected a NumPy array"):
        comm.all_reduce([1.0, 2.0])
    with pytest.raises(ValueError, match="broadcast: the array must be C-contiguous"):
        comm.broadcast(np.ones((3, 3))[:, 0])


def test_launched_without_mpi4py_says_what_to_install(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py fails
    monkeypatch.setitem(comm._state, "comm", None)
    with pytest.raises(comm.MPIUnavailableError, match=r'one of 2 .* pip install "nabla\[mpi\]"'):
        comm.world_size()
