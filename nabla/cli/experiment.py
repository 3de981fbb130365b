"""``nabla experiment NAME``: one of the notes' claims measured (numbers as JSON, a plot, a verdict)."""
from __future__ import annotations

import os


def add_parser(sub) -> None:
    x = sub.add_parser("experiment", help="run one of the notes' experiments")
    x.add_argument("name", nargs="?")
    x.add_argument("--list", action="store_true")
    x.add_argument("--out", help="folder for the JSON and the plot (default runs/experiments)")
    x.add_argument("--quick", action="store_true", help="a small configuration (seconds)")
    x.add_argument("--no-download", action="store_true", help="fail instead of fetching a missing data set")


def run(args, echo=print):
    from ..experiments import experiment_names, get_experiment, run_experiment
    from .common import UsageError, check_out_folder
    if args.list or not args.name:
        for name in experiment_names():
            echo(f"{name:24s} {get_experiment(name).summary}")
        return None
    if args.name not in experiment_names():
        raise UsageError(f"unknown experiment {args.name!r}; valid names: {', '.join(experiment_names())}")
    out = args.out or os.path.join("runs", "experiments")
    check_out_folder(out)
    return run_experiment(args.name, out, quick=args.quick, echo=echo, download=not args.no_download)
