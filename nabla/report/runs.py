"""Reading a ``nabla train`` run folder: its record, history, final figures, pictures and command.

A run folder (``nabla.train.run``) holds ``last.safetensors`` / ``best.safetensors`` (the checkpoints; the run's
record -- model, data set, options, settings -- is JSON in their metadata), ``history.json`` (a column per
logged value, a row per evaluation), ``test.json`` (the final figures on the test split) and the task's
pictures (``samples.png``, ``forecast.png``, ``confusion.png``; and whatever ``nabla predict`` or ``nabla sample``
wrote into it or a sub-folder).  Only the checkpoint's header is read, never its weights.
"""
from __future__ import annotations

import json
import os

from .records import TrainingRun
from .results import file_date, read_json
from .train_command import train_command

RUN_MARKERS = ("history.json", "test.json", "last.safetensors", "best.safetensors")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")
SKIP_FOLDERS = ("tensorboard",)


def is_run_folder(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, f)) for f in RUN_MARKERS)


def checkpoint_record(path: str) -> dict:
    """The run record (``config``) in a checkpoint's metadata, read from its header alone; {} if there is none."""
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            if not 0 < size < 100_000_000:
                return {}
            meta = json.loads(f.read(size)).get("__metadata__") or {}
        skeleton = json.loads(meta.get("skeleton") or "{}")
    except (OSError, ValueError, AttributeError):
        return {}
    config = skeleton.get("config") if isinstance(skeleton, dict) else None
    return config if isinstance(config, dict) else {}


def run_images(folder: str, exclude=frozenset()) -> list:
    """Image files in the folder and its sub-folders (TensorBoard's and the real paths in ``exclude``, a report
    written into the run folder, left out), sorted by path."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_FOLDERS and not d.startswith(".")
                         and os.path.realpath(os.path.join(root, d)) not in exclude)
        found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(IMAGE_SUFFIXES)]
    return found


def _recorded_command(folder: str, final: dict) -> str:
    path = os.path.join(folder, "command.txt")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    return str(final.get("command") or "")


def read_run(folder: str, exclude=frozenset()) -> TrainingRun:
    """The run a folder holds (what is missing is left empty); ``exclude``: see ``run_images``."""
    config = {}
    for name in ("last.safetensors", "best.safetensors"):
        config = config or checkpoint_record(os.path.join(folder, name))
    history = read_json(os.path.join(folder, "history.json"))
    final = read_json(os.path.join(folder, "test.json"))
    history = history if isinstance(history, dict) else {}
    final = final if isinstance(final, dict) else {}
    marker = next(os.path.join(folder, f) for f in RUN_MARKERS if os.path.isfile(os.path.join(folder, f)))
    return TrainingRun(
        folder=folder, name=os.path.basename(os.path.normpath(folder)),
        model=str(config.get("model") or final.get("model") or "?"),
        dataset=str(config.get("dataset") or final.get("dataset") or "?"),
        task=str(config.get("task") or "?"), config=config, history=history,
        final={k: v for k, v in final.items() if k not in ("model", "dataset", "command")},
        images=run_images(folder, exclude),
        command=_recorded_command(folder, final) or train_command(config, folder),
        date=file_date(marker))
