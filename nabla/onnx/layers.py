"""ONNX emitters for nabla.nn's layers (opset 17): one small function per layer type.

    Linear -> Gemm(transB=1)                Conv2d -> Conv            BatchNorm1d/2d (eval) -> BatchNormalization
    ReLU/Sigmoid/Tanh/LeakyReLU/ELU/Softmax/LogSoftmax -> the ONNX op of the same name
    GELU -> 0.5 x (1 + erf(x / sqrt 2))  (tanh form for approximate="tanh"; ONNX's Gelu is opset 20)
    MaxPool2d/AvgPool2d -> MaxPool/AveragePool      AdaptiveAvgPool2d -> GlobalAveragePool (1x1 output),
    AveragePool (sizes that divide) or window-mean MatMuls      Flatten -> Flatten / Reshape
    Dropout (eval) and Identity -> Identity     LocalResponseNorm -> LRN     Sequential -> its children
Each output's nabla value is the layer's own forward on the example, so shapes are nabla's.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from .graph import Value, onnx_emitter, unsupported


def key(path: str, name: str) -> str:
    """The state_dict key of a module's parameter: the path without the leading ``model.``."""
    rest = path.split(".", 1)[1] if "." in path else ""
    return f"{rest}.{name}" if rest else name


def with_weights(g, module, x: str, path: str) -> list:
    """The inputs of a Gemm/Conv-like node: ``x``, the module's weight and (if it has one) its bias, each an
    initializer named by its state_dict key."""
    inputs = [x, g.weight(module.weight, key(path, "weight"))]
    if module.bias is not None:
        inputs.append(g.weight(module.bias, key(path, "bias")))
    return inputs


def _pair(v) -> list:
    return [int(v), int(v)] if isinstance(v, (int, np.integer)) else [int(x) for x in v]


def _out(g, module, x: Value, op: str, inputs, path: str, **attrs) -> Value:
    return Value(g.node(op, inputs, path, **attrs), module(x.tensor))


@onnx_emitter(nn.Sequential)
def _sequential(g, module, x, path):
    for name, child in module.named_children():
        x = g.emit(child, x, path=f"{path}.{name}")
    return x


@onnx_emitter(nn.Identity)
def _identity(g, module, x, path):
    return _out(g, module, x, "Identity", [x.name], path)


@onnx_emitter(nn.Dropout)
def _dropout(g, module, x, path):
    if module.training:
        raise unsupported(module, path, "export needs eval mode (dropout is the identity there)")
    return _out(g, module, x, "Identity", [x.name], path)


@onnx_emitter(nn.Linear)
def _linear(g, module, x, path):
    if len(x.shape) != 2:
        raise unsupported(module, path, f"input of rank {len(x.shape)}; export supports (N, in_features)")
    inputs = with_weights(g, module, x.name, path)
    return _out(g, module, x, "Gemm", inputs, path, transB=1)


@onnx_emitter(nn.Conv2d)
def _conv2d(g, module, x, path):
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise unsupported(module, path, f"padding={module.padding!r}, padding_mode={module.padding_mode!r}; "
                                        "export supports numeric zero padding")
    ph, pw = _pair(module.padding)
    inputs = with_weights(g, module, x.name, path)
    return _out(g, module, x, "Conv", inputs, path, kernel_shape=_pair(module.kernel_size),
                strides=_pair(module.stride), dilations=_pair(module.dilation), group=int(module.groups),
                pads=[ph, pw, ph, pw])


@onnx_emitter(nn.BatchNorm1d, nn.BatchNorm2d)
def _batch_norm(g, module, x, path):
    if module.training or getattr(module, "running_mean", None) is None:
        raise unsupported(module, path, "export needs eval mode with running statistics (track_running_stats)")
    c = module.num_features
    scale = module.weight if module.affine else np.ones(c, np.float32)
    bias = module.bias if module.affine else np.zeros(c, np.float32)
    inputs = [x.name, g.weight(scale, key(path, "weight")), g.weight(bias, key(path, "bias")),
              g.weight(module.running_mean, key(path, "running_mean")),
              g.weight(module.running_var, key(path, "running_var"))]
    return _out(g, module, x, "BatchNormalization", inputs, path, epsilon=float(module.eps))


