"""Model options given as comma-separated lists on the command line (``--set widths=16,32,64``)."""
from __future__ import annotations


def parse_list(text, name: str, kind=int, count: int | None = None, at_least: int = 1, who: str = "") -> tuple:
    """'16,32,64' (or a sequence) -> (16, 32, 64) of ``kind``: exactly ``count`` values when given, else at
    least ``at_least``, all positive; a one-line ValueError names ``who`` (the model) and the option."""
    where = f"{who}: option {name!r}" if who else f"option {name!r}"
    noun = "integers" if kind is int else "numbers"
    items = text if isinstance(text, (tuple, list)) else [v for v in str(text).replace(" ", "").split(",") if v]
    try:
        values = tuple(kind(v) for v in items)
    except (TypeError, ValueError):
        raise ValueError(f"{where} expects comma-separated {noun}, got {text!r}") from None
    if (count is not None and len(values) != count) or len(values) < at_least or min(values, default=0) <= 0:
        need = f"{count}" if count is not None else f"at least {at_least}"
        raise ValueError(f"{where} needs {need} positive {noun} (comma-separated), got {text!r}")
    return values


def parse_ints(text, name: str, **kwargs) -> tuple:
    return parse_list(text, name, int, **kwargs)


def parse_floats(text, name: str, **kwargs) -> tuple:
    return parse_list(text, name, float, **kwargs)
