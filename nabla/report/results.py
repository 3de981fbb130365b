"""Reading one experiment's output: ``<name>.json`` as ``nabla.experiments.run_experiment`` writes it, and the
``<name>.png`` beside it.

The JSON holds ``experiment, quick, claim, supported, verdict, table, data`` (``data["claims"]``: the sub-claims
and whether each held) and, from runs that record them, where and how it ran: ``date, nabla_version, commit,
machine, command`` (and ``summary, chapter, notes``).  What a file lacks is filled in: the date from the file's
modification time, the command from the name and the folder, the rest "unknown".
"""
from __future__ import annotations

import datetime
import json
import os

from .records import ExperimentResult

UNKNOWN = "unknown"


def file_date(path: str) -> str:
    """A file's modification time, ISO 8601 in UTC to the second."""
    t = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_experiment_json(record) -> bool:
    return isinstance(record, dict) and isinstance(record.get("experiment"), str) and "verdict" in record


def read_json(path: str):
    """The parsed file, or None when it is not JSON (a report is built from whatever folders it is given)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _command(record: dict, path: str) -> str:
    if record.get("command"):
        return str(record["command"])
    folder = os.path.dirname(path) or "."
    return f"nabla experiment {record['experiment']} --out {folder}" + (" --quick" if record.get("quick") else "")


def _notes(value):
    if isinstance(value, dict):  # {"zh": ..., "en": ...}, as run_experiment writes it
        value = (value.get("zh"), value.get("en"))
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return tuple(value)
    return None


def machine_text(value) -> str:
    """The machine a result was made on, in a line (``machine`` is a dict of platform, python, cpu, cores)."""
    if isinstance(value, dict):
        parts = [value.get("platform"), value.get("cpu"),
                 f"{value['cores']} cores" if value.get("cores") else None,
                 f"Python {value['python']}" if value.get("python") else None]
        return ", ".join(str(p) for p in parts if p) or UNKNOWN
    return str(value or UNKNOWN)


def read_result(path: str, record: dict | None = None) -> ExperimentResult | None:
    """The experiment result a JSON file holds; None if it is not one."""
    record = read_json(path) if record is None else record
    if not is_experiment_json(record):
        return None
    name = record["experiment"]
    png = os.path.join(os.path.dirname(path), f"{name}.png")
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    claims = data.get("claims") if isinstance(data.get("claims"), dict) else {}
    supported = record.get("supported")
    table = record.get("table") if isinstance(record.get("table"), list) else []
    return ExperimentResult(
        name=name, path=path, claim=str(record.get("claim", "")),
        supported=supported if isinstance(supported, bool) else None, verdict=str(record.get("verdict", "")),
        table=[r for r in table if isinstance(r, dict)], claims=claims, quick=bool(record.get("quick")),
        plot=png if os.path.isfile(png) else None, command=_command(record, path),
        date=str(record.get("date") or file_date(path)),
        nabla_version=str(record.get("nabla_version") or UNKNOWN), commit=str(record.get("commit") or UNKNOWN),
        machine=machine_text(record.get("machine")), chapter=record.get("chapter"),
        notes=_notes(record.get("notes")), summary=str(record.get("summary") or ""))


def preferred(a: ExperimentResult, b: ExperimentResult) -> ExperimentResult:
    """Of two results of one experiment, the one to show: a full run before a quick one, then the newer."""
    return max((a, b), key=lambda r: (not r.quick, r.date))
