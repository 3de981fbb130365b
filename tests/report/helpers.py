"""Running `nabla report` as a user does, through nabla's own main() (one-line errors, exit codes)."""
from __future__ import annotations

import subprocess
import sys

from ..cli.helpers import nabla_env

# the command is put in COMMANDS here too, until nabla.cli lists it (setdefault: a no-op once it does)
REPORT = [sys.executable, "-c", "import sys; from nabla.cli import COMMANDS, main, report; "
          "COMMANDS.setdefault('report', report); sys.exit(main(sys.argv[1:]))", "report"]


def nabla_report(*args, cwd) -> subprocess.CompletedProcess:
    """``nabla report ARGS`` in ``cwd``; stdout and stderr as text."""
    return subprocess.run(REPORT + [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=nabla_env({"OPENBLAS_NUM_THREADS": "1"}))
