"""The ``nabla`` command: parsing and dispatch only, one module per command.

    nabla train [MODEL] [--dataset NAME] [--epochs N] [--set key=value] [--resume CKPT] ...
    nabla eval CKPT | nabla sample CKPT | nabla models | nabla datasets [export NAME --format F --out DIR]
    nabla predict CKPT IMAGE [IMAGE ...] --out DIR [--score-thresh S]
    nabla experiment NAME|all [--out DIR] [--quick] [--skip-existing] | nabla experiment --list
    nabla report [RUN_DIR ...] --out DIR
    nabla bench [WORKLOAD ...]
    nabla export CKPT --format onnx --out FILE [--opset N] | nabla convert IN.pt OUT.safetensors

What each command does lives in the library (``nabla.train.run``, ``nabla.experiments``); no model or
data-set name appears here: the registries know them.  Errors are one line on stderr (exit 2 for a
request that cannot start, 1 for a failure on the way), never a traceback (``NABLA_DEBUG=1`` shows it).
"""
from __future__ import annotations

import argparse
import sys

from . import bench, convert, datasets, eval as eval_cmd, experiment, export, models, predict, report, sample, train
from .common import UsageError, report_error

COMMANDS = {"train": train, "eval": eval_cmd, "export": export, "convert": convert, "predict": predict, "sample": sample, "models": models,
            "datasets": datasets, "experiment": experiment, "report": report, "bench": bench}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (the usage is one `--help` away), exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="nabla", description="nabla: deep learning from first principles on NumPy")
    sub = p.add_subparsers(dest="command")
    for module in COMMANDS.values():
        module.add_parser(sub)
    return p


def _echo(line: str) -> None:
    print(line, flush=True)  # a line per epoch reaches a log file or a pipe as it happens


def _reader_left() -> int:
    """stdout's reader closed the pipe: point stdout at /dev/null so that Python's flush at exit does not fail
    again, and exit as a process killed by SIGPIPE would (128 + 13), as `ls | head` does."""
    import os
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0] not in COMMANDS and argv[0] not in ("-h", "--help"):
        argv = ["train"] + argv  # `nabla` alone, or `nabla --epochs 3`: train the default model
    args = parser.parse_args(argv)
    args.argv = argv  # the command as given: `nabla train --nproc N` starts it again under mpiexec
    from ..memory import apply_environment
    apply_environment()  # the command, not the library, keeps freed memory for the next step (nabla.memory)
    try:
        result = COMMANDS[args.command].run(args, echo=_echo)
    except BaseException as e:  # noqa: BLE001 - every failure becomes one line and an exit code
        if isinstance(e, SystemExit):
            raise
        if isinstance(e, BrokenPipeError):  # `nabla ... | head`: the reader left; nothing is wrong, say nothing
            return _reader_left()
        return report_error(args.command, e)
    return 0 if result is not False else 1


__all__ = ["main", "build_parser", "UsageError"]
