"""``nabla train`` as one rank of ``mpiexec -n N``: the run layer's ``train`` with a ``DDPStrategy``, rank 0
alone printing, and failures that end every rank instead of leaving them waiting.

How a run ends when something goes wrong:

* an error every rank raises at the same point -- a request that cannot start, one rank's failure while
  preparing (``DDPStrategy.prepare_run`` shares it), ranks that disagree on the model or the data, a NaN loss
  (checked together every step) -- is printed once, by rank 0, and every rank exits with its code;
* an error on one rank alone during training (a bug, a full disk, memory) is printed by that rank, naming
  itself (``rank 1 of 4: ...``), and ``MPI_Abort`` ends every rank at once: the others are waiting for it in
  a collective and would otherwise wait forever;
* a rank killed outright (``kill -9``, the out-of-memory killer) cannot say anything: the MPI launcher sees
  it die and ends the others (MPICH's Hydra: "BAD TERMINATION ... KILLED BY SIGNAL: 9").
"""
from __future__ import annotations

import dataclasses
import sys

from .. import comm
from ..train import run as runs
from ..train.trainer import TrainingDiverged
from .strategy import DDPStrategy, one_line


def _silent(*args, **kwargs) -> None:
    pass


def _default_report(e: BaseException, quiet: bool = False) -> int:
    if not quiet:
        print(f"nabla train: error: {getattr(e, 'cli_message', None) or e}", file=sys.stderr)
    return getattr(e, "exit_code", 130 if isinstance(e, KeyboardInterrupt) else 1)


def train(request, echo=print, report=None, bucket_cap_mb: float = 25.0) -> dict:
    """Train ``request`` (a ``nabla.train.run.Request``) on every rank of this MPI job.  ``report(e, quiet)``
    prints an error as the command line does (one line; nothing when ``quiet``) and returns the exit code."""
    report = report or _default_report
    strategy = DDPStrategy(bucket_cap_mb)
    zero = strategy.is_global_zero
    request = dataclasses.replace(request, progress=request.progress and zero)
    try:
        return runs.train(request, echo if zero else _silent, strategy)
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - see the module docstring
        fail(e, strategy, report)


def fail(e: BaseException, strategy, report) -> None:
    """End this rank, and every rank when the others cannot know (see the module docstring)."""
    zero = strategy.is_global_zero
    if getattr(e, "all_ranks", False) or isinstance(e, TrainingDiverged):
        raise SystemExit(report(e, not zero))
    if isinstance(e, KeyboardInterrupt):  # mpiexec passes Ctrl-C to every rank: rank 0 says it
        code = report(e, not zero)
    else:
        try:
            e.cli_message = f"rank {strategy.rank} of {strategy.world_size} failed: {one_line(e)}"
        except AttributeError:  # an exception type without attributes: the message stays without the rank
            pass
        code = report(e, False)
    sys.stdout.flush()
    sys.stderr.flush()
    comm.abort(code or 1)
    raise SystemExit(code)  # abort does not return; in one process there is nothing to abort
