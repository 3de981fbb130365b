"""Running a Python snippet under ``mpiexec -n N`` from a test: one BLAS thread per rank, a time limit, and a
skip with the reason when mpi4py or an MPI launcher is missing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def mpiexec() -> str:
    """The launcher next to this Python (the mpich wheel installs it into the venv), else one on PATH."""
    pytest.importorskip("mpi4py", reason="MPI tests need mpi4py (pip install \"nabla[mpi]\")")
    here = Path(sys.executable).parent / "mpiexec"
    found = str(here) if here.exists() else shutil.which("mpiexec")
    if not found:
        pytest.skip("MPI tests need an MPI launcher (mpiexec): pip install \"nabla[mpi]\" installs MPICH's")
    return found


def run_ranks(n: int, code: str, tmp_path, timeout: float = 120, args=()) -> subprocess.CompletedProcess:
    """Run ``code`` (dedented) on ``n`` MPI ranks; returns the finished process (stdout of every rank)."""
    script = Path(tmp_path) / "rank_script.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"):
        env.pop(name, None)
    return subprocess.run([mpiexec(), "-n", str(n), sys.executable, str(script), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=str(tmp_path))