_SIMPLE = {nn.ReLU: "Relu", nn.Sigmoid: "Sigmoid", nn.Tanh: "Tanh"}


@onnx_emitter(*_SIMPLE)
def _simple(g, module, x, path):
    return _out(g, module, x, _SIMPLE[type(module)], [x.name], path)


@onnx_emitter(nn.LeakyReLU)
def _leaky_relu(g, module, x, path):
    return _out(g, module, x, "LeakyRelu", [x.name], path, alpha=float(module.negative_slope))


@onnx_emitter(nn.ELU)
def _elu(g, module, x, path):
    return _out(g, module, x, "Elu", [x.name], path, alpha=float(module.alpha))


@onnx_emitter(nn.Softmax, nn.LogSoftmax)
def _softmax(g, module, x, path):
    if module.dim is None:
        raise unsupported(module, path, "dim=None; give the dimension explicitly")
    op = "Softmax" if isinstance(module, nn.Softmax) else "LogSoftmax"
    return _out(g, module, x, op, [x.name], path, axis=int(module.dim))


@onnx_emitter(nn.GELU)
def _gelu(g, module, x, path):
    """0.5 x (1 + erf(x / sqrt 2)); approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    c = lambda v, h: g.constant(np.float32(v), f"{path}.{h}")  # noqa: E731
    if module.approximate == "tanh":
        cube = g.node("Pow", [x.name, c(3.0, "three")], f"{path}.cube")
        inner = g.node("Add", [x.name, g.node("Mul", [cube, c(0.044715, "k")], f"{path}.kx3")], f"{path}.inner")
        t = g.node("Tanh", [g.node("Mul", [inner, c(math.sqrt(2 / math.pi), "s")], f"{path}.scaled")], f"{path}.t")
    else:
        t = g.node("Erf", [g.node("Div", [x.name, c(math.sqrt(2.0), "sqrt2")], f"{path}.z")], f"{path}.t")
    half_x = g.node("Mul", [x.name, c(0.5, "half")], f"{path}.half_x")
    return _out(g, module, x, "Mul", [half_x, g.node("Add", [t, c(1.0, "one")], f"{path}.one_plus")], path)


@onnx_emitter(nn.MaxPool2d)
def _max_pool(g, module, x, path):
    if module.return_indices:
        raise unsupported(module, path, "return_indices=True")
    ph, pw = _pair(module.padding)
    return _out(g, module, x, "MaxPool", [x.name], path, kernel_shape=_pair(module.kernel_size),
                strides=_pair(module.stride), pads=[ph, pw, ph, pw], dilations=_pair(module.dilation),
                ceil_mode=int(bool(module.ceil_mode)))


@onnx_emitter(nn.AvgPool2d)
def _avg_pool(g, module, x, path):
    if module.divisor_override is not None:
        raise unsupported(module, path, f"divisor_override={module.divisor_override}")
    ph, pw = _pair(module.padding)
    return _out(g, module, x, "AveragePool", [x.name], path, kernel_shape=_pair(module.kernel_size),
                strides=_pair(module.stride), pads=[ph, pw, ph, pw], ceil_mode=int(bool(module.ceil_mode)),
                count_include_pad=int(bool(module.count_include_pad)))


@onnx_emitter(nn.AdaptiveAvgPool2d)
def _adaptive_avg_pool(g, module, x, path):
    """Output 1x1: GlobalAveragePool; sizes that divide: AveragePool with kernel = stride = in / out; else
    two MatMuls with constant window-averaging matrices (spatial sizes are fixed at export; batch is dynamic)."""
    if type(module) is not nn.AdaptiveAvgPool2d:
        raise unsupported(module, path, "only the 2-d adaptive average pool exports")
    h, w = x.shape[-2:]
    out = module.output_size
    oh, ow = (out, out) if isinstance(out, int) else out
    oh, ow = oh or h, ow or w
    if (oh, ow) == (1, 1):
        return _out(g, module, x, "GlobalAveragePool", [x.name], path)
    if h % oh == 0 and w % ow == 0:
        k = [h // oh, w // ow]
        return _out(g, module, x, "AveragePool", [x.name], path, kernel_shape=k, strides=k)
    # other sizes: the pool is linear, y = A_h x A_w^T with A[i, k] = 1/|window i| on window i
    rows = g.constant(_window_means(oh, h), f"{path}.rows")
    cols = g.constant(_window_means(ow, w).T.copy(), f"{path}.cols")
    return _out(g, module, x, "MatMul", [rows, g.node("MatMul", [x.name, cols], f"{path}.pool_w")], path)


def _window_means(n_out: int, n_in: int):
    """(n_out, n_in): row i averages adaptive window i = [floor(i n_in / n_out), ceil((i + 1) n_in / n_out))."""
    i = np.arange(n_out)
    start, end = (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)
    k = np.arange(n_in)
    inside = (k >= start[:, None]) & (k < end[:, None])
    return (inside / (end - start)[:, None]).astype(np.float32)


@onnx_emitter(nn.Flatten)
def _flatten(g, module, x, path):
    """Flatten(start_dim=1, end_dim=-1) is ONNX's Flatten(axis=1); other ranges keep the batch axis dynamic
    by a Reshape whose leading zeros copy the input's dims (ONNX Reshape: 0 = copy)."""
    rank = len(x.shape)
    start, end = module.start_dim % rank, module.end_dim % rank
    if start == 0:
        raise unsupported(module, path, "start_dim=0 flattens the batch axis away")
    if start == 1 and end == rank - 1:
        return _out(g, module, x, "Flatten", [x.name], path, axis=1)
    shape = [0] * start + [-1] + list(x.shape[end + 1:])
    return _out(g, module, x, "Reshape", [x.name, g.constant(np.array(shape, np.int64), f"{path}.shape")], path)


