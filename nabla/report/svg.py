"""Line charts as inline SVG, drawn from logged numbers: no plotting library, nothing to load.

``line_chart(x, series)`` maps each series' finite points into the plot area by
``px = left + (x - x0) / (x1 - x0) * width`` (and ``py`` likewise, y growing downwards), draws axes with
"nice" ticks (1, 2 or 5 times a power of ten), one polyline per series, dots where there are few points, and
a legend.  Missing values (None, NaN) break a line rather than join across the gap; points with no x are left out.
"""
from __future__ import annotations

import math
import numbers
from html import escape

import numpy as np

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
WIDTH, HEIGHT = 480, 280
LEFT, RIGHT, TOP, BOTTOM = 62, 14, 30, 42


def nice_ticks(lo: float, hi: float, count: int = 5) -> np.ndarray:
    """About ``count`` round values covering [lo, hi]: a step of 1, 2 or 5 x 10^k."""
    if not hi > lo:
        lo, hi = lo - (abs(lo) * 0.1 or 1.0), hi + (abs(hi) * 0.1 or 1.0)
    raw = (hi - lo) / max(count, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return np.arange(math.floor(lo / step), math.ceil(hi / step) + 1) * step


def _label(v: float) -> str:
    return f"{v:.4g}"  # 4 significant digits tell neighbouring ticks apart (1e-04, 1.05e-04)


def _segments(px: np.ndarray, py: np.ndarray) -> list:
    """Runs of consecutive finite points, as SVG point lists."""
    ok = np.isfinite(py)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
    return [" ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px[s:e], py[s:e])) for s, e in zip(edges[::2], edges[1::2])]


def _axes(xt, yt, sx, sy, xlabel) -> list:
    parts = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" class="axis"/>',
             f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" class="axis"/>']
    for v in xt:
        parts.append(f'<text x="{sx(v):.1f}" y="{HEIGHT - BOTTOM + 15}" text-anchor="middle">{_label(v)}</text>')
    for v in yt:
        y = sy(v)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 5}" y="{y + 4:.1f}" text-anchor="end">{_label(v)}</text>')
    parts.append(f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 8}" text-anchor="middle">'
                 f'{escape(xlabel)}</text>')
    return parts


def _scale(lo, hi, a, b):
    span = (hi - lo) or 1.0
    return lambda v: a + (np.asarray(v, dtype=float) - lo) / span * (b - a)


def _floats(values) -> np.ndarray:
    """Logged values as floats; anything that is not a number (None, a string in a hand-edited history) NaN."""
    return np.array([v if isinstance(v, numbers.Real) else np.nan for v in values], dtype=float)


def line_chart(x, series: dict, title: str, xlabel: str = "step") -> str:
    """An ``<svg>`` element: ``series`` maps a label to y values (same length as ``x``)."""
    xs = _floats(x)
    keep = np.isfinite(xs)  # a point with no x (a None step in a history) cannot be placed: it is left out
    xs = xs[keep]
    ys = {k: _floats(vals)[keep] for k, vals in series.items()}
    finite = np.concatenate([v[np.isfinite(v)] for v in ys.values()] + [np.zeros(0)])
    if xs.size == 0 or finite.size == 0:
        return ""
    xt, yt = nice_ticks(xs.min(), xs.max()), nice_ticks(finite.min(), finite.max())
    sx = _scale(xt[0], xt[-1], LEFT, WIDTH - RIGHT)
    sy = _scale(yt[0], yt[-1], HEIGHT - BOTTOM, TOP)
    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<text x="{LEFT}" y="18" class="title">{escape(title)}</text>'] + _axes(xt, yt, sx, sy, xlabel)
    for i, (label, y) in enumerate(ys.items()):
        color, px, py = COLORS[i % len(COLORS)], sx(xs), sy(y)
        parts += [f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{pts}"/>'
                  for pts in _segments(px, py)]
        if xs.size <= 40:
            ok = np.isfinite(py)
            parts += [f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.6" fill="{color}"/>' for a, b in zip(px[ok], py[ok])]
        lx = WIDTH - RIGHT - 150
        parts += [f'<line x1="{lx}" y1="{TOP + 8 + 15 * i}" x2="{lx + 18}" y2="{TOP + 8 + 15 * i}" stroke="{color}" '
                  f'stroke-width="2.5"/>', f'<text x="{lx + 23}" y="{TOP + 12 + 15 * i}">{escape(label)}</text>']
    return "\n".join(parts + ["</svg>"])
