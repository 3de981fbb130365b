"""``nabla experiment NAME``: one of the notes' claims measured (numbers as JSON, a plot, a verdict).

``nabla experiment all`` runs every experiment in the notes' order into one folder (a failure is one line,
the others go on; exit code 1 if any failed), prints a summary table and then builds the report
(``nabla.report``) from that folder into ``OUT/report``."""
from __future__ import annotations

import os


def add_parser(sub) -> None:
    x = sub.add_parser("experiment", help="run one of the notes' experiments, or all of them")
    x.add_argument("name", nargs="?", help="an experiment (see --list), or 'all' for every one and the report")
    x.add_argument("--list", action="store_true")
    x.add_argument("--out", help="folder for the JSON and the plot (default runs/experiments)")
    x.add_argument("--quick", action="store_true", help="a small configuration (seconds)")
    x.add_argument("--no-download", action="store_true", help="fail instead of fetching a missing data set")
    x.add_argument("--skip-existing", action="store_true",
                   help="with 'all': keep a result whose JSON is already in --out (a quick one only for --quick)")


def run(args, echo=print):
    from ..experiments import experiment_names, get_experiment, run_experiment
    from .common import UsageError, check_out_folder
    if args.list or not args.name:
        for name in experiment_names():
            echo(f"{name:24s} {get_experiment(name).summary}")
        return None
    if args.name != "all" and args.name not in experiment_names():
        raise UsageError(f"unknown experiment {args.name!r}; valid names: all, {', '.join(experiment_names())}")
    if args.skip_existing and args.name != "all":
        raise UsageError("--skip-existing goes with 'nabla experiment all'")
    out = args.out or os.path.join("runs", "experiments")
    check_out_folder(out)
    if args.name == "all":
        return run_all(out, args, echo)
    return run_experiment(args.name, out, quick=args.quick, echo=echo, download=not args.no_download)


def run_all(out: str, args, echo) -> bool:
    """Every experiment, the summary table, then the report; False (exit code 1) if any experiment failed."""
    from ..experiments.run_all import FAILED, run_all as run_every, summary_table
    rows = run_every(out, quick=args.quick, echo=echo, download=not args.no_download,
                     skip_existing=args.skip_existing)
    echo("")
    echo(summary_table(rows))
    failed = [r["experiment"] for r in rows if r["verdict"] == FAILED]
    if failed:
        echo(f"failed: {', '.join(failed)}")
    return build_report(out, echo) and not failed


def build_report(out: str, echo) -> bool:
    """The report of ``out`` in ``out/report`` (as ``nabla report OUT --out OUT/report``); a missing or failing
    report builder is one line (False)."""
    try:
        from ..report import build_report as build
        from .report import claims
    except ImportError as e:
        echo(f"report: not built (nabla.report cannot be imported: {e})")
        return False
    try:
        build([out], os.path.join(out, "report"), claims(), echo=echo)
    except Exception as e:  # noqa: BLE001 - the experiments' results stand; the report's failure is one line
        echo(f"report: failed: {type(e).__name__}: {' '.join(str(e).splitlines())}")
        return False
    return True
