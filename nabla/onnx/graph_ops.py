"""Small ONNX building blocks with dynamic sizes, shared by the sequence models' emitters.

A sequence model's graph must stay right for every batch size and sequence length, so nothing here bakes a
size of the example into the graph: sizes are read at run time (``Shape`` -> ``Gather``), ranges and masks are
built from them (``Range``, ``GreaterOrEqual``), reshapes copy dimensions with ONNX's 0.  Each helper returns
the ONNX name of its result (no nabla value: the model-level emitters pair their outputs with nabla's own).
"""
from __future__ import annotations

import numpy as np

from .layers import key


def ints(g, values, hint: str) -> str:
    """An int64 constant (shapes, axes, indices)."""
    return g.constant(np.array(values, np.int64), hint)


def floats(g, value, hint: str) -> str:
    """A float32 constant (a scalar broadcasts)."""
    return g.constant(np.array(value, np.float32), hint)


def size(g, x: str, axis: int, hint: str, scalar: bool = False) -> str:
    """The run-time size of axis ``axis`` of ``x``: a 1-element int64 tensor (for Concat into shapes), or a
    0-d one with ``scalar`` (for Range)."""
    index = ints(g, axis if scalar else [axis], f"{hint}.axis")
    return g.node("Gather", [g.node("Shape", [x], f"{hint}.shape"), index], hint, axis=0)


def transpose(g, x: str, perm, hint: str) -> str:
    return g.node("Transpose", [x], hint, perm=[int(p) for p in perm])


def reshape(g, x: str, shape, hint: str) -> str:
    """Reshape with a constant target (0 copies the input's dimension, -1 is inferred)."""
    return g.node("Reshape", [x, ints(g, shape, f"{hint}.target")], hint)


def take(g, x: str, index: int, axis: int, hint: str) -> str:
    """``x[..., index, ...]`` on ``axis`` (that axis removed); negative indices count from the end."""
    return g.node("Gather", [x, ints(g, index, f"{hint}.index")], hint, axis=axis)


def linear(g, module, x: str, path: str) -> str:
    """``nn.Linear`` on an input of any rank >= 2: MatMul with the transposed weight (+ bias).  The weight stays
    one initializer named by its state_dict key (shared weights stay shared); the Transpose is folded by
    onnxruntime."""
    w = g.node("Transpose", [g.weight(module.weight, key(path, "weight"))], f"{path}.weight_t", perm=[1, 0])
    y = g.node("MatMul", [x, w], f"{path}.matmul" if module.bias is not None else path)
    if module.bias is None:
        return y
    return g.node("Add", [y, g.weight(module.bias, key(path, "bias"))], path)


def lengths_from_tokens(g, tokens: str, pad: int, hint: str) -> str:
    """(B,) int64: the number of tokens that are not ``pad`` in each row of (B, T) ids."""
    keep = g.node("Cast", [g.node("Not", [g.node("Equal", [tokens, ints(g, pad, f"{hint}.pad")], f"{hint}.is_pad")],
                                  f"{hint}.keep")], f"{hint}.keep_i", to=7)  # 7: INT64
    return g.node("ReduceSum", [keep, ints(g, [1], f"{hint}.axes")], hint, keepdims=0)


def beyond(g, lengths: str, width: str, hint: str) -> str:
    """(B, W) bool, True at positions t >= lengths[b] (padding), for a 0-d run-time width ``width``."""
    positions = g.node("Range", [ints(g, 0, f"{hint}.start"), width, ints(g, 1, f"{hint}.delta")], f"{hint}.positions")
    column = g.node("Unsqueeze", [lengths, ints(g, [1], f"{hint}.axis1")], f"{hint}.lengths")
    return g.node("GreaterOrEqual", [positions, column], hint)


def additive(g, masked: str, hint: str) -> str:
    """A bool mask as an additive one: -inf where True, 0 elsewhere (as nabla's attention masks)."""
    return g.node("Where", [masked, floats(g, -np.inf, f"{hint}.neg_inf"), floats(g, 0.0, f"{hint}.zero")], hint)


def expand_batch(g, table: str, like: str, tail, hint: str) -> str:
    """``table`` (1, *tail) repeated over the run-time batch size of ``like`` (axis 0): (B, *tail)."""
    shape = g.node("Concat", [size(g, like, 0, f"{hint}.batch"), ints(g, list(tail), f"{hint}.tail")],
                   f"{hint}.shape", axis=0)
    return g.node("Expand", [table, shape], hint)
