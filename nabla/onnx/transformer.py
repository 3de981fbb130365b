"""ONNX emitters for multi-head attention, the Transformer layers and stacks, and positional encodings.

Attention is written out with plain ONNX ops so batch, query length L and key length S all stay dynamic:

    Q, K, V = x_q W_q^T + b_q, x_k W_k^T + b_k, x_v W_v^T + b_v         (slices of in_proj_weight / in_proj_bias)
    heads:  Reshape (B, L, H, E/H) -> Transpose (B, H, L, E/H)           (ONNX's Reshape 0 copies B and L)
    scores = (Q / sqrt(E/H)) K^T + M,   A = Softmax(scores),   out = concat_h(A V) W_o^T + b_o

with M the additive mask: -inf above the diagonal for a causal mask (ConstantOfShape(L, S) of -inf, kept
strictly above the diagonal by Trilu) plus -inf at padding keys (a (B, 1, 1, S) mask the model emitter builds
from the sequence lengths).  Sequence-first layouts are transposed to batch-first and back.

The helpers (``attention``, ``encoder_layer``, ``decoder_layer``, ``encoder``, ``decoder``, ``positions``) take
and return ONNX names, with the masks as extra arguments, so model emitters can pass masks that ``emit``'s
Values cannot carry.  The registered emitters cover the modules called without masks (``model.encoder(x)``);
MultiheadAttention's graph output is the attention output (the averaged weights are not exported).
Refused by name: add_bias_kv, add_zero_attn, kdim/vdim other than embed_dim, a custom activation callable.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..ops import activation as A
from .graph import Value, onnx_emitter, unsupported
from .graph_ops import additive, floats, ints, linear, reshape, size, transpose
from .layers import key, layer_norm


def _projection(g, module, x: str, part: int, path: str, scale: float = 1.0) -> str:
    """Q (part 0), K (1) or V (2): x W^T + b with W, b the rows part*E..(part+1)*E of in_proj_weight/bias."""
    E = module.embed_dim
    w = np.asarray(module.in_proj_weight.data, np.float32)[part * E:(part + 1) * E]
    name = key(path, "in_proj_" + "qkv"[part])
    y = g.node("MatMul", [x, g.constant((w.T * scale).astype(np.float32), f"{name}_weight_t")], f"{name}.matmul")
    if module.in_proj_bias is None:
        return y
    b = np.asarray(module.in_proj_bias.data, np.float32)[part * E:(part + 1) * E] * scale
    return g.node("Add", [y, g.constant(b.astype(np.float32), f"{name}_bias")], name)


def _heads(g, x: str, heads: int, head_dim: int, perm, hint: str) -> str:
    """(B, T, E) -> (B, H, T, E/H) (perm [0, 2, 1, 3]) or (B, H, E/H, T) (perm [0, 2, 3, 1])."""
    return transpose(g, reshape(g, x, [0, 0, heads, head_dim], f"{hint}.split"), perm, hint)


def causal_mask(g, q_heads: str, k_heads_t: str, hint: str) -> str:
    """(L, S) additive causal mask of the run-time sizes: -inf where key j > query i, else 0."""
    shape = g.node("Concat", [size(g, q_heads, 2, f"{hint}.L"), size(g, k_heads_t, 3, f"{hint}.S")], f"{hint}.LS",
                   axis=0)
    from onnx import TensorProto, helper
    full = g.node("ConstantOfShape", [shape], f"{hint}.full",
                  value=helper.make_tensor("value", TensorProto.FLOAT, [1], [-np.inf]))
    return g.node("Trilu", [full, ints(g, 1, f"{hint}.k")], hint, upper=1)


def _check_attention(module, path):
    if not module._qkv_same_embed_dim:
        raise unsupported(module, path, f"kdim={module.kdim}, vdim={module.vdim} differ from embed_dim "
                                        f"{module.embed_dim}")
    if module.bias_k is not None or module.add_zero_attn:
        raise unsupported(module, path, "add_bias_kv / add_zero_attn")


def attention(g, module, q: str, k: str, v: str, path: str, mask: str | None = None, causal: bool = False) -> str:
    """MultiheadAttention(q, k, v) in the module's layout; ``mask`` additive, broadcast to (B, H, L, S)."""
    _check_attention(module, path)
    if not module.batch_first:
        q, k, v = (transpose(g, t, [1, 0, 2], f"{path}.{n}_bf") for t, n in ((q, "q"), (k, "k"), (v, "v")))
    H, d = module.num_heads, module.head_dim
    qh = _heads(g, _projection(g, module, q, 0, path, 1.0 / math.sqrt(d)), H, d, [0, 2, 1, 3], f"{path}.q_heads")
    kt = _heads(g, _projection(g, module, k, 1, path), H, d, [0, 2, 3, 1], f"{path}.k_heads_t")
    vh = _heads(g, _projection(g, module, v, 2, path), H, d, [0, 2, 1, 3], f"{path}.v_heads")
    scores = g.node("MatMul", [qh, kt], f"{path}.scores")
    if causal:
        scores = g.node("Add", [scores, causal_mask(g, qh, kt, f"{path}.causal")], f"{path}.scores_causal")
    if mask is not None:
        scores = g.node("Add", [scores, mask], f"{path}.scores_masked")
    weights = g.node("Softmax", [scores], f"{path}.weights", axis=-1)
    heads = transpose(g, g.node("MatMul", [weights, vh], f"{path}.context"), [0, 2, 1, 3], f"{path}.context_bt")
    out = linear(g, module.out_proj, reshape(g, heads, [0, 0, module.embed_dim], f"{path}.concat"),
                 f"{path}.out_proj")
    return out if module.batch_first else transpose(g, out, [1, 0, 2], f"{path}.seq_first")