@onnx_emitter(nn.LocalResponseNorm)
def _lrn(g, module, x, path):
    return _out(g, module, x, "LRN", [x.name], path, size=int(module.size), alpha=float(module.alpha),
                beta=float(module.beta), bias=float(module.k))


# ------------------------------------------------------------------------------------------------------------
# Resampling and reshaping layers of the dense-prediction and generative models:
#   ConvTranspose2d -> ConvTranspose     Upsample (nearest / nearest-exact / bilinear) -> Resize
#   max_pool2d(return_indices) + max_unpool2d -> MaxPool (two outputs) + MaxUnpool (helpers for model emitters)
#   Unflatten -> Reshape     MaskedConv2d -> Conv (mask folded into the weight)

@onnx_emitter(nn.ConvTranspose2d)
def _conv_transpose2d(g, module, x, path):
    """Weight (C_in, C_out / groups, kh, kw), ONNX's layout too; output_padding as the module's own (the
    forward(output_size=) form is called by models' emitters, not here)."""
    ph, pw = _pair(module.padding)
    inputs = with_weights(g, module, x.name, path)
    return _out(g, module, x, "ConvTranspose", inputs, path, kernel_shape=_pair(module.kernel_size),
                strides=_pair(module.stride), dilations=_pair(module.dilation), group=int(module.groups),
                pads=[ph, pw, ph, pw], output_padding=_pair(module.output_padding))


