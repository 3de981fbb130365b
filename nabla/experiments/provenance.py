"""How an experiment's result was made: the date, nabla's version and commit, the machine (``nabla.utils.provenance``)
and the command that reproduces it."""
from __future__ import annotations

import shlex

from ..utils.provenance import cpu_model, machine, nabla_commit, nabla_version, utc_now  # noqa: F401 - re-exported


def experiment_command(name: str, out_dir: str, quick: bool) -> str:
    """The ``nabla experiment`` command line that reproduces a result (shell-quoted)."""
    return " ".join(["nabla", "experiment", shlex.quote(name)] + (["--quick"] if quick else [])
                    + ["--out", shlex.quote(str(out_dir))])


def provenance(name: str, out_dir: str, quick: bool) -> dict:
    """The JSON keys ``date``, ``nabla_version``, ``commit``, ``machine``, ``command`` and ``quick``."""
    return {"date": utc_now(), "nabla_version": nabla_version(), "commit": nabla_commit(), "machine": machine(),
            "command": experiment_command(name, out_dir, quick), "quick": bool(quick)}
