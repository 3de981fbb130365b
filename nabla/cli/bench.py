"""``nabla bench [WORKLOAD ...]``: time nabla against PyTorch (``benchmarks/`` in a source checkout)."""
from __future__ import annotations

import os
import subprocess
import sys


def add_parser(sub) -> None:
    b = sub.add_parser("bench", help="time nabla against PyTorch (benchmarks/)")
    b.add_argument("workloads", nargs="*")


def run(args, echo=print):
    from .common import UsageError
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for root in (os.getcwd(), here):
        if os.path.exists(os.path.join(root, "benchmarks", "run.py")):
            # the benchmarks measure with the machine's fast BLAS kernel (see benchmarks/README.md)
            cmd = ["env", "-u", "OPENBLAS_CORETYPE", "-u", "OPENBLAS_L2_SIZE", sys.executable,
                   os.path.join(root, "benchmarks", "run.py"), *args.workloads]
            return subprocess.call(cmd, cwd=root) == 0
    raise UsageError("benchmarks live in nabla's source tree (benchmarks/run.py); run `nabla bench` from a clone")
