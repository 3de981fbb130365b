"""A training run's curves: its ``history.json`` columns grouped into charts.

Each logged value gets one chart with its validation counterpart (``loss`` with ``val_loss``, ``accuracy``
with ``val_accuracy``); a validation value with no training one (``val_miou``) has its own; the learning rate
has its own.  Bookkeeping columns (epoch, step, times, speeds, counts) are the x axis or left out.  x is the
optimizer step.
"""
from __future__ import annotations

from .svg import line_chart

AXES = ("step", "epoch")
NOT_CURVES = ("step", "epoch", "time", "eval_time", "images", "worst_class")   # bookkeeping, not curves
NOT_CURVE_SUFFIXES = ("_per_s", "_per_sec", "_time")


def _numeric(values) -> bool:
    return isinstance(values, list) and any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def groups(history: dict) -> list:
    """``[(title, [column, ...]), ...]``: the charts to draw, the loss first."""
    columns = [k for k, v in history.items() if _numeric(v) and k.removeprefix("val_") not in NOT_CURVES
               and not k.endswith(NOT_CURVE_SUFFIXES)]
    out = []
    for k in columns:
        if k.startswith("val_") and k[4:] in columns:
            continue
        out.append((k[4:] if k.startswith("val_") and k[4:] not in columns else k,
                    [k] + ([f"val_{k}"] if f"val_{k}" in columns else [])))
    return sorted(out, key=lambda g: (g[0] != "loss", g[0] == "lr"))


def run_charts(history: dict) -> list:
    """The SVG charts of a history (empty when nothing numeric was logged)."""
    axis = next((a for a in AXES if _numeric(history.get(a))), None)
    if axis is None:
        return []
    x = history[axis]
    charts = []
    for title, columns in groups(history):
        series = {_legend(c, len(columns)): history[c] for c in columns}  # line_chart skips what is not a number
        n = min(len(x), *(len(s) for s in series.values()))
        svg = line_chart(x[:n], {k: v[:n] for k, v in series.items()}, title, xlabel=axis)
        if svg:
            charts.append(svg)
    return charts


def _legend(column: str, shown_with: int) -> str:
    if column.startswith("val_"):
        return "validation " + column[4:]
    return f"training {column}" if shown_with > 1 else column
