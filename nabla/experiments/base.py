"""The experiment framework: each experiment tests one claim of the course notes.

An experiment is a function ``run(quick: bool) -> Result`` registered under a name.  ``run_experiment``
runs it, writes ``<name>.json`` (its numbers) and ``<name>.png`` (its plot, when matplotlib is
installed) to the output folder, and prints a short table and whether the measurement supports the
claim.  ``quick=True`` is a small configuration for CI and for a first look.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class Result:
    claim: str                       # the notes' claim, quoted or paraphrased
    supported: bool                  # does the measurement support it?
    verdict: str                     # one sentence: what was measured and what it says
    table: list = field(default_factory=list)    # rows (dicts) printed as a table
    data: dict = field(default_factory=dict)     # everything else worth keeping (curves...)
    plot: Callable | None = None     # plot(fig) draws the figure from data


@dataclass
class ExperimentEntry:
    name: str
    run: Callable
    summary: str


_EXPERIMENTS: dict[str, ExperimentEntry] = {}


def register_experiment(name: str, summary: str):
    def wrap(run):
        _EXPERIMENTS[name] = ExperimentEntry(name, run, summary)
        return run
    return wrap


def experiment_names() -> list:
    return list(_EXPERIMENTS)


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


def run_experiment(name: str, out_dir: str = "runs/experiments", quick: bool = False, echo=print) -> Result:
    entry = get_experiment(name)
    result = entry.run(quick=quick)
    os.makedirs(out_dir, exist_ok=True)
    record = {"experiment": name, "quick": quick, "claim": result.claim, "supported": result.supported,
              "verdict": result.verdict, "table": result.table, "data": result.data}
    json_path = os.path.join(out_dir, f"{name}.json")
    with open(json_path + ".tmp", "w") as f:
        json.dump(_jsonable(record), f, indent=1)
    os.replace(json_path + ".tmp", json_path)
    png_path = None
    if result.plot is not None:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            echo("(no plot: matplotlib is not installed; pip install 'nabla[plot]' or pip install matplotlib)")
        else:
            fig = plt.figure(figsize=(11, 4.2))
            result.plot(fig)
            fig.tight_layout()
            png_path = os.path.join(out_dir, f"{name}.png")
            fig.savefig(png_path, dpi=110)
            plt.close(fig)
    echo(f"== {name}: {entry.summary}")
    echo(f"claim: {result.claim}")
    if result.table:
        echo(format_table(result.table))
    echo(f"{'SUPPORTED' if result.supported else 'NOT SUPPORTED'}: {result.verdict}")
    echo(f"numbers: {json_path}" + (f"  plot: {png_path}" if png_path else ""))
    result.data["_paths"] = {"json": json_path, "png": png_path}
    return result
