"""The ONNX graph under construction, and the emitter registry that fills it module by module.

Why module emitters and not a trace of ``Function.apply``: a trace sees what forward computed on the
example batch, so shapes (a reshape to ``(2, 784)``, a slice's bounds) arrive as constants of that batch
and a dynamic batch axis would be silently wrong for any other batch size.  A module knows its own
semantics (``Flatten(1)``, ``Conv2d(stride=2)``), so its ONNX node is right for every batch.  The price:
a module whose ``forward`` is Python beyond a Sequential (a residual block's add, an Inception
module's concatenation, a model's own forward) needs a small emitter of its own, registered next to
the others with ``@onnx_emitter(Class)``; a module with none is refused by name and path.

Each emitter gets the builder, the module, its input ``Value``s and the module's path, and returns the
output ``Value``.  A ``Value`` pairs an ONNX tensor name with nabla's Tensor for the same example, so
an emitter can read shapes (adaptive pooling, static spatial sizes) and its output is nabla's own.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EMITTERS: dict = {}


class UnsupportedExport(ValueError):
    """A module or option with no ONNX export: the message names it and the module's path."""


def onnx_emitter(*classes):
    """Register ``fn(builder, module, *values, path=...) -> Value`` as the ONNX export of ``classes``."""
    def register(fn):
        for cls in classes:
            _EMITTERS[cls] = fn
        return fn
    return register


def find_emitter(module):
    """The emitter of ``type(module)``, or of its nearest registered base class when the subclass keeps that
    class's ``forward`` (a subclass with its own forward computes something else: None, refused)."""
    for cls in type(module).__mro__:
        if cls in _EMITTERS:
            return _EMITTERS[cls] if type(module).forward is cls.forward else None
    return None


@dataclass
class Value:
    """One tensor of the graph: its ONNX name and nabla's value for the example input."""
    name: str
    tensor: object

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.shape)


class GraphBuilder:
    """Collects nodes and initializers (weights named by their state_dict keys, as torch.onnx does)."""

    def __init__(self, opset: int = 17):
        from onnx import helper
        self._helper = helper
        self.opset = int(opset)  # the opset the graph is for: an emitter of a newer op refuses below it
        self.nodes, self.initializers = [], []
        self._names: set = set()
        self._weights: dict = {}  # id(array-holder) -> initializer name: a weight shared by two layers is stored once

    def fresh(self, hint: str) -> str:
        """A tensor name not used yet, readable from the module path that made it."""
        base = hint.replace("/", ".") or "t"
        name, i = base, 1
        while name in self._names:
            name, i = f"{base}_{i}", i + 1
        self._names.add(name)
        return name

    def node(self, op: str, inputs, hint: str, **attrs) -> str:
        """Append one ONNX node with one output; returns the output name."""
        out = self.fresh(hint)
        self.nodes.append(self._helper.make_node(op, list(inputs), [out], name=self.fresh(f"{op}:{hint}"),
                                                 **attrs))
        return out

    def node_outputs(self, op: str, inputs, hints, name_hint: str, **attrs) -> list:
        """Append one ONNX node with an output per hint (MaxPool with its indices, LSTM's Y, Y_h, Y_c, Scan);
        returns the output names."""
        outs = [self.fresh(h) for h in hints]
        self.nodes.append(self._helper.make_node(op, list(inputs), outs, name=self.fresh(f"{op}:{name_hint}"),
                                                 **attrs))
        return outs

    def constant(self, array, hint: str) -> str:
        """An initializer holding ``array`` (weights are float32; int64 for shapes, pads, axes)."""
        from onnx import numpy_helper
        array = np.asarray(array)
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def weight(self, tensor, path: str) -> str:
        """The initializer of a parameter or buffer, named by its state_dict key, stored once."""
        key = id(tensor)
        if key not in self._weights:
            array = np.ascontiguousarray(np.asarray(getattr(tensor, "data", tensor), dtype=np.float32))
            self._weights[key] = self.constant(array, path)
        return self._weights[key]

    def emit(self, module, *values: Value, path: str) -> Value:
        """``module`` applied to ``values`` as ONNX nodes; an UnsupportedExport if no emitter knows it."""
        fn = find_emitter(module)
        if fn is None:
            raise UnsupportedExport(f"ONNX export: no exporter for module {type(module).__name__} at {path} "
                                    f"(register one with nabla.onnx.onnx_emitter({type(module).__name__}))")
        return fn(self, module, *values, path=path)


def unsupported(module, path: str, what: str):
    """The one-line error for an option of a known module that ONNX export does not cover."""
    return UnsupportedExport(f"ONNX export: {type(module).__name__} at {path}: {what}")
