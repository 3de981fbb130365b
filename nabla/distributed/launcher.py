"""``nabla train --nproc N ...``: start the same command as N MPI processes (``mpiexec -n N``) and wait.

The launcher is the MPI library's own (MPICH's ``mpiexec``, installed into the environment by
``pip install "nabla[mpi]"``, or a system MPI's on PATH); nabla adds no protocol of its own.  Each process
gets ``cpus // N`` BLAS threads unless the environment already says how many (N processes with a thread per
core each would fight over the cores).  Without mpi4py or a launcher it is a one-line error saying what to
install.  For several machines, call ``mpiexec`` yourself with its host options (``-hosts``, ``-f``).
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..comm import MPIUnavailableError

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def find_mpiexec(python: str | None = None, path: str | None = None) -> str | None:
    """The ``mpiexec`` (or ``mpirun``) beside ``python`` (a virtual environment's), else the first on PATH."""
    folder = Path(python or sys.executable).parent
    for name in ("mpiexec", "mpirun"):
        if (folder / name).exists():
            return str(folder / name)
    for name in ("mpiexec", "mpirun"):
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def check_mpi(nproc: int, python: str | None = None, path: str | None = None) -> str:
    """The launcher to use; MPIUnavailableError (one line) when mpi4py or a launcher is missing."""
    if importlib.util.find_spec("mpi4py") is None:
        raise MPIUnavailableError(f"--nproc {nproc} needs MPI, but mpi4py is not installed: pip install "
                                  "\"nabla[mpi]\" (mpi4py and MPICH's mpiexec), or mpi4py beside a system MPI")
    launcher = find_mpiexec(python, path)
    if launcher is None:
        raise MPIUnavailableError(f"--nproc {nproc} needs an MPI launcher (mpiexec), and none is installed beside "
                                  f"{python or sys.executable} or on PATH: pip install \"nabla[mpi]\" installs MPICH's")
    return launcher


def command(launcher: str, nproc: int, argv: list, python: str | None = None) -> list:
    """``mpiexec -n N python -m nabla.cli ARGV...``."""
    return [launcher, "-n", str(nproc), python or sys.executable, "-m", "nabla.cli", *argv]


def environment(nproc: int, base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    threads = str(max(1, (os.cpu_count() or 1) // nproc))
    if not any(v in env for v in THREAD_VARIABLES):
        env.update({v: threads for v in THREAD_VARIABLES})
    return env


def launch(nproc: int, argv: list) -> int:
    """Run ``nabla ARGV`` as ``nproc`` MPI processes; their launcher's exit code."""
    launcher = check_mpi(nproc)
    return subprocess.run(command(launcher, nproc, argv), env=environment(nproc)).returncode
