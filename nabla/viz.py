"""Pictures of the computational graph.

    nabla.viz.to_dot(loss)               # Graphviz DOT text (needs nothing but nabla)
    nabla.viz.render(loss, "graph.svg")  # the drawing; the format comes from the extension

``render`` uses the ``graphviz`` Python package when it is installed, else the ``dot`` program when it
is on PATH.  Either way the Graphviz binaries do the layout (``pip install graphviz`` provides only the
Python bindings; the binaries come from your system's package manager, e.g. ``apt install graphviz``).
"""
from __future__ import annotations

import os
import shutil
import subprocess

from .autograd.graph import to_dot

_FORMATS = ("svg", "png", "pdf", "dot", "gv", "jpg", "jpeg", "ps")

_MISSING = ("nabla.viz.render needs Graphviz to draw the graph: `pip install graphviz` (the Python package) "
            "and the Graphviz binaries (e.g. `apt install graphviz` or `brew install graphviz`), "
            "or use nabla.viz.to_dot(tensor) and paste the text into any DOT viewer.")


def _format_of(path: str) -> str:
    ext = os.path.splitext(str(path))[1].lower().lstrip(".")
    if ext not in _FORMATS:
        raise ValueError(f"render: cannot tell the image format from the extension of {str(path)!r}; "
                         f"expected one of {', '.join('.' + f for f in _FORMATS)}")
    return {"jpeg": "jpg", "gv": "dot"}.get(ext, ext)


def _graphviz_module():
    """The ``graphviz`` package, or None when it is not installed."""
    try:
        import graphviz
    except ImportError:
        return None
    return graphviz


def render(tensor, path, show_shapes: bool = True, params: dict | None = None) -> str:
    """Draw the graph that computed ``tensor`` into ``path`` (svg, png, pdf... by extension); returns path."""
    fmt = _format_of(path)
    dot = to_dot(tensor, show_shapes=show_shapes, params=params)
    path = str(path)
    if fmt == "dot":  # the DOT text itself: no Graphviz needed
        with open(path, "w") as f:
            f.write(dot)
        return path
    graphviz = _graphviz_module()
    if graphviz is not None:
        not_found = getattr(graphviz, "ExecutableNotFound", ())
        try:
            data = graphviz.Source(dot).pipe(format=fmt)
        except not_found as e:  # the bindings are there, the binaries are not
            raise ImportError(_MISSING) from e
        with open(path, "wb") as f:
            f.write(data)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise ImportError(_MISSING)
    proc = subprocess.run([exe, f"-T{fmt}", "-o", path], input=dot.encode(), capture_output=True)
    if proc.returncode != 0:
        raise RuntimeError(f"render: `dot -T{fmt}` failed (exit {proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return path


__all__ = ["to_dot", "render"]
