"""Where and with what a result was made: the date, nabla's version and commit, the machine.

An experiment's JSON records these (``nabla.experiments``), and the report states them for the site it builds
(``nabla.report``), so that a number read months later says what produced it.  Every field is best effort: a
missing ``git``, a package installed from a wheel (no checkout) or a system without ``/proc/cpuinfo`` give
``None``, never an error.
"""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import datetime, timezone


def utc_now() -> str:
    """The current time as ISO 8601 in UTC, to the second (``2026-12-08T05:30:13+00:00``)."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def nabla_version() -> str | None:
    """``nabla.__version__``, read from the already imported package (importing ``nabla`` here would make this
    layer depend on the whole package)."""
    return getattr(sys.modules.get(__name__.split(".")[0]), "__version__", None)


def _git(root: str, *args: str):
    return subprocess.run(["git", "-C", root, *args], capture_output=True, text=True, timeout=10)


def nabla_commit(short: bool = False, mark_dirty: bool = False) -> str | None:
    """``git rev-parse HEAD`` of the checkout nabla was imported from (12 characters when ``short``; "+dirty"
    appended when ``mark_dirty`` and tracked files changed); None when it is not a git checkout.

    The checkout's top level must be the folder above the package, so that a wheel installed into a virtual
    environment lying inside some other repository does not report that repository's commit."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # above .../nabla
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        if top.returncode != 0 or os.path.realpath(top.stdout.strip()) != os.path.realpath(root):
            return None
        head = _git(root, "rev-parse", *(["--short=12"] if short else []), "HEAD")
        dirty = mark_dirty and bool(_git(root, "status", "--porcelain", "--untracked-files=no").stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return None
    commit = head.stdout.strip()
    return (commit + ("+dirty" if dirty else "")) if head.returncode == 0 and commit else None


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