def key_padding(g, padding: str, hint: str) -> str:
    """A (B, S) bool key padding mask (True = ignore) as an additive (B, 1, 1, S) mask."""
    return g.node("Unsqueeze", [additive(g, padding, f"{hint}.additive"), ints(g, [1, 2], f"{hint}.axes")], hint)


def _activation(g, layer, x: str, path: str) -> str:
    if layer.activation is A.relu:
        return g.node("Relu", [x], f"{path}.relu")
    if layer.activation is A.gelu:  # 0.5 x (1 + erf(x / sqrt 2))
        t = g.node("Erf", [g.node("Div", [x, floats(g, math.sqrt(2.0), f"{path}.sqrt2")], f"{path}.z")], f"{path}.erf")
        half = g.node("Mul", [x, floats(g, 0.5, f"{path}.half")], f"{path}.half_x")
        return g.node("Mul", [half, g.node("Add", [t, floats(g, 1.0, f"{path}.one")], f"{path}.one_plus")],
                      f"{path}.gelu")
    raise unsupported(layer, path, f"activation {getattr(layer.activation, '__name__', layer.activation)!r}; "
                                   "export supports relu and gelu")


def _feed_forward(g, layer, x: str, path: str) -> str:
    h = _activation(g, layer, linear(g, layer.linear1, x, f"{path}.linear1"), path)
    return linear(g, layer.linear2, h, f"{path}.linear2")


def _add(g, a: str, b: str, hint: str) -> str:
    return g.node("Add", [a, b], hint)


def encoder_layer(g, layer, x: str, path: str, mask: str | None = None, causal: bool = False) -> str:
    """TransformerEncoderLayer: x + SA(LN(x)), x + FF(LN(x)) (norm_first) or LN(x + SA(x)), LN(x + FF(x))."""
    sa = lambda h: attention(g, layer.self_attn, h, h, h, f"{path}.self_attn", mask, causal)  # noqa: E731
    n1 = lambda h: layer_norm(g, layer.norm1, h, f"{path}.norm1")  # noqa: E731
    n2 = lambda h: layer_norm(g, layer.norm2, h, f"{path}.norm2")  # noqa: E731
    if layer.norm_first:
        x = _add(g, x, sa(n1(x)), f"{path}.residual1")
        return _add(g, x, _feed_forward(g, layer, n2(x), path), f"{path}.residual2")
    x = n1(_add(g, x, sa(x), f"{path}.residual1"))
    return n2(_add(g, x, _feed_forward(g, layer, x, path), f"{path}.residual2"))


def decoder_layer(g, layer, x: str, memory: str, path: str, memory_mask: str | None = None, causal: bool = False,
                  tgt_mask: str | None = None) -> str:
    """TransformerDecoderLayer: self-attention (causal), cross-attention over memory, feed-forward."""
    sa = lambda h: attention(g, layer.self_attn, h, h, h, f"{path}.self_attn", tgt_mask, causal)  # noqa: E731
    ca = lambda h: attention(g, layer.multihead_attn, h, memory, memory, f"{path}.multihead_attn",  # noqa: E731
                             memory_mask)
    norms = [lambda h, i=i: layer_norm(g, getattr(layer, f"norm{i}"), h, f"{path}.norm{i}") for i in (1, 2, 3)]
    ff = lambda h: _feed_forward(g, layer, h, path)  # noqa: E731
    for i, block in enumerate((sa, ca, ff)):
        if layer.norm_first:
            x = _add(g, x, block(norms[i](x)), f"{path}.residual{i + 1}")
        else:
            x = norms[i](_add(g, x, block(x), f"{path}.residual{i + 1}"))
    return x


