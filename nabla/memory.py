"""Keep freed memory in the process instead of handing it back to the OS after every step.

Why: a training step allocates and frees the same large arrays (activations, gradients, temporaries of a
few MB each) again and again.  glibc's malloc serves blocks above its mmap threshold with a fresh
``mmap`` and returns them with ``munmap`` on free, and it trims the top of its heap back to the OS once
more than ``M_TRIM_THRESHOLD`` bytes are free there.  Either way the next step's arrays start as
untouched pages, and the kernel must fault in and zero every 4 KiB page on first write.  Measured on this
project's 2-core machine: the Transformer benchmark step took 86 ms with glibc's defaults and 63 ms with
freed memory kept (LeNet-5's step: 11.3 ms and 8.1 ms); PyTorch avoids the same cost with its own
caching allocator.

What :func:`keep_freed_memory` does: raise the mmap threshold to its maximum (32 MiB on 64-bit glibc), so
that blocks up to that size come from the heap and are reused, and raise the trim threshold, so that freed
heap memory stays mapped for the next step.  The cost: the process's resident memory stays near its peak
instead of shrinking between steps (as it would under PyTorch's allocator).  Nothing else changes: no
result depends on it.

Opt-in: ``import nabla`` changes nothing in the C library, since a library should not retune the
allocator of the program that imports it.  The programs that own their process call it: the ``nabla``
command (at start-up) and the benchmarks' worker (before timing), both through :func:`apply_environment`,
which calls :func:`keep_freed_memory` unless the environment variable ``NABLA_KEEP_FREED_MEMORY`` is
``0``, ``false``, ``no`` or ``off`` (then the C library's defaults stay).  A script of your own calls
``nabla.memory.keep_freed_memory()`` if it wants the same.  Where the C library is not glibc (macOS,
Windows, musl) it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["keep_freed_memory", "keeps_freed_memory", "apply_environment"]

_M_TRIM_THRESHOLD = -1      # glibc's mallopt parameter numbers (malloc.h)
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 << 20  # glibc's upper limit on 64-bit (4 * 1024 * 1024 * sizeof(long))
_state = {"enabled": False}


def _glibc():
    """The process's glibc, or None (macOS, Windows, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # only glibc has it  # noqa: B018
        libc.mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Make glibc's malloc keep freed blocks (up to 32 MiB each, and up to ``trim_threshold`` bytes of
    free heap) for reuse instead of returning them to the OS.  Returns True where it took effect
    (glibc), False elsewhere.  Process-wide; see the module docstring for why and what it costs."""
    if trim_threshold < 0:
        raise ValueError(f"keep_freed_memory: trim_threshold must be non-negative, got {trim_threshold}")
    libc = _glibc()
    if libc is None:
        return False
    # both are needed: setting either one also turns off glibc's own adaptive threshold
    ok = (libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX) == 1
          and libc.mallopt(_M_TRIM_THRESHOLD, min(int(trim_threshold), 2**31 - 1)) == 1)
    _state["enabled"] = ok
    return ok


def keeps_freed_memory() -> bool:
    """Whether :func:`keep_freed_memory` is in effect in this process."""
    return _state["enabled"]


def apply_environment() -> bool:
    """:func:`keep_freed_memory` unless ``NABLA_KEEP_FREED_MEMORY`` is 0/false/no/off: what the ``nabla``
    command and the benchmarks' worker call at start-up.  Returns whether freed memory is now kept."""
    if os.environ.get("NABLA_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return keeps_freed_memory()
    return keep_freed_memory()
