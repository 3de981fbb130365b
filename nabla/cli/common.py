"""What the commands share: the usage error, flag checks, and turning any failure into one line."""
from __future__ import annotations

import math
import os
import sys


class UsageError(Exception):
    """A request the command cannot start (exit 2)."""


def _exit_code(e: BaseException) -> int:
    from ..train.run import RunError
    from ..train.settings import SettingsError
    return 2 if isinstance(e, (UsageError, RunError, SettingsError)) else 1


def report_error(command: str, e: BaseException) -> int:
    """One line on stderr for ``e``; the exit code (130 for Ctrl-C)."""
    from ..train.run import RunInterrupted
    if isinstance(e, RunInterrupted):
        hint = f"; resume with: nabla train --resume {e.last}" if e.last else " before the first checkpoint"
        print(f"nabla {command}: interrupted{hint}", file=sys.stderr)
        return 130
    if isinstance(e, KeyboardInterrupt):
        print(f"nabla {command}: interrupted", file=sys.stderr)
        return 130
    if os.environ.get("NABLA_DEBUG"):
        import traceback
        traceback.print_exception(e)
    message = getattr(e, "cli_message", None) or str(e).strip() or type(e).__name__
    if isinstance(e, KeyError):  # str(KeyError) quotes its message
        message = message.strip("'\"")
    known = isinstance(e, (ValueError, KeyError, RuntimeError, OSError, ImportError, UsageError))
    kind = "error" if known else f"internal error ({type(e).__name__}; NABLA_DEBUG=1 shows the traceback)"
    print(f"nabla {command}: {kind}: {' '.join(message.splitlines())}", file=sys.stderr)
    return _exit_code(e)


def check_flag(flag: str, setting: str, value):
    """A flag's value checked as the training setting it sets; a UsageError naming the flag."""
    from ..train.settings import SettingsError, check_setting
    try:
        return check_setting(setting, value)
    except SettingsError as e:
        raise UsageError(f"--{flag}" + str(e)[len(setting):]) from None


def check_out_folder(path) -> None:
    """An output folder that cannot be written is refused before any work."""
    from ..train.run import RunError, check_writable
    try:
        check_writable(path)
    except RunError as e:
        raise UsageError(f"--out: {e}") from None


def check_counts(args, positive=(), non_negative=()) -> None:
    """Counts and sampling flags checked before any work (a negative --temperature would otherwise fail
    only after training); None: not given."""
    for name, low, what in [(n, 1, "positive") for n in positive] + [(n, 0, ">= 0") for n in non_negative]:
        value = getattr(args, name, None)
        if isinstance(value, float) and low == 1:
            low = math.nextafter(0.0, 1.0)  # a positive size in MB may be a fraction of one; a count may not be 0
        if value is not None and not value >= low:  # `not >=`: NaN is refused too
            raise UsageError(f"--{name.replace('_', '-')} must be {what}, got {value}")