def encoder(g, module, x: str, path: str, mask: str | None = None, causal: bool = False) -> str:
    """TransformerEncoder: its layers (``layers.i``), then ``norm`` if any."""
    for i, layer in enumerate(module.layers):
        x = encoder_layer(g, layer, x, f"{path}.layers.{i}", mask, causal)
    return x if module.norm is None else layer_norm(g, module.norm, x, f"{path}.norm")


def decoder(g, module, x: str, memory: str, path: str, memory_mask: str | None = None, causal: bool = False) -> str:
    """TransformerDecoder: its layers, then ``norm`` if any."""
    for i, layer in enumerate(module.layers):
        x = decoder_layer(g, layer, x, memory, f"{path}.layers.{i}", memory_mask, causal)
    return x if module.norm is None else layer_norm(g, module.norm, x, f"{path}.norm")


def positions(g, module, x: str, path: str) -> str:
    """x + PE[0:L] (sinusoidal table as a constant, learned table as its weight), L read at run time."""
    if isinstance(module, nn.LearnedPositionalEncoding):
        table = g.weight(module.weight, key(path, "weight"))
    else:
        table = g.constant(np.asarray(module.pe.data, np.float32), f"{path}.pe")
    length = size(g, x, 1 if module.batch_first else 0, f"{path}.length")
    pe = g.node("Slice", [table, ints(g, [0], f"{path}.start"), length, ints(g, [0], f"{path}.axis")], f"{path}.slice")
    if not module.batch_first:  # (L, d) -> (L, 1, d) against (L, N, d)
        pe = g.node("Unsqueeze", [pe, ints(g, [1], f"{path}.batch_axis")], f"{path}.slice_l1d")
    return g.node("Add", [x, pe], path)


def _batched(module, path, *values):
    """The registered emitters below take batched (3-d) inputs; unbatched ones are refused, not mis-read."""
    for v in values:
        if len(v.shape) != 3:
            raise unsupported(module, path, f"input of rank {len(v.shape)}; export supports batched 3-d input")


def standard_stacks(module, path):
    if not isinstance(module.encoder, nn.TransformerEncoder) or not isinstance(module.decoder, nn.TransformerDecoder):
        raise unsupported(module, path, "a custom encoder or decoder")


@onnx_emitter(nn.SinusoidalPositionalEncoding, nn.LearnedPositionalEncoding)
def _positions(g, module, x, path):
    _batched(module, path, x)
    return Value(positions(g, module, x.name, path), module(x.tensor))


@onnx_emitter(nn.MultiheadAttention)
def _multihead_attention(g, module, q, k=None, v=None, path=None):
    """forward(query, key, value) -> its attention output (key, value default to query: self-attention)."""
    k, v = k or q, v or k or q
    _batched(module, path, q, k, v)
    out, _ = module(q.tensor, k.tensor, v.tensor, need_weights=False)
    return Value(attention(g, module, q.name, k.name, v.name, path), out)


@onnx_emitter(nn.TransformerEncoderLayer)
def _encoder_layer(g, module, x, path):
    _batched(module, path, x)
    return Value(encoder_layer(g, module, x.name, path), module(x.tensor))


@onnx_emitter(nn.TransformerEncoder)
def _encoder(g, module, x, path):
    _batched(module, path, x)
    return Value(encoder(g, module, x.name, path), module(x.tensor))


@onnx_emitter(nn.TransformerDecoderLayer)
def _decoder_layer(g, module, x, memory, path):
    _batched(module, path, x, memory)
    return Value(decoder_layer(g, module, x.name, memory.name, path), module(x.tensor, memory.tensor))


@onnx_emitter(nn.TransformerDecoder)
def _decoder(g, module, x, memory, path):
    _batched(module, path, x, memory)
    return Value(decoder(g, module, x.name, memory.name, path), module(x.tensor, memory.tensor))


@onnx_emitter(nn.Transformer)
def _transformer(g, module, src, tgt, path):
    """Transformer(src, tgt) without masks: encoder, then decoder over its memory."""
    _batched(module, path, src, tgt)
    standard_stacks(module, path)
    memory = encoder(g, module.encoder, src.name, f"{path}.encoder")
    out = decoder(g, module.decoder, tgt.name, memory, f"{path}.decoder")
    return Value(out, module(src.tensor, tgt.tensor))
