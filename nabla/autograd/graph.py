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


class _DotWriter:
    """The DOT lines of one graph: every tensor and Function gets one node id, edges point to outputs."""

    def __init__(self, roots, names, show_shapes, graph_name):
        self.names, self.show_shapes = names, show_shapes
        self.root_ids = {id(r) for r in roots}
        self.ids: dict[int, str] = {}   # id(object) -> DOT node id
        self.keep = []                  # hold the objects so that id() stays unique during the walk
        self.lines = [f"digraph {_quote(graph_name)} {{",
                      '  graph [rankdir=BT];',           # inputs at the bottom, the output on top
                      '  node [fontname="Helvetica", fontsize=10];']

    def node_id(self, obj, prefix):
        key = id(obj)
        if key not in self.ids:
            self.ids[key] = f"{prefix}{len(self.ids)}"
            self.keep.append(obj)
        return self.ids[key]

    def tensor_node(self, t: Tensor) -> str:
        nid = self.node_id(t, "t")
        if id(t) in self.root_ids:
            style = _OUTPUT_STYLE
        elif t.is_leaf and t.requires_grad:
            style = _PARAM_STYLE
        elif not t.requires_grad:
            style = _CONST_STYLE
        else:
            style = _ACTIVE_STYLE
        label = _quote(*_tensor_label(t, self.names.get(id(t)), self.show_shapes))
        self.lines.append(f"  {nid} [label={label}, {style}];")
        return nid

    def function_node(self, fn, fid) -> list:
        """The node of a Function seen for the first time, with edges from its inputs; its inputs."""
        if fn.freed:
            self.lines.append(f"  {fid} [label={_quote(fn.name, '(freed)')}, {_FREED_STYLE}];")
            return []
        self.lines.append(f"  {fid} [label={_quote(fn.name)}, {_OP_STYLE}];")
        for inp in fn.inputs:
            self.lines.append(f"  {self.node_id(inp, 't')} -> {fid};")
        return list(fn.inputs)

    def walk(self, roots) -> str:
        seen_tensors, seen_fns, stack = set(), set(), []
        for r in roots:
            if id(r) not in seen_tensors:
                seen_tensors.add(id(r))
                stack.append(r)
        while stack:
            t = stack.pop()
            tid = self.tensor_node(t)
            fn = t._fn
            if fn is None:
                continue
            fid = self.node_id(fn, "f")
            self.lines.append(f"  {fid} -> {tid};")
            if id(fn) in seen_fns:
                continue
            seen_fns.add(id(fn))
            for inp in self.function_node(fn, fid):
                if id(inp) not in seen_tensors:
                    seen_tensors.add(id(inp))
                    stack.append(inp)
        self.lines.append("}")
        return "\n".join(self.lines) + "\n"


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
    return _DotWriter(roots, names, show_shapes, graph_name).walk(roots)


__all__ = ["to_dot"]
