"""The computational graph as Graphviz DOT text, for people to look at.

    dot = to_dot(loss)                 # a str in the DOT language
    nabla.viz.render(loss, "g.svg")    # the picture (needs Graphviz)

Two kinds of node, as in the notes' figures:
  * tensor nodes (ellipses): the output, intermediate values, constants, and leaf parameters
    (``requires_grad=True`` leaves, filled blue: the tensors that receive ``.grad``);
  * op nodes (boxes): one per Function, named by its class (Add, Mul, MatMul...).
Edges follow the data: input tensor -> op -> output tensor.  The walk uses an explicit stack, so a
graph of 100,000 ops is drawn without hitting Python's recursion limit.  A Function already freed by
``backward()`` (no ``retain_graph``) no longer knows its inputs; it is drawn dashed, marked "freed".
"""
from __future__ import annotations

from .tensor import Tensor

_PARAM_STYLE = 'style=filled, fillcolor="lightblue"'
_OUTPUT_STYLE = 'style=filled, fillcolor="darkolivegreen1"'
_CONST_STYLE = 'style=filled, fillcolor="gray92", color="gray50"'
_ACTIVE_STYLE = 'style=filled, fillcolor="white"'
_OP_STYLE = 'shape=box, style="rounded,filled", fillcolor="lightyellow"'
_FREED_STYLE = 'shape=box, style="rounded,dashed", color="gray50"'


def _quote(*lines: str) -> str:
    """A DOT string literal of one or more lines (DOT's ``\\n`` is a centred line break)."""
    return '"' + "\\n".join(s.replace("\\", "\\\\").replace('"', '\\"') for s in lines) + '"'


def _tensor_label(t: Tensor, name: str | None, show_shapes: bool) -> list:
    lines = [name] if name else []
    if show_shapes:
        lines.append(f"{tuple(t.shape)} {t.dtype}")
    return lines or ["tensor"]


def to_dot(tensor, show_shapes: bool = True, params: dict | None = None, graph_name: str = "nabla") -> str:
    """The graph that computed ``tensor`` (or a list of tensors) as Graphviz DOT text.

    params: optional ``{name: tensor}`` (e.g. ``dict(model.named_parameters())``) to label leaves.
    show_shapes: put each tensor's shape and dtype in its node.
    """
    roots = [tensor] if isinstance(tensor, Tensor) else list(tensor)
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"to_dot: expected a Tensor or a list of Tensors, got {type(r).__name__}")
    names = {id(t): n for n, t in (params or {}).items()}
    root_ids = {id(r) for r in roots}

    ids: dict[int, str] = {}     # id(object) -> DOT node id
    keep = []                    # hold the objects so that id() stays unique during the walk
    lines = [f"digraph {_quote(graph_name)} {{",
             '  graph [rankdir=BT];',           # inputs at the bottom, the output on top
             '  node [fontname="Helvetica", fontsize=10];']

    def node_id(obj, prefix):
        key = id(obj)
        if key not in ids:
            ids[key] = f"{prefix}{len(ids)}"
            keep.append(obj)
        return ids[key]

    def tensor_node(t: Tensor) -> str:
        nid = node_id(t, "t")
        if id(t) in root_ids:
            style = _OUTPUT_STYLE
        elif t.is_leaf and t.requires_grad:
            style = _PARAM_STYLE
        elif not t.requires_grad:
            style = _CONST_STYLE
        else:
            style = _ACTIVE_STYLE
        lines.append(f"  {nid} [label={_quote(*_tensor_label(t, names.get(id(t)), show_shapes))}, {style}];")
        return nid

    seen_tensors, seen_fns = set(), set()
    stack = []
    for r in roots:
        if id(r) not in seen_tensors:
            seen_tensors.add(id(r))
            stack.append(r)
    while stack:
        t = stack.pop()
        tid = tensor_node(t)
        fn = t._fn
        if fn is None:
            continue
        fid = node_id(fn, "f")
        lines.append(f"  {fid} -> {tid};")
        if id(fn) in seen_fns:
            continue
        seen_fns.add(id(fn))
        if fn.freed:
            lines.append(f"  {fid} [label={_quote(fn.name, '(freed)')}, {_FREED_STYLE}];")
            continue
        lines.append(f"  {fid} [label={_quote(fn.name)}, {_OP_STYLE}];")
        for inp in fn.inputs:
            iid = node_id(inp, "t")
            lines.append(f"  {iid} -> {fid};")
            if id(inp) not in seen_tensors:
                seen_tensors.add(id(inp))
                stack.append(inp)
    lines.append("}")
    return "\n".join(lines) + "\n"


__all__ = ["to_dot"]
