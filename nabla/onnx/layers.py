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
    inputs = [x.name, g.weight(module.weight, key(path, "weight"))]
    if module.bias is not None:
        inputs.append(g.weight(module.bias, key(path, "bias")))
    return _out(g, module, x, "Gemm", inputs, path, transB=1)


@onnx_emitter(nn.Conv2d)
def _conv2d(g, module, x, path):
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        raise unsupported(module, path, f"padding={module.padding!r}, padding_mode={module.padding_mode!r}; "
                                        "export supports numeric zero padding")
    ph, pw = _pair(module.padding)
    inputs = [x.name, g.weight(module.weight, key(path, "weight"))]
    if module.bias is not None:
        inputs.append(g.weight(module.bias, key(path, "bias")))
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
