"""Where and with what the report is built: nabla's version, the git commit of its source, the machine."""
from __future__ import annotations

import os
import platform
import subprocess
import sys


def nabla_version() -> str:
    """``nabla.__version__`` of the imported package (importing the top level here would depend on all of it)."""
    return str(getattr(sys.modules.get(__name__.split(".")[0]), "__version__", None) or "unknown")


def source_commit() -> str:
    """The commit of the checkout nabla runs from ("+dirty" when it has changes); "unknown" outside git, and when
    the folder above the package is not the work tree's top (a package installed into a virtual environment that
    lies inside some other repository must not report that repository's commit)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        top = subprocess.run(["git", "-C", root, "rev-parse", "--show-toplevel"], capture_output=True, text=True,
                             timeout=10)
        if top.returncode != 0 or os.path.realpath(top.stdout.strip()) != os.path.realpath(root):
            return "unknown"
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + ("+dirty" if dirty else "")


def machine() -> str:
    """The host, OS, CPU and Python, in a line."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return (f"{platform.node() or 'unknown host'} ({platform.system()} {platform.machine()}, {cpu}, "
            f"{os.cpu_count()} CPUs, Python {platform.python_version()})")
