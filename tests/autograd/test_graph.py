"""The graph visualiser: DOT text structure, and render's backends and errors."""
import re
import sys
import types

import numpy as np
import pytest

import nabla as nb
from nabla.autograd.graph import to_dot


def _nodes(dot):
    """{node id: attribute text} for node statements (``t0 [label=...]``)."""
    return dict(re.findall(r"^\s*(\w+) \[(label=.*)\];$", dot, flags=re.M))


def _edges(dot):
    return re.findall(r"^\s*(\w+) -> (\w+);$", dot, flags=re.M)


def _label(attrs):
    return re.match(r'label="((?:[^"\\]|\\.)*)"', attrs).group(1)


def _small_graph():
    w = nb.ones(3, 2, requires_grad=True)
    x = nb.ones(4, 3)                       # data: a constant
    b = nb.zeros(2, requires_grad=True)
    y = (x @ w + b) * 2.0
    return w, x, b, y


def test_to_dot_is_a_digraph_with_op_and_tensor_nodes():
    w, x, b, y = _small_graph()
    dot = to_dot(y)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    nodes = _nodes(dot)
    ops = {k: _label(v) for k, v in nodes.items() if k.startswith("f")}
    tensors = {k: _label(v) for k, v in nodes.items() if k.startswith("t")}
    assert sorted(ops.values()) == ["Add", "MatMul", "Mul"]
    # y, x@w, x@w+b, w, x, b and the constant 2.0
    assert len(tensors) == 7
    assert "(3, 2) float32" in tensors.values() and "(4, 2) float32" in tensors.values()
    # every op: one edge out to its result, one edge in per input
    edges = _edges(dot)
    assert len(edges) == 3 + 2 * 3
    for fid in ops:
        assert sum(1 for a, b_ in edges if a == fid) == 1
        assert sum(1 for a, b_ in edges if b_ == fid) == 2


def test_leaf_parameters_are_highlighted_and_names_shown():
    w, x, b, y = _small_graph()
    dot = to_dot(y, params={"weight": w, "bias": b})
    nodes = _nodes(dot)
    by_label = {_label(v): v for v in nodes.values()}
    assert "lightblue" in by_label["weight\\n(3, 2) float32"]
    assert "lightblue" in by_label["bias\\n(2,) float32"]
    assert "lightblue" not in by_label["(4, 3) float32"]  # data is not a parameter
    params = [v for v in nodes.values() if "lightblue" in v]
    assert len(params) == 2


def test_edges_follow_data_flow():
    w, x, b, y = _small_graph()
    dot = to_dot(y, params={"weight": w})
    nodes = _nodes(dot)
    ids = {_label(v): k for k, v in nodes.items()}
    matmul = ids["MatMul"]
    assert (ids["weight\\n(3, 2) float32"], matmul) in _edges(dot)
    assert (ids["(4, 3) float32"], matmul) in _edges(dot)


def test_show_shapes_false_hides_shapes():
    w, x, b, y = _small_graph()
    dot = to_dot(y, show_shapes=False, params={"w": w})
    assert "float32" not in dot and "(3, 2)" not in dot
    assert '"w"' in dot


def test_shared_tensor_appears_once():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x
    nodes = _nodes(to_dot(y))
    assert sum(1 for k, v in nodes.items() if k.startswith("t") and "lightblue" in v) == 1
    assert len([k for k in nodes if k.startswith("f")]) == 2


def test_several_roots():
    x = nb.tensor([1.0], requires_grad=True)
    a, b = x * 2.0, x * 3.0
    nodes = _nodes(to_dot([a, b]))
    assert len([k for k in nodes if k.startswith("f")]) == 2


def test_freed_graph_is_marked():
    x = nb.tensor([1.0], requires_grad=True)
    y = (x * 2.0).sum()
    y.backward()
    dot = to_dot(y)
    assert "freed" in dot


def test_leaf_alone():
    x = nb.tensor([1.0], requires_grad=True)
    nodes = _nodes(to_dot(x))
    assert len(nodes) == 1


def test_deep_graph_walked_iteratively():
    x = nb.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + 1.0
    dot = to_dot(y, show_shapes=False)
    assert len(_nodes(dot)) == 1 + 20_000 * 2 + 20_000  # x, each op and result, each constant


def test_labels_are_escaped():
    x = nb.tensor([1.0], requires_grad=True)
    dot = to_dot(x * 2.0, params={'a "quoted" \\ name': x})
    assert 'a \\"quoted\\" \\\\ name' in dot


def test_to_dot_rejects_non_tensors():
    with pytest.raises(TypeError, match="Tensor"):
        to_dot([np.ones(2)])


def test_viz_reexports():
    assert nb.viz.to_dot is to_dot
    assert callable(nb.viz.render)


# ---------------------------------------------------------------------- render
def _y():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    return (x * x).sum()


def test_render_without_graphviz_is_a_clear_import_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    monkeypatch.setattr(nb.viz.shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match=r"pip install graphviz.*binaries"):
        nb.viz.render(_y(), tmp_path / "g.svg")


def test_render_with_graphviz_package(monkeypatch, tmp_path):
    calls = {}

    class Source:
        def __init__(self, text):
            calls["text"] = text

        def pipe(self, format):
            calls["format"] = format
            return b"<svg/>"

    monkeypatch.setitem(sys.modules, "graphviz", types.SimpleNamespace(Source=Source))
    out = nb.viz.render(_y(), tmp_path / "g.png")
    assert out == str(tmp_path / "g.png")
    assert calls["format"] == "png" and calls["text"].startswith("digraph")
    assert (tmp_path / "g.png").read_bytes() == b"<svg/>"


def test_render_graphviz_without_binaries_is_import_error(monkeypatch, tmp_path):
    class ExecutableNotFound(RuntimeError):
        pass

    class Source:
        def __init__(self, text):
            pass

        def pipe(self, format):
            raise ExecutableNotFound("failed to execute 'dot'")

    fake = types.SimpleNamespace(Source=Source, ExecutableNotFound=ExecutableNotFound)
    monkeypatch.setitem(sys.modules, "graphviz", fake)
    with pytest.raises(ImportError, match="Graphviz binaries"):
        nb.viz.render(_y(), tmp_path / "g.svg")


@pytest.mark.skipif(sys.platform == "win32", reason="uses a shell script as a fake `dot`")
def test_render_with_dot_binary(monkeypatch, tmp_path):
    fake_dot = tmp_path / "dot"
    # a stand-in for Graphviz's dot: `dot -Tsvg -o PATH` copies the DOT text from stdin to PATH
    fake_dot.write_text('#!/bin/sh\necho "$1" > "$3.fmt"\ncat > "$3"\n')
    fake_dot.chmod(0o755)
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setattr(nb.viz.shutil, "which", lambda name: str(fake_dot) if name == "dot" else None)
    target = tmp_path / "graph.svg"
    nb.viz.render(_y(), target)
    assert target.read_text().startswith("digraph")
    assert (tmp_path / "graph.svg.fmt").read_text().strip() == "-Tsvg"


def test_render_dot_extension_needs_no_graphviz(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "graphviz", None)
    monkeypatch.setattr(nb.viz.shutil, "which", lambda name: None)
    nb.viz.render(_y(), tmp_path / "g.dot")
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def test_render_unknown_extension(tmp_path):
    with pytest.raises(ValueError, match=r"extension.*\.svg"):
        nb.viz.render(_y(), tmp_path / "g.txt")
