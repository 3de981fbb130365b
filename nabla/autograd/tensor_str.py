"""How a tensor prints, as PyTorch prints it: ``tensor([1., 2., 3.])``.

One format for all the elements shown, so that a matrix's columns line up:
    integers and bools      as Python writes them
    floats                  ``1.`` when every finite value is a whole number, else 4 decimals, or scientific
                            notation (``1.0000e-05``) when the values span more than a factor 1000, exceed
                            1e8, or (not whole numbers) go below 1e-4
Rows wrap at 80 characters; a tensor of more than 1000 elements shows its first and last 3 entries along
each axis around ``...``.  After the values: ``size=`` for an empty tensor of more than one axis, ``dtype=``
when it is not the default float dtype, int64 or bool, then ``grad_fn=<MulBackward0>`` (the op that made
it) or ``requires_grad=True`` (a leaf).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend

_PRECISION = 4
_THRESHOLD = 1000     # more elements than this: summarize
_EDGEITEMS = 3
_LINEWIDTH = 80
_PREFIX = "tensor("


class _Formatter:
    """Formats every element to the same width, in the one mode the shown values call for."""

    def __init__(self, values: np.ndarray):
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode = True, False
        shown = values.reshape(-1).tolist()
        if self.floating:
            finite = values[np.isfinite(values)].astype(np.float64)
            nonzero = finite[finite != 0]
            if nonzero.size:
                self.int_mode = bool(np.all(np.ceil(nonzero) == nonzero))
                lo, hi = np.abs(nonzero).min(), np.abs(nonzero).max()
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or (not self.int_mode and lo < 1.0e-4)
            if self.int_mode and not self.sci_mode:  # whole numbers: the width of the nonzero finite ones
                shown = nonzero.tolist()              # (as PyTorch: nan, inf and 0. are not padded for)
        self.width = max((len(self._text(v)) for v in shown), default=1)

    def _text(self, value) -> str:
        if not self.floating:
            return str(value)
        if self.sci_mode:
            return f"{value:.{_PRECISION}e}"
        if self.int_mode:
            return f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        return f"{value:.{_PRECISION}f}"

    def __call__(self, value) -> str:
        return self._text(value).rjust(self.width)


def _shown_index(n: int, summarize: bool):
    if summarize and n > 2 * _EDGEITEMS:
        return list(range(_EDGEITEMS)) + list(range(n - _EDGEITEMS, n))
    return list(range(n))


def _shown_values(a: np.ndarray, summarize: bool) -> np.ndarray:
    """The elements that will be printed (all, or the edges of each axis)."""
    if a.ndim == 0 or not summarize:
        return a
    return a[np.ix_(*[_shown_index(n, True) for n in a.shape])]


def _body(a: np.ndarray, fmt: _Formatter, indent: int, summarize: bool) -> str:
    """``[...]`` for a (nested rows at indent + 1), or one value for a 0-d array."""
    if a.ndim == 0:
        return fmt(a.item())
    n = a.shape[0]
    cut = summarize and n > 2 * _EDGEITEMS
    index = _shown_index(n, summarize)
    if a.ndim == 1:
        items = [fmt(v) for v in a[index].tolist()]
        if cut:
            items.insert(_EDGEITEMS, " ...")
        per_line = max(1, (_LINEWIDTH - indent) // (fmt.width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = [_body(a[i], fmt, indent + 1, summarize) for i in index]
    if cut:
        rows.insert(_EDGEITEMS, "...")
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _suffixes(t) -> list:
    a = t.data
    out = []
    if a.size == 0 and a.ndim != 1:
        out.append(f"size={tuple(a.shape)}")
    if a.dtype not in (backend.get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_)):
        out.append(f"dtype=nabla.{a.dtype.name}")
    if t._fn is not None:
        name = type(t._fn).__name__
        out.append(f"grad_fn=<{name[:-len('Function')] if name.endswith('Function') else name}Backward0>")
    elif t.requires_grad:
        out.append("requires_grad=True")
    return out


def tensor_repr(t) -> str:
    """``tensor(values[, size=...][, dtype=...][, grad_fn=... | requires_grad=True])``."""
    a = np.asarray(t.data)
    indent = len(_PREFIX)
    if a.size == 0:
        text = _PREFIX + "[]"
    else:
        summarize = a.size > _THRESHOLD
        fmt = _Formatter(_shown_values(a, summarize))
        text = _PREFIX + _body(a, fmt, indent, summarize)
    parts = [text]
    line = len(text) - text.rfind("\n") + 1
    for suffix in _suffixes(t):
        if line + len(suffix) + 2 > _LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line += len(suffix) + 2
    return "".join(parts) + ")"
