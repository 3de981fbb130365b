"""Where and how a result was made: the date, nabla's version and commit, the machine, the command.

An experiment's JSON carries these so that a number read months later (in ``nabla report``, say) says what
produced it and how to produce it again.  Every field is best effort: a missing ``git``, a package installed
from a wheel (no checkout) or a system without ``/proc/cpuinfo`` give ``None``, never an error.
"""
from __future__ import annotations

import os
import platform
import shlex
import subprocess
import sys
from datetime import datetime, timezone


def utc_now() -> str:
    """The current time as ISO 8601 in UTC, to the second (``2026-12-08T05:30:13+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def nabla_commit() -> str | None:
    """``git rev-parse HEAD`` of the checkout nabla was imported from; None when it is not a git checkout.

    The package's folder must be inside the checkout's work tree and the checkout's top level must be the
    folder above the package (so a wheel installed into some other repository's virtual environment does
    not report that repository's commit)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))      # .../nabla
    root = os.path.dirname(package)
    try:
        top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=10)
        if top.returncode != 0 or os.path.realpath(top.stdout.strip()) != os.path.realpath(root):
            return None
        head = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return commit if head.returncode == 0 and commit else None


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The CPU's model name from ``/proc/cpuinfo`` (Linux); ``platform.processor()`` elsewhere; None if neither."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware", "cpu model") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or None


def machine() -> dict:
    """The platform (OS, kernel, architecture), Python's version, the CPU model and the number of cores."""
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu_model(),
            "cores": os.cpu_count()}


def experiment_command(name: str, out_dir: str, quick: bool) -> str:
    """The ``nabla experiment`` command line that reproduces a result (shell-quoted)."""
    return " ".join(["nabla", "experiment", shlex.quote(name)] + (["--quick"] if quick else [])
                    + ["--out", shlex.quote(str(out_dir))])


def nabla_version() -> str | None:
    """``nabla.__version__``, read from the already imported package (importing ``nabla`` here would make
    this layer depend on the whole package)."""
    return getattr(sys.modules.get(__name__.split(".")[0]), "__version__", None)


def provenance(name: str, out_dir: str, quick: bool) -> dict:
    """The JSON keys ``date``, ``nabla_version``, ``commit``, ``machine``, ``command`` and ``quick``."""
    return {"date": utc_now(), "nabla_version": nabla_version(), "commit": nabla_commit(), "machine": machine(),
            "command": experiment_command(name, out_dir, quick), "quick": bool(quick)}
