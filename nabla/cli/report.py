"""``nabla report [RUN_DIR ...] --out report/``: the notes' claims, the experiments' verdicts and the training runs
as a static HTML site that opens from disk (``nabla.report``)."""
from __future__ import annotations


def add_parser(sub) -> None:
    r = sub.add_parser("report", help="build an HTML report of the experiments and training runs (opens from disk)")
    r.add_argument("paths", nargs="*", metavar="RUN_DIR",
                   help="experiment output folders, training run folders, or folders holding them (default: runs/)")
    r.add_argument("--out", default="report", help="the folder to write the site into (default: report/)")
    r.add_argument("--predictions", type=int, default=4, metavar="N",
                   help="draw a detection or segmentation run's predictions on N test images when its folder "
                        "holds no pictures (default 4; 0: none)")


def claims() -> list:
    """The registered experiments as the report's ``Claim`` records (chapter and notes where the module has them)."""
    from ..experiments import experiment_names, get_experiment
    from ..report import Claim
    entries = [get_experiment(name) for name in experiment_names()]
    return [Claim(e.name, e.summary, e.claim, e.chapter, e.notes) for e in entries]


def run(args, echo=print):
    import os
    from ..report import build_report
    from .common import UsageError, check_out_folder
    missing = [p for p in args.paths if not os.path.exists(p)]
    if missing:
        raise UsageError(f"no such folder: {', '.join(missing)} (pass experiment output folders, training run "
                         "folders, or folders holding them)")
    if args.predictions < 0:
        raise UsageError(f"--predictions must be >= 0, got {args.predictions}")
    check_out_folder(args.out)
    build_report(args.paths, args.out, claims(), predictions=args.predictions, echo=echo)
    return None