def resize_attributes(module, path, mode: str, align_corners) -> dict:
    """ONNX Resize attributes reproducing nabla's (PyTorch's) source coordinates for ``mode``:
    nearest: floor(dst / scale) -> asymmetric + floor;  nearest-exact: floor((dst + 0.5) / scale) ->
    half_pixel + round_prefer_ceil;  bilinear: align_corners -> align_corners, else
    max((dst + 0.5) / scale - 0.5, 0) -> half_pixel (Resize clamps to the border as nabla does; ONNX's
    pytorch_half_pixel would read position 0 for an output of length 1, where nabla and PyTorch read the middle)."""
    if mode == "nearest":
        return {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
    if mode == "nearest-exact":
        return {"mode": "nearest", "coordinate_transformation_mode": "half_pixel",
                "nearest_mode": "round_prefer_ceil"}
    if mode == "bilinear":
        return {"mode": "linear", "coordinate_transformation_mode":
                "align_corners" if align_corners else "half_pixel"}
    raise unsupported(module, path, f"mode={mode!r}; export supports nearest, nearest-exact, bilinear")


def resize(g, module, x: Value, path: str, size, scale_factor, mode: str, align_corners, out) -> Value:
    """``interpolate(x, size, scale_factor, ...)`` as ONNX Resize, batch axis dynamic: a scale factor goes in
    ``scales`` (output floor(in * factor), source dst / factor, as nabla); a size goes in ``sizes``, built from
    the input's own (N, C) and the static (H, W)."""
    if len(x.shape) != 4:
        raise unsupported(module, path, f"input of rank {len(x.shape)}; export supports (N, C, H, W)")
    attrs = resize_attributes(module, path, mode, align_corners)
    if scale_factor is not None:
        f = [float(scale_factor)] * 2 if isinstance(scale_factor, (int, float)) else [float(s) for s in scale_factor]
        scales = g.constant(np.array([1.0, 1.0] + f, np.float32), f"{path}.scales")
        return Value(g.node("Resize", [x.name, "", scales], path, **attrs), out)
    nc = g.node("Slice", [g.node("Shape", [x.name], f"{path}.shape"),
                          g.constant(np.array([0], np.int64), f"{path}.zero"),
                          g.constant(np.array([2], np.int64), f"{path}.two")], f"{path}.nc")
    sizes = g.node("Concat", [nc, g.constant(np.array(out.shape[2:], np.int64), f"{path}.hw")], f"{path}.sizes",
                   axis=0)
    return Value(g.node("Resize", [x.name, "", "", sizes], path, **attrs), out)


@onnx_emitter(nn.Upsample)
def _upsample(g, module, x, path):
    if module.scale_factor is not None and module.recompute_scale_factor:
        size, factor = module(x.tensor).shape[2:], None  # recomputed: the source scale is in / out, as for a size
    else:
        size, factor = module.size, module.scale_factor
    return resize(g, module, x, path, size, factor, module.mode, module.align_corners, module(x.tensor))


def max_unpool(g, x: Value, indices: str, before: Value, path: str, kernel_size, stride, padding, out) -> Value:
    """``max_unpool2d(x, indices, output_size=before's size)`` where ``indices`` is the second output of the ONNX
    MaxPool that pooled ``before``: ONNX's indices are flat over the whole (N, C, H, W) tensor (nabla's, as
    PyTorch's, over each H x W plane), and ONNX MaxUnpool reads them in the same convention, so the pair needs no
    conversion; the output shape is ``before``'s own (Shape), so odd sizes and the batch axis stay exact."""
    shape = g.node("Shape", [before.name], f"{path}.output_shape")
    return Value(g.node("MaxUnpool", [x.name, indices, shape], path, kernel_shape=_pair(kernel_size),
                        strides=_pair(stride), pads=_pair(padding) * 2), out)


def max_pool_with_indices(g, x: Value, path: str, kernel_size, stride, padding=0, dilation=1, ceil_mode=False):
    """ONNX MaxPool with its two outputs: (pooled Value, the name of the flat indices tensor); nabla's
    ``max_pool2d(..., return_indices=True)`` gives the Value's tensor (its indices stay in nabla)."""
    from ..nn import functional as F
    pooled, _ = F.max_pool2d(x.tensor, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
    ph, pw = _pair(padding)
    out, idx = g.node_outputs("MaxPool", [x.name], [path, f"{path}.indices"], path, kernel_shape=_pair(kernel_size),
                              strides=_pair(stride), pads=[ph, pw, ph, pw], dilations=_pair(dilation),
                              ceil_mode=int(bool(ceil_mode)))
    return Value(out, pooled), idx


@onnx_emitter(nn.Unflatten)
def _unflatten(g, module, x, path):
    """Reshape to (0, ..., 0, *unflattened_size, *rest): ONNX's 0 copies the leading dims (the batch axis stays
    dynamic), the rest are the example's static sizes."""
    rank = len(x.shape)
    dim = module.dim % rank
    if dim == 0:
        raise unsupported(module, path, "dim=0 splits the batch axis")
    shape = [0] * dim + list(module.unflattened_size) + list(x.shape[dim + 1:])
    return _out(g, module, x, "Reshape", [x.name, g.constant(np.array(shape, np.int64), f"{path}.shape")], path)


@onnx_emitter(nn.MaskedConv2d)
def _masked_conv2d(g, module, x, path):
    """A Conv whose stored weight is weight * mask (the mask is fixed, so folding it is exact)."""
    ph, pw = _pair(module.padding)
    weight = np.asarray(module.weight.data * module.mask.data, np.float32)
    inputs = [x.name, g.constant(weight, key(path, "weight"))]
    if module.bias is not None:
        inputs.append(g.weight(module.bias, key(path, "bias")))
    return _out(g, module, x, "Conv", inputs, path, kernel_shape=_pair(module.kernel_size),
                strides=_pair(module.stride), dilations=_pair(module.dilation), group=int(module.groups),
                pads=[ph, pw, ph, pw])


# ------------------------------------------------------------------------------------------------------------
# Layers of the sequence models (recurrent, Transformer, text):
#   Embedding -> Gather(weight, ids)     LayerNorm -> LayerNormalization (opset 17)     Conv1d -> Conv
# (nn.RNN/LSTM/GRU are in nabla/onnx/recurrent.py; MultiheadAttention and the Transformer layers in
# nabla/onnx/transformer.py: they need masks and several outputs, more than one small function each.)

def embedding(g, module, ids: str, path: str) -> str:
    """Rows ``ids`` (int64, any shape) of the table.  padding_idx only stops gradients (its row is whatever
    the weights hold); max_norm renormalises rows in place, which ONNX cannot: refused."""
    if module.max_norm is not None:
        raise unsupported(module, path, f"max_norm={module.max_norm} (rows renormalised in place)")
    return g.node("Gather", [g.weight(module.weight, key(path, "weight")), ids], path, axis=0)


@onnx_emitter(nn.Embedding)
def _embedding(g, module, x, path):
    return Value(embedding(g, module, x.name, path), module(x.tensor))


def layer_norm(g, module, x: str, path: str) -> str:
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) axes (the ONNX
    name of y; model emitters call it inside a block).  ONNX has LayerNormalization from opset 17 on."""
    if g.opset < 17:
        raise unsupported(module, path, f"LayerNormalization needs opset >= 17, got opset_version={g.opset}")
    k = len(module.normalized_shape)
    scale = module.weight if module.weight is not None else np.ones(module.normalized_shape, np.float32)
    inputs = [x, g.weight(scale, key(path, "weight"))]
    if module.bias is not None:
        inputs.append(g.weight(module.bias, key(path, "bias")))
    return g.node("LayerNormalization", inputs, path, axis=-k, epsilon=float(module.eps))


@onnx_emitter(nn.LayerNorm)
def _layer_norm(g, module, x, path):
    return Value(layer_norm(g, module, x.name, path), module(x.tensor))


def conv1d(g, module, x: str, path: str) -> str:
    """Conv1d over (N, C, L) as ONNX Conv with a 1-d kernel (numeric zero padding only)."""
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise unsupported(module, path, f"padding={module.padding!r}, padding_mode={module.padding_mode!r}; "
                                        "export supports numeric zero padding")
    (p,) = module.padding
    inputs = with_weights(g, module, x, path)
    return g.node("Conv", inputs, path, kernel_shape=list(module.kernel_size), strides=list(module.stride),
                  dilations=list(module.dilation), group=int(module.groups), pads=[p, p])


@onnx_emitter(nn.Conv1d)
def _conv1d(g, module, x, path):
    return Value(conv1d(g, module, x.name, path), module(x.tensor))
