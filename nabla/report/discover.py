"""Finding what to report in the folders given: experiment outputs, training run folders, other figures.

Each path is a training run folder (it holds ``history.json``, ``test.json`` or a checkpoint), a folder of
experiment outputs (``<name>.json`` + ``<name>.png``), or a parent of either: folders are walked down to
``MAX_DEPTH`` levels.  Pictures beside experiment outputs that belong to no experiment (the README's sample
grids, say) are kept as figures of their own.  An experiment found twice is shown once (``results.preferred``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .results import preferred, read_result
from .runs import IMAGE_SUFFIXES, is_run_folder, read_run

MAX_DEPTH = 3
DEFAULT_PLACES = ("runs",)


@dataclass
class Found:
    results: dict = field(default_factory=dict)    # experiment name -> ExperimentResult
    runs: list = field(default_factory=list)       # TrainingRun, in the order found
    figures: list = field(default_factory=list)    # other image files beside experiment outputs
    missing: list = field(default_factory=list)    # paths given that are neither a folder nor a .json file


def _scan_folder(folder: str, found: Found, depth: int, seen: set, exclude: set) -> None:
    real = os.path.realpath(folder)
    if real in seen or real in exclude:
        return
    seen.add(real)
    if is_run_folder(folder):
        found.runs.append(read_run(folder, exclude))
        return
    try:
        entries = sorted(os.listdir(folder))
    except OSError:
        return
    names = set()
    for f in entries:
        path = os.path.join(folder, f)
        if f.endswith(".json") and os.path.isfile(path):
            result = read_result(path)
            if result is not None:
                names.add(result.name)
                old = found.results.get(result.name)
                found.results[result.name] = result if old is None else preferred(old, result)
    found.figures += [os.path.join(folder, f) for f in entries
                      if f.lower().endswith(IMAGE_SUFFIXES) and os.path.splitext(f)[0] not in names
                      and os.path.isfile(os.path.join(folder, f))]
    if depth < MAX_DEPTH:
        for f in entries:
            path = os.path.join(folder, f)
            if os.path.isdir(path) and not f.startswith("."):
                _scan_folder(path, found, depth + 1, seen, exclude)


def discover(paths, exclude=()) -> Found:
    """What the given paths hold (``DEFAULT_PLACES`` when none are given); folders in ``exclude`` (the report's
    own output, which may lie inside a run folder given) are not walked."""
    found, exclude = Found(), {os.path.realpath(p) for p in exclude}
    seen: set = set()
    for path in paths or [p for p in DEFAULT_PLACES if os.path.isdir(p)]:
        if os.path.isdir(path):
            _scan_folder(path, found, 0, seen, exclude)
        elif os.path.isfile(path) and path.endswith(".json"):
            result = read_result(path)
            if result is not None:
                old = found.results.get(result.name)
                found.results[result.name] = result if old is None else preferred(old, result)
        else:
            found.missing.append(path)
    return found
