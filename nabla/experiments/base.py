"""The experiment framework: each experiment tests one claim of the course notes.

An experiment is one module with four parts, each readable alone:

* the claim: the module docstring (what the notes say, what is measured, when it counts as supported)
  and ``CLAIM``, the claim in one sentence;
* ``run(quick=False, download=True, echo=print) -> dict``: computes the numbers.  The dict's ``"table"``
  (a list of row dicts) is printed as the table; everything else is kept as the data.  ``quick`` is a
  small configuration for CI and a first look; ``download`` lets a missing data set be fetched (as
  ``nabla train`` does); ``echo`` receives a progress line per trained configuration;
* ``verdict(numbers) -> (supported, text)``: from the numbers alone, does the measurement support the
  claim, and one paragraph saying what was measured and what it says.  A module with several claims
  defines ``claims(numbers) -> {claim: bool}`` too; they are written into the data as ``"claims"``;
* ``plot(fig, data)``: draws the figure from the data;
* its place in the course notes: ``CHAPTER``, one of ``CHAPTERS``' ids, and ``NOTES = (zh, en)``, the notes'
  own sentence(s) the claim comes from, verbatim in Chinese (non-adjacent excerpts joined by ``NOTES_GAP``,
  the notes' ``**`` emphasis left out), and a faithful English rendering.  A claim that is nabla's own
  quotes the nearest sentence of the notes, and the English says that the claim is nabla's reading of it.

``register_experiment(name, summary)`` decorates the module's ``run`` and registers the module.
``run_experiment`` runs one, writes ``<name>.json`` (its numbers) and ``<name>.png`` (its plot, when
matplotlib is installed) to the output folder, and prints the table and the verdict; the JSON also says
when, by which nabla (version, commit), on which machine and by which command it was made (``provenance``).
``experiments_in_notes_order`` lists the experiments chapter by chapter, as the notes read.
"""
from __future__ import annotations

import functools
import json
import math
import os
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Callable

import numpy as np

from ..utils.notes import CHAPTERS as NOTES_CHAPTERS
from .provenance import provenance

# The notes' chapters in their order (nabla.utils.notes, shared with the report): id -> (the notes' heading,
# an English title).
CHAPTERS = {c.id: (c.zh, c.en) for c in NOTES_CHAPTERS}
NOTES_GAP = " … "    # joins non-adjacent excerpts of the notes in a NOTES quote


@dataclass
class Result:
    claim: str                       # the notes' claim, quoted or paraphrased
    supported: bool                  # does the measurement support it?
    verdict: str                     # one paragraph: what was measured and what it says
    table: list = field(default_factory=list)    # rows (dicts) printed as a table
    data: dict = field(default_factory=dict)     # everything else worth keeping (curves...)
    plot: Callable | None = None     # plot(fig) draws the figure from data


@dataclass
class ExperimentEntry:
    name: str
    module: ModuleType
    summary: str

    @property
    def run(self) -> Callable:
        return self.module.run

    @property
    def verdict(self) -> Callable:
        return self.module.verdict

    @property
    def plot(self) -> Callable:
        return self.module.plot

    @property
    def claim(self) -> str:
        return self.module.CLAIM

    @property
    def chapter(self) -> str | None:
        """The id (a key of ``CHAPTERS``) of the notes' chapter the claim comes from."""
        return getattr(self.module, "CHAPTER", None)

    @property
    def notes(self) -> tuple | None:
        """``(zh, en)``: the notes' sentence(s) the claim comes from, verbatim, and an English rendering."""
        notes = getattr(self.module, "NOTES", None)
        return tuple(notes) if notes is not None else None


_EXPERIMENTS: dict[str, ExperimentEntry] = {}


def register_experiment(name: str, summary: str):
    """Decorator for an experiment module's ``run``: registers the module under ``name``."""
    def wrap(run):
        _EXPERIMENTS[name] = ExperimentEntry(name, sys.modules[run.__module__], summary)
        return run
    return wrap


def experiment_names() -> list:
    return list(_EXPERIMENTS)


def experiments_in_notes_order() -> list:
    """The registered names chapter by chapter in the notes' order (registration order within a chapter;
    an experiment with no known chapter last)."""
    order = {c: i for i, c in enumerate(CHAPTERS)}
    return sorted(_EXPERIMENTS, key=lambda n: order.get(_EXPERIMENTS[n].chapter, len(order)))


def notes_excerpts(zh: str) -> list:
    """The verbatim excerpts of the notes a NOTES quote joins with ``NOTES_GAP``."""
    return [part for part in zh.split(NOTES_GAP) if part]


def get_experiment(name: str) -> ExperimentEntry:
    if name not in _EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; valid names: {', '.join(_EXPERIMENTS)}")
    return _EXPERIMENTS[name]


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def format_table(rows: list) -> str:
    if not rows:
        return ""
    keys = list(dict.fromkeys(k for r in rows for k in r))

    def fmt(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    cells = [[fmt(r.get(k, "")) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(keys), line(["-" * w for w in widths])] + [line(c) for c in cells])


def evaluate_numbers(entry: ExperimentEntry, numbers: dict) -> Result:
    """The Result of an experiment's numbers: its claims, verdict and table (no running, no files)."""
    data = {k: v for k, v in numbers.items() if k != "table"}
    module = entry.module
    if hasattr(module, "claims"):
        data["claims"] = {k: bool(v) for k, v in module.claims(numbers).items()}
    supported, text = module.verdict(numbers)
    return Result(claim=entry.claim, supported=bool(supported), verdict=text, table=list(numbers.get("table", [])),
                  data=data, plot=functools.partial(module.plot, data=data))


def _write_json(path: str, record: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(_jsonable(record), f, indent=1)
    os.replace(path + ".tmp", path)


def _write_plot(path: str, plot: Callable, echo) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        echo("(no plot: matplotlib is not installed; pip install 'nabla[plot]' or pip install matplotlib)")
        return None
    fig = plt.figure(figsize=(11, 4.2))
    plot(fig)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run_experiment(name: str, out_dir: str = "runs/experiments", quick: bool = False, echo=print,
                   download: bool = True) -> Result:
    """Run experiment ``name``: write ``<out_dir>/<name>.json`` and ``.png``, print the table and the verdict.

    ``download=True`` fetches a missing data set (as ``nabla train`` does); ``echo`` receives the
    experiment's progress lines and the report."""
    entry = get_experiment(name)
    echo(f"== {name}: {entry.summary}")
    numbers = entry.run(quick=quick, download=download, echo=echo)
    result = evaluate_numbers(entry, numbers)
    os.makedirs(out_dir, exist_ok=True)
    json_path = os.path.join(out_dir, f"{name}.json")
    notes = entry.notes
    _write_json(json_path, {"experiment": name, "quick": quick, "claim": result.claim, "supported": result.supported,
                            "verdict": result.verdict, "table": result.table, "data": result.data,
                            "summary": entry.summary, "chapter": entry.chapter,
                            "notes": {"zh": notes[0], "en": notes[1]} if notes else None,
                            **provenance(name, out_dir, quick)})
    png_path = _write_plot(os.path.join(out_dir, f"{name}.png"), result.plot, echo)
    echo(f"claim: {result.claim}")
    if result.table:
        echo(format_table(result.table))
    echo(f"{'SUPPORTED' if result.supported else 'NOT SUPPORTED'}: {result.verdict}")
    echo(f"numbers: {json_path}" + (f"  plot: {png_path}" if png_path else ""))
    result.data["_paths"] = {"json": json_path, "png": png_path}
    return result
