"""A model's autograd graph as a TensorBoard ``GraphDef`` (``SummaryWriter.add_graph``; the GRAPHS tab).

The model runs forward once on ``input_to_model`` in eval mode (as PyTorch's ``add_graph`` traces it; its mode
is restored after) with gradients recorded, and the graph that computed its output(s) is walked back from them,
as ``nabla.autograd.graph.to_dot`` walks it, into one ``NodeDef`` per

* input (``input/input_K``, op ``IO Node``) and output (``output/output_K``, ``IO Node``, fed by its op);
* parameter, named by its module path with ``/`` for ``.`` (``layer1/0/conv1/weight``, op ``Parameter``), and
  other leaf tensor (a constant: ``SCOPE/Constant_K`` in the scope of the op that first takes it, op
  ``Constant``);
* recorded op (one nabla ``Function``), named ``SCOPE/OpName_K`` with op ``OpName`` (``Conv2d``, ``MatMul``...):
  SCOPE is the innermost module whose forward created it (``layer1/0/conv1``), so TensorBoard folds the graph by
  module as it does PyTorch's traces.  Which module created an op is found with forward hooks: after a
  module's forward, the ops between its inputs and its output that no inner module has claimed are its own.

Each node's inputs name the nodes that produced them, and ``_output_shapes`` holds the shape of the tensor it
produces (TensorBoard labels the edges with it).  The protobufs are tensorboardX's (``nabla[tensorboard]``).
"""
from __future__ import annotations

from ..autograd import enable_grad
from ..autograd.tensor import Tensor


def _tensors(obj) -> list:
    """The Tensors of a (nested) tuple, list or dict of outputs, in order."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return []


def _claim_hook(path: str, scopes: dict, keep: list):
    """A forward hook giving the ops between the module's inputs and its output, unclaimed yet, to ``path``."""
    def hook(module, inputs, output):
        stop, seen = {id(t) for t in _tensors(inputs)}, set()
        stack = _tensors(output)
        while stack:
            t = stack.pop()
            fn = t._fn
            if id(t) in stop or fn is None or id(fn) in seen:
                continue
            seen.add(id(fn))
            scopes.setdefault(id(fn), path)
            keep.append(fn)  # ids stay unique while the graph is built
            if not fn.freed:
                stack.extend(fn.inputs)
    return hook


def _traced(model, inputs) -> tuple:
    """``(outputs, {id(Function): module path})`` of one forward pass with the graph recorded."""
    scopes, keep = {}, []
    handles = [m.register_forward_hook(_claim_hook(name.replace(".", "/"), scopes, keep))
               for name, m in model.named_modules() if name]
    was_training = model.training
    model.eval()   # as PyTorch traces: BatchNorm's running statistics untouched, no dropout
    try:
        with enable_grad():
            outputs = model(*inputs)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return _tensors(outputs), scopes


def _shape_attr(pb, t):
    shape = pb["tensor_shape"].TensorShapeProto(dim=[pb["tensor_shape"].TensorShapeProto.Dim(size=int(s))
                                                     for s in t.shape])
    return {"_output_shapes": pb["attr"].AttrValue(list=pb["attr"].AttrValue.ListValue(shape=[shape])),
            "dtype_name": pb["attr"].AttrValue(s=str(t.dtype).encode())}


class _GraphBuilder:
    """The NodeDefs of one graph: a node per input, leaf, op and output (see the module docstring)."""

    def __init__(self, pb, params: dict, inputs: list, scopes: dict):
        self.pb, self.scopes, self.nodes = pb, scopes, []
        self.names = {id(t): "input/input_%d" % k for k, t in enumerate(inputs)}   # id(tensor or fn) -> node
        self.counts: dict = {}
        for k, t in enumerate(inputs):
            self._add(self.names[id(t)], "IO Node", [], t)
        self.params = {id(p): name.replace(".", "/") for name, p in params.items()}

    def _add(self, name, op, inputs, t):
        self.nodes.append(self.pb["node_def"].NodeDef(name=name, op=op, input=inputs, attr=_shape_attr(self.pb, t)))

    def _unique(self, base: str) -> str:
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return f"{base}_{k}"

    def node_of(self, t: Tensor) -> str:
        """The name of the node producing ``t``, its producers added first (an explicit stack: deep graphs)."""
        stack = [(t, False, "")]
        while stack:
            u, ready, consumer = stack.pop()
            key = id(u) if u._fn is None else id(u._fn)
            if key in self.names:
                continue
            if u._fn is None:  # a constant goes in the scope of the op that first takes it
                self.names[key] = self.params.get(id(u)) or self._unique(f"{consumer}/Constant" if consumer
                                                                         else "Constant")
                self._add(self.names[key], "Parameter" if id(u) in self.params else "Constant", [], u)
                continue
            fn = u._fn
            parents = [] if fn.freed else list(fn.inputs)
            scope = self.scopes.get(id(fn), "")
            if not ready:
                stack.append((u, True, consumer))
                stack.extend((p, False, scope) for p in reversed(parents))
                continue
            self.names[key] = self._unique(f"{scope}/{fn.name}" if scope else fn.name)
            self._add(self.names[key], fn.name, [self.names[id(p) if p._fn is None else id(p._fn)] for p in parents],
                      u)
        return self.names[id(t) if t._fn is None else id(t._fn)]


def graph_def(model, input_to_model):
    """The ``GraphDef`` of ``model`` run on ``input_to_model`` (a Tensor, array, or tuple of them)."""
    from tensorboardX.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2, versions_pb2
    pb = {"attr": attr_value_pb2, "node_def": node_def_pb2, "tensor_shape": tensor_shape_pb2}
    raw = input_to_model if isinstance(input_to_model, (tuple, list)) else (input_to_model,)
    arrays = [x.data if isinstance(x, Tensor) else x for x in raw]
    # float inputs require gradients, so that the graph is recorded even for a model with frozen parameters
    inputs = [Tensor(a, requires_grad=getattr(a, "dtype", None) is not None and a.dtype.kind == "f") for a in arrays]
    outputs, scopes = _traced(model, inputs)
    if not outputs:
        raise ValueError(f"add_graph: {type(model).__name__}'s forward returned no Tensor")
    builder = _GraphBuilder(pb, dict(model.named_parameters()), inputs, scopes)
    for k, out in enumerate(outputs):
        builder._add(f"output/output_{k}", "IO Node", [builder.node_of(out)], out)
    return graph_pb2.GraphDef(node=builder.nodes, versions=versions_pb2.VersionDef(producer=22))
