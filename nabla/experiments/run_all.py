"""Every experiment in one go, in the notes' order: a failure is one line and the rest go on.

``run_all`` is what ``nabla experiment all`` runs: each registered experiment, chapter by chapter
(``experiments_in_notes_order``), writes its JSON and plot into one folder through ``run_experiment``; an
experiment that raises is reported in one line (its name, the exception's type and message) and the next
one starts; at the end a table gives each experiment's verdict and its wall-clock and CPU seconds.  With
``skip_existing`` a result already in the folder is kept (and read back for the table) unless it was a quick
run and this one is not.  The experiments run in this process, one after another.
"""
from __future__ import annotations

import json
import os
import time

from .base import experiments_in_notes_order, format_table, get_experiment, run_experiment

FAILED = "FAILED"


def _verdict(supported: bool) -> str:
    return "SUPPORTED" if supported else "NOT SUPPORTED"


def existing_result(out_dir: str, name: str, quick: bool) -> dict | None:
    """The JSON record of ``name`` in ``out_dir`` if it can be kept: readable, and not a quick result when a
    full one is asked for; None otherwise."""
    path = os.path.join(out_dir, f"{name}.json")
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or "supported" not in record or (record.get("quick") and not quick):
        return None
    return record


def _run_one(name: str, out_dir: str, quick: bool, download: bool, echo) -> dict:
    """One experiment, timed; a failure becomes a row with its one-line reason, never an exception."""
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = run_experiment(name, out_dir, quick=quick, echo=echo, download=download)
        verdict, error = _verdict(result.supported), None
    except Exception as e:  # noqa: BLE001 - one experiment's failure must not stop the others
        message = " ".join((str(e).strip() or type(e).__name__).splitlines())
        verdict, error = FAILED, f"{type(e).__name__}: {message}"
        echo(f"{name}: {FAILED}: {error}")
    return {"experiment": name, "verdict": verdict, "seconds": round(time.perf_counter() - wall, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1), "error": error}


def run_all(out_dir: str, quick: bool = False, echo=print, download: bool = True, skip_existing: bool = False,
            names: list | None = None) -> list:
    """Run every registered experiment (or ``names``) into ``out_dir``; the summary rows, one per experiment:
    ``experiment``, ``chapter``, ``verdict`` (SUPPORTED, NOT SUPPORTED, FAILED; ``kept`` appended for a
    result kept by ``skip_existing``), ``seconds`` and ``cpu_seconds`` (None when kept) and ``error``."""
    names = list(names) if names is not None else experiments_in_notes_order()
    rows = []
    for i, name in enumerate(names, 1):
        record = existing_result(out_dir, name, quick) if skip_existing else None
        if record is not None:
            echo(f"[{i}/{len(names)}] {name}: kept {os.path.join(out_dir, name + '.json')}")
            row = {"experiment": name, "verdict": _verdict(record["supported"]) + " (kept)", "seconds": None,
                   "cpu_seconds": None, "error": None}
        else:
            echo(f"[{i}/{len(names)}] {name}")
            row = _run_one(name, out_dir, quick, download, echo)
        rows.append({"experiment": name, "chapter": get_experiment(name).chapter, **row})
    return rows


def summary_table(rows: list) -> str:
    """The summary as a table (name, chapter, verdict, seconds) with a total line."""
    shown = [{"experiment": r["experiment"], "chapter": r["chapter"], "verdict": r["verdict"],
              "seconds": "-" if r["seconds"] is None else f"{r['seconds']:.1f}",
              "cpu s": "-" if r["cpu_seconds"] is None else f"{r['cpu_seconds']:.1f}"} for r in rows]
    total = sum(r["seconds"] or 0 for r in rows)
    cpu = sum(r["cpu_seconds"] or 0 for r in rows)
    failed = sum(r["verdict"] == FAILED for r in rows)
    supported = sum(r["verdict"].startswith("SUPPORTED") for r in rows)
    shown.append({"experiment": f"total ({len(rows)})", "chapter": "",
                  "verdict": f"{supported} supported, {failed} failed", "seconds": f"{total:.1f}",
                  "cpu s": f"{cpu:.1f}"})
    return format_table(shown)
