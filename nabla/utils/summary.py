"""summary(model, input_shape): a table of every layer's output shape, parameter count and
multiply-accumulates (MACs) for one forward pass, with totals (like torchinfo / Keras' model.summary()).

The model runs once on zeros of shape (batch_size, *input_shape) in eval mode under no_grad, with a forward
hook on every submodule recording what it returned.  MACs count the products of the layers that do
them: convolutions (output elements x C_in/groups x kh x kw), transposed convolutions (input elements x
C_out/groups x kh x kw), linear layers (output elements x in_features); other layers count 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class LayerRow:
    name: str           # dotted name in the model
    kind: str           # class name
    depth: int
    output_shape: tuple
    params: int         # parameters held directly by this module
    trainable: int
    macs: int


@dataclass
class ModelSummary:
    rows: list = field(default_factory=list)
    input_shape: tuple = ()
    total_params: int = 0
    trainable_params: int = 0
    total_macs: int = 0
    output_shape: tuple = ()

    def __str__(self) -> str:
        head = ("Layer (type)", "Output shape", "Param #", "MACs")
        lines = [(("  " * r.depth) + f"{r.name} ({r.kind})", str(list(r.output_shape)), f"{r.params:,}",
                  f"{r.macs:,}") for r in self.rows]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(head)]
        fmt = lambda cols: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))  # noqa: E731
        rule = "=" * len(fmt(head))
        out = [rule, fmt(head), rule] + [fmt(line) for line in lines] + [rule]
        out += [f"Input shape: {list(self.input_shape)}", f"Output shape: {list(self.output_shape)}",
                f"Total params: {self.total_params:,}", f"Trainable params: {self.trainable_params:,}",
                f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                f"Total MACs: {self.total_macs:,} ({self.total_macs / 1e6:.2f} M)", rule]
        return "\n".join(out)

    __repr__ = __str__


def _shape_of(out):
    from ..autograd.tensor import Tensor
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        shapes = [_shape_of(o) for o in out if isinstance(o, Tensor)]
        return shapes[0] if len(shapes) == 1 else tuple(shapes)
    return ()


def _first_tensor(out):
    from ..autograd.tensor import Tensor
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            t = _first_tensor(o)
            if t is not None:
                return t
    return None


def _macs(module, inputs, output) -> int:
    from ..nn.conv import _ConvNd
    from ..nn.linear import Linear
    out = _first_tensor(output)
    if out is None:
        return 0
    if isinstance(module, _ConvNd):
        k = math.prod(module.kernel_size)
        if module._transposed:
            x = _first_tensor(inputs)
            return int(x.numel()) * (module.out_channels // module.groups) * k if x is not None else 0
        return int(out.numel()) * (module.in_channels // module.groups) * k
    if isinstance(module, Linear):
        return int(out.numel()) * module.in_features
    return 0


def summary(model, input_shape, batch_size: int = 1, dtype=None, print_fn=print, depth: int | None = None):
    """Run ``model`` once on zeros of shape (batch_size, *input_shape); print and return a ModelSummary.

    input_shape excludes the batch axis (as torchsummary's input_size); ``depth`` limits how deep the
    table lists nested modules (totals always count everything).  print_fn=None prints nothing."""
    from ..autograd.grad_mode import no_grad
    from ..creation import zeros

    input_shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    records, handles = {}, []
    names = {}
    for name, mod in model.named_modules():
        if mod is model:
            continue
        names[id(mod)] = name

        def hook(m, inputs, output, _name=name):
            if _name not in records:  # a module called twice keeps its first call
                records[_name] = (_shape_of(output), _macs(m, inputs, output))
        handles.append(mod.register_forward_hook(hook))
    was_training = model.training
    x = zeros((batch_size,) + input_shape, dtype=dtype)
    try:
        model.eval()
        with no_grad():
            out = model(x)
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    result = ModelSummary(input_shape=(batch_size,) + input_shape, output_shape=_shape_of(out))
    for name, mod in model.named_modules():
        if mod is model or name not in records:
            continue
        d = name.count(".")
        own = list(mod.parameters(recurse=False))
        params = sum(int(p.numel()) for p in own)
        trainable = sum(int(p.numel()) for p in own if p.requires_grad)
        shape, macs = records[name]
        if depth is None or d < depth:
            result.rows.append(LayerRow(name, type(mod).__name__, d, shape, params, trainable, macs))
        result.total_macs += macs
    seen = set()
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            result.total_params += int(p.numel())
            result.trainable_params += int(p.numel()) if p.requires_grad else 0
    if print_fn is not None:
        print_fn(str(result))
    return result


__all__ = ["summary", "ModelSummary", "LayerRow"]
