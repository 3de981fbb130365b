"""``nabla.onnx.export``: a model's forward as an ONNX file (torch.onnx.export's signature and names).

The graph is built by module emitters (nabla/onnx/graph.py says why not a trace), in eval mode as
torch.onnx exports by default (the model's mode is restored after), weights as float32 initializers named
by their state_dict keys.  Axis 0 of every input and output is dynamic ("batch") unless ``dynamic_axes``
says otherwise; other sizes are the example's.  The file passes ``onnx.checker.check_model`` before it is
written.
"""
from __future__ import annotations

import os

import numpy as np

INSTALL_HINT = 'ONNX export needs onnx: pip install "nabla[onnx]"'


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return onnx


def _as_tensors(example_inputs) -> list:
    """Tensors as given (token ids stay int64); arrays of integers become int64, anything else float32."""
    from ..autograd import Tensor
    items = list(example_inputs) if isinstance(example_inputs, (tuple, list)) else [example_inputs]

    def tensor(x):
        if isinstance(x, Tensor):
            return x
        a = np.asarray(x)
        return Tensor(a.astype(np.int64 if np.issubdtype(a.dtype, np.integer) else np.float32))
    return [tensor(x) for x in items]


def _value_info(onnx, name: str, tensor, axes: dict):
    """The value info of ``tensor`` (int64 for integer tensors such as token ids, else float32) with
    ``axes`` ({index: symbolic name}) left symbolic."""
    dims = [axes.get(i, int(d)) for i, d in enumerate(tensor.shape)]
    integer = np.issubdtype(np.asarray(tensor.data).dtype, np.integer)
    return onnx.helper.make_tensor_value_info(name, onnx.TensorProto.INT64 if integer else onnx.TensorProto.FLOAT,
                                              dims)


def _output_names(output_names, count: int) -> list:
    names = list(output_names) if output_names else (["output"] if count == 1 else [f"output{i}" for i in
                                                                                    range(count)])
    if len(names) != count:
        raise ValueError(f"ONNX export: {len(names)} output_names for the model's {count} outputs")
    return names


def _axes(dynamic_axes, name: str, default: dict) -> dict:
    if dynamic_axes is None:
        return default
    axes = dynamic_axes.get(name, {})
    return {int(i): f"{name}_dim{i}" for i in axes} if isinstance(axes, (list, tuple)) else dict(axes)


def _check_dynamic_axes(dynamic_axes, ranks: dict, images=()) -> None:
    """A name or an axis that is not in the graph is refused: a typo would otherwise leave the batch axis static
    (a name absent from ``dynamic_axes`` gets no dynamic axis), with no sign of it until a batch of another size.
    So is a dynamic height or width of an image input (``images``: the 4-d float inputs' names): the emitters
    build the example's image size into the graph (flatten sizes, pooling windows, resize scales), so such a
    file would fail, or silently compute at the example's size, on another one."""
    for name, axes in (dynamic_axes or {}).items():
        if name not in ranks:
            raise ValueError(f"ONNX export: dynamic_axes names {name!r}, which is none of the inputs and outputs "
                             f"{list(ranks)}")
        bad = [a for a in axes if not 0 <= int(a) < ranks[name]]
        if bad:
            raise ValueError(f"ONNX export: dynamic_axes[{name!r}] has axes {bad}; {name!r} has rank {ranks[name]}")
        spatial = sorted(int(a) for a in axes if int(a) >= 2)
        if name in images and spatial:
            raise ValueError(f"ONNX export: dynamic_axes[{name!r}] makes image axes {spatial} dynamic; the graph is "
                             "built for the example's height and width: export at the size you will run")


def build_graph(model, example_inputs, input_names=None, output_names=None, dynamic_axes=None,
                graph_name: str = "nabla", opset_version: int = 17):
    """The ONNX GraphProto of ``model`` on ``example_inputs`` (no file written); the model's outputs for them
    (one Tensor, or a tuple when the model's emitter returns a tuple of Values: several graph outputs).
    ``opset_version``: the opset the graph is for (an emitter whose op is newer refuses by module path)."""
    onnx = _require_onnx()
    from ..autograd import no_grad
    from . import dense, detection, faster_rcnn_split, generative, layers, models, sequence_models  # noqa: F401 - importing registers the emitters
    from .graph import GraphBuilder, Value
    xs = _as_tensors(example_inputs)
    input_names = list(input_names or (["input"] if len(xs) == 1 else [f"input{i}" for i in range(len(xs))]))
    if len(input_names) != len(xs):
        raise ValueError(f"ONNX export: {len(input_names)} input_names for {len(xs)} example inputs")
    g = GraphBuilder(opset_version)
    values = [Value(g.fresh(n), x) for n, x in zip(input_names, xs)]
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            out = g.emit(model, *values, path="model")
    finally:
        model.train(was_training)
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    names = _output_names(output_names, len(outs))
    for value, name in zip(outs, names):
        g.nodes.append(onnx.helper.make_node("Identity", [value.name], [name], name=f"output:{name}"))
    _check_dynamic_axes(dynamic_axes, {n: len(t.shape) for n, t in [*zip(input_names, xs),
                                                                    *zip(names, (v.tensor for v in outs))]},
                        images=[n for n, x in zip(input_names, xs) if len(x.shape) == 4
                                and np.issubdtype(np.asarray(x.data).dtype, np.floating)])
    batch = {0: "batch"}
    inputs = [_value_info(onnx, n, x, _axes(dynamic_axes, n, batch)) for n, x in zip(input_names, xs)]
    outputs = [_value_info(onnx, n, v.tensor, _axes(dynamic_axes, n, batch)) for n, v in zip(names, outs)]
    graph = onnx.helper.make_graph(g.nodes, graph_name, inputs, outputs, initializer=g.initializers)
    tensors = tuple(v.tensor for v in outs)
    return graph, tensors if isinstance(out, (tuple, list)) else tensors[0]


def export(model, example_inputs, path, opset_version: int = 17, input_names=None, output_names=None,
           dynamic_axes=None, verbose: bool = False):
    """Write ``model`` (run on ``example_inputs``) to ``path`` as ONNX; returns the ModelProto.

    ``dynamic_axes``: torch.onnx's ``{name: {axis: "symbol"}}`` or ``{name: [axis, ...]}``; default: axis 0
    of the input and the output is "batch".  A module with no export raises UnsupportedExport (a
    ValueError) naming its type and path, e.g. ``model.layer1.0.conv1``."""
    onnx = _require_onnx()
    if opset_version < 13:
        raise ValueError(f"ONNX export: opset_version={opset_version}; the emitters need opset >= 13 (LayerNorm, in "
                         "the Transformers and ViT, >= 17)")
    graph, _ = build_graph(model, example_inputs, input_names, output_names, dynamic_axes,
                           graph_name=type(model).__name__, opset_version=int(opset_version))
    proto = onnx.helper.make_model(graph, producer_name="nabla",
                                   opset_imports=[onnx.helper.make_opsetid("", int(opset_version))])
    proto.ir_version = min(proto.ir_version, 8)  # onnxruntime >= 1.17 reads IR 8 (opset 17's IR)
    onnx.checker.check_model(proto, full_check=True)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    onnx.save(proto, os.fspath(path))
    return proto
