"""Running `nabla report` as a user does (one-line errors, exit codes)."""
from __future__ import annotations

import subprocess

from ..cli.helpers import nabla


def nabla_report(*args, cwd) -> subprocess.CompletedProcess:
    """``nabla report ARGS`` in ``cwd``; stdout and stderr as text."""
    return nabla("report", *args, cwd=cwd, timeout=300, env={"OPENBLAS_NUM_THREADS": "1"})
