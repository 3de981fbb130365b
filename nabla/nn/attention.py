"""Attention layers: MultiheadAttention (PyTorch's layout, so its state_dicts load unchanged) and
additive (Bahdanau) attention.  The dot-product core is nabla.ops.attention.

Multi-head attention (Vaswani et al. 2017), for query (L, N, E), key (S, N, kdim), value (S, N, vdim)
(or batch first):
    [Q | K | V] = [x_q W_q^T + b_q | x_k W_k^T + b_k | x_v W_v^T + b_v]     W_* stacked in in_proj_weight
    head_h = softmax(Q_h K_h^T / sqrt(E/H) + M) V_h                         h = 1..H, on E/H features each
    out = concat(head_1..head_H) W_o^T + b_o                                 out_proj
When query, key and value are one tensor (self-attention) the three projections are one matrix product
and the heads are read straight out of its result (no split nodes), see nabla.ops.attention.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor, from_numpy
from ..ops.activation import softmax, tanh
from ..ops.attention import Attention, additive_mask, attention_composed, causal_additive_mask
from ..ops.dropout import dropout
from ..ops.shape import cat, chunk, expand, pad, reshape, squeeze, unsqueeze
from . import init
from ..ops.linear import linear
from .linear import Linear
from .module import Module
from .parameter import Parameter


def _shape(t):
    return None if t is None else tuple(t.shape)


def _proj(x, w, b):
    """linear(x, w, b) over the last axis, run as one 2-D matrix product: NumPy's matmul loops over the
    leading axes of a 3-D operand, one small product each, about twice as slow here."""
    if x.ndim == 2:
        return linear(x, w, b)
    return reshape(linear(reshape(x, (-1, x.shape[-1])), w, b), x.shape[:-1] + (w.shape[0],))


def multi_head_attention_forward(query, key, value, embed_dim_to_check: int, num_heads: int, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn: bool, dropout_p: float,
                                 out_proj_weight, out_proj_bias, training: bool = True, key_padding_mask=None,
                                 need_weights: bool = True, attn_mask=None, use_separate_proj_weight: bool = False,
                                 q_proj_weight=None, k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights: bool = True, is_causal: bool = False, *,
                                 batch_first: bool = False, _name: str = "multi_head_attention_forward"):
    """PyTorch's F.multi_head_attention_forward: query (L, N, E), key (S, N, kdim), value (S, N, vdim), or
    unbatched (L, E), (S, kdim), (S, vdim); ``batch_first`` (nabla's keyword) reads (N, L, E) etc. instead.

    key_padding_mask (N, S): True (or -inf) at keys to ignore; attn_mask (L, S) or (N*num_heads, L, S): bool
    True = may NOT attend, or float added to the scores.  is_causal: a hint that attn_mask is causal; without
    an attn_mask nabla builds the causal mask (PyTorch raises).  Returns (output, weights) with weights
    (N, L, S) averaged over heads or (N, H, L, S), or None when need_weights is False."""
    op = _name
    if static_k is not None or static_v is not None:
        raise ValueError(f"{op}: static_k/static_v are not supported")
    unbatched = query.ndim == 2
    query, key, value, key_padding_mask = _as_batched(op, query, key, value, key_padding_mask)
    batch_first = batch_first or unbatched  # one sequence is read as a batch of one, batch first
    n, L, S = _check_shapes(op, query, key, value, embed_dim_to_check, num_heads, batch_first)
    if not use_separate_proj_weight:
        tensors = _packed_projections(op, query, key, value, embed_dim_to_check, in_proj_weight, in_proj_bias)
    else:
        tensors = _separate_projections(op, (query, key, value), embed_dim_to_check,
                                        (q_proj_weight, k_proj_weight, v_proj_weight), in_proj_bias)
    tensors, extra = _extra_keys(op, tensors, bias_k, bias_v, add_zero_attn, n, embed_dim_to_check, batch_first)
    mask = _combined_mask(op, attn_mask, key_padding_mask, is_causal, (n, num_heads, L, S), extra, query.dtype)
    p = dropout_p if training else 0.0
    scale = 1.0 / math.sqrt(embed_dim_to_check // num_heads)
    weights = None
    if need_weights:
        o, weights = attention_composed(tensors, scale, mask, p, heads=num_heads, batch_first=batch_first)
        if average_attn_weights:
            weights = weights.mean(dim=1)
    else:
        args = tensors + ([mask] if mask is not None else [])
        o = Attention.apply(*args, scale=scale, dropout_p=p, heads=num_heads, batch_first=batch_first,
                            n_qkv=len(tensors), has_mask=mask is not None)
    out = _proj(o, out_proj_weight, out_proj_bias)
    if unbatched:
        out = squeeze(out, 0)
        weights = None if weights is None else squeeze(weights, 0)
    return out, weights


def _as_batched(op, query, key, value, key_padding_mask):
    """Unbatched (2-D) inputs as a batch of one (batch first), keeping which of them are one tensor."""
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"{op}: expected query, key and value all 3-D (batched) or all 2-D (unbatched), got "
                         f"shapes {_shape(query)}, {_shape(key)}, {_shape(value)}")
    if query.ndim == 3:
        return query, key, value, key_padding_mask
    same_qk, same_kv = query is key, key is value
    query, key, value = unsqueeze(query, 0), unsqueeze(key, 0), unsqueeze(value, 0)
    if same_qk:
        key = query
    if same_kv:
        value = key
    if key_padding_mask is not None:
        if key_padding_mask.ndim != 1:
            raise ValueError(f"{op}: for unbatched (2-D) query, key_padding_mask must be 1-D (S,), got shape "
                             f"{_shape(key_padding_mask)}")
        key_padding_mask = unsqueeze(key_padding_mask, 0)
    return query, key, value, key_padding_mask


def _check_shapes(op, query, key, value, E, num_heads, bf):
    """(N, L, S) after checking that query, key and value agree with each other and with E."""
    n, L = (query.shape[0], query.shape[1]) if bf else (query.shape[1], query.shape[0])
    nk, S = (key.shape[0], key.shape[1]) if bf else (key.shape[1], key.shape[0])
    layout = "(N, L, E)" if bf else "(L, N, E)"
    if query.shape[-1] != E:
        raise ValueError(f"{op}: expected query of shape {layout} with E={E}, got {_shape(query)}")
    if nk != n or tuple(key.shape[:2]) != tuple(value.shape[:2]):
        raise ValueError(f"{op}: query {_shape(query)}, key {_shape(key)} and value {_shape(value)} must share the "
                         f"batch size, and key and value the sequence length (layout {layout})")
    if E % num_heads:
        raise ValueError(f"{op}: embed_dim {E} is not divisible by num_heads {num_heads}")
    return n, L, S


def _packed_projections(op, query, key, value, E, W, b):
    """The in-projections with in_proj_weight (3E, E): one product when query, key and value are one tensor
    (its result read as [q | k | v] by the attention), two when key is value."""
    if W is None:
        raise ValueError(f"{op}: in_proj_weight is required unless use_separate_proj_weight=True")
    if key.shape[-1] != E or value.shape[-1] != E:
        raise ValueError(f"{op}: key {_shape(key)} and value {_shape(value)} must have {E} features to use "
                         f"in_proj_weight {_shape(W)}")
    if query is key and key is value:
        return [_proj(query, W, b)]
    if key is value:
        return [_proj(query, W[:E], None if b is None else b[:E]),
                _proj(key, W[E:], None if b is None else b[E:])]
    return [_proj(x, W[i * E:(i + 1) * E], None if b is None else b[i * E:(i + 1) * E])
            for i, x in enumerate((query, key, value))]


def _separate_projections(op, inputs, E, weights, b):
    """The in-projections with q_proj_weight, k_proj_weight, v_proj_weight (kdim or vdim != E)."""
    names = ("q_proj_weight", "k_proj_weight", "v_proj_weight")
    for name, w, x in zip(names, weights, inputs):
        if w is None or w.ndim != 2 or w.shape[0] != E or w.shape[1] != x.shape[-1]:
            raise ValueError(f"{op}: {name} of shape {_shape(w)} does not match the input's "
                             f"{x.shape[-1]} features (expected ({E}, {x.shape[-1]}))")
    return [_proj(x, w, None if b is None else b[i * E:(i + 1) * E]) for i, (x, w) in enumerate(zip(inputs, weights))]


def _extra_keys(op, tensors, bias_k, bias_v, add_zero_attn, n, E, bf):
    """(tensors, extra): learned bias_k/bias_v and an all-zero key/value appended, each one more key."""
    if bias_k is None and bias_v is None and not add_zero_attn:
        return tensors, 0
    seq_axis = 1 if bf else 0
    extra = 0
    if len(tensors) == 1:
        tensors = list(chunk(tensors[0], 3, dim=-1))
    elif len(tensors) == 2:
        tensors = [tensors[0]] + list(chunk(tensors[1], 2, dim=-1))
    q, k, v = tensors
    one = (n, 1, E) if bf else (1, n, E)
    if bias_k is not None and bias_v is not None:
        k = cat([k, expand(reshape(bias_k, (1, 1, E)), one)], dim=seq_axis)
        v = cat([v, expand(reshape(bias_v, (1, 1, E)), one)], dim=seq_axis)
        extra += 1
    elif bias_k is not None or bias_v is not None:
        raise ValueError(f"{op}: bias_k and bias_v must both be given or both be None")
    if add_zero_attn:
        z = from_numpy(np.zeros(one, dtype=q.dtype))
        k, v = cat([k, z], dim=seq_axis), cat([v, z], dim=seq_axis)
        extra += 1
    return [q, k, v], extra


def _combined_mask(op, attn_mask, key_padding_mask, is_causal, scores, extra, dtype):
    """attn_mask, key_padding_mask and is_causal as one additive mask broadcast over (N, H, L, S + extra)."""
    n, H, L, S = scores
    if attn_mask is not None:
        attn_mask = _checked_attn_mask(op, attn_mask, n, H, L, S)
    elif is_causal:
        attn_mask = from_numpy(causal_additive_mask(L, S, dtype))
    if key_padding_mask is not None and tuple(key_padding_mask.shape) != (n, S):
        raise ValueError(f"{op}: key_padding_mask should have shape (N, S) = {(n, S)}, got "
                         f"{_shape(key_padding_mask)}")
    if extra:
        if attn_mask is not None:
            attn_mask = _pad_keys(attn_mask, extra)
        if key_padding_mask is not None:
            key_padding_mask = _pad_keys(key_padding_mask, extra)
    return additive_mask(attn_mask, False, key_padding_mask, L, S + extra, dtype, (n, H, L, S + extra), op,
                         bool_keep=False)


def _checked_attn_mask(op, attn_mask, n, H, L, S):
    """attn_mask (L, S), or (N*H, L, S) read as (N, H, L, S)."""
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (L, S):
            raise ValueError(f"{op}: the 2-D attn_mask should have shape (L, S) = {(L, S)}, got "
                             f"{_shape(attn_mask)}")
        return attn_mask
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (n * H, L, S):
            raise ValueError(f"{op}: the 3-D attn_mask should have shape (N*num_heads, L, S) = "
                             f"{(n * H, L, S)}, got {_shape(attn_mask)}")
        return reshape(attn_mask, (n, H, L, S))
    raise ValueError(f"{op}: attn_mask should be 2-D (L, S) or 3-D (N*num_heads, L, S), got shape "
                     f"{_shape(attn_mask)}")


def _pad_keys(mask, extra):
    """Append ``extra`` key columns that every query may attend to (False / 0)."""
    if mask.dtype == np.bool_:
        return from_numpy(np.pad(mask.data, [(0, 0)] * (mask.ndim - 1) + [(0, extra)]))
    return pad(mask, (0, extra))


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's parameters: in_proj_weight (3E, E) and in_proj_bias (3E) when
    kdim == vdim == embed_dim (else q_proj_weight, k_proj_weight, v_proj_weight), out_proj (Linear E -> E),
    bias_k and bias_v (1, 1, E) when add_bias_kv.  See the module docstring for the equations.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
            average_attn_weights=True, is_causal=False) -> (output, weights or None)
    Masks: key_padding_mask (N, S) True at keys to ignore; attn_mask (L, S) or (N*num_heads, L, S), bool True
    = may not attend, float = added.  Dropout acts on the attention weights in training mode."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False, device=None, dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be positive, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim must be divisible by num_heads, got embed_dim="
                             f"{embed_dim} and num_heads={num_heads}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout probability has to be between 0 and 1, got {dropout}")
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.embed_dim, self.num_heads = int(embed_dim), int(num_heads)
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.dropout, self.batch_first = dropout, batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        E = self.embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((E, E), dtype=dt))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dtype=dt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(E, E, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dtype=dt))
            self.bias_v = Parameter(np.empty((1, 1, E), dtype=dt))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's: Xavier-uniform projections, zero biases, Xavier-normal bias_k/bias_v
        (out_proj.weight keeps Linear's default)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        return multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias,
            self.bias_k, self.bias_v, self.add_zero_attn, self.dropout, self.out_proj.weight, self.out_proj.bias,
            training=self.training, key_padding_mask=key_padding_mask, need_weights=need_weights,
            attn_mask=attn_mask, use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight, v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights, is_causal=is_causal,
            batch_first=self.batch_first and query.ndim == 3, _name=self._short_repr())

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s


class AdditiveAttention(Module):
    """Additive attention (Bahdanau et al. 2015), for query (N, Q, query_size) or one query per sample
    (N, query_size), keys (N, K, key_size), values (N, K, value_size) (default: the keys):
        e_qk = w_v^T tanh(W_q q + W_k k)          (num_hiddens features inside the tanh)
        a_qk = softmax_k(e_qk),   c_q = sum_k a_qk v_k
    Masks: key_padding_mask (N, K) True at padding keys, or valid_lens (N,) / (N, Q): keys at positions
    >= valid_len are ignored (a query with no valid key gets NaN).  Dropout acts on the weights.
    Returns (context (N, Q, value_size) or (N, value_size), weights (N, Q, K) or (N, K)); the last weights
    are also kept as ``self.attention_weights`` for plotting.  PyTorch has no such layer; the parameters are
    W_q.weight (num_hiddens, query_size), W_k.weight (num_hiddens, key_size), w_v.weight (1, num_hiddens)."""

    def __init__(self, query_size: int, key_size: int, num_hiddens: int, dropout: float = 0.0, bias: bool = False,
                 dtype=None):
        super().__init__()
        self.W_q = Linear(query_size, num_hiddens, bias=False, dtype=dtype)
        self.W_k = Linear(key_size, num_hiddens, bias=bias, dtype=dtype)
        self.w_v = Linear(num_hiddens, 1, bias=False, dtype=dtype)
        self.query_size, self.key_size, self.num_hiddens = query_size, key_size, num_hiddens
        self.dropout = dropout
        self.attention_weights = None

    def forward(self, query, key, value=None, key_padding_mask=None, valid_lens=None):
        name = self._short_repr()
        value = key if value is None else value
        single = query.ndim == 2
        if query.ndim not in (2, 3) or key.ndim != 3 or value.ndim != 3:
            raise ValueError(f"{name}: expected query (N, Q, {self.query_size}) or (N, {self.query_size}), key "
                             f"(N, K, {self.key_size}), value (N, K, Dv); got shapes {_shape(query)}, "
                             f"{_shape(key)}, {_shape(value)}")
        if query.shape[-1] != self.query_size or key.shape[-1] != self.key_size:
            raise ValueError(f"{name}: expected query features {self.query_size} and key features "
                             f"{self.key_size}, got query {_shape(query)} and key {_shape(key)}")
        n, K = key.shape[0], key.shape[1]
        if query.shape[0] != n or tuple(value.shape[:2]) != (n, K):
            raise ValueError(f"{name}: query {_shape(query)}, key {_shape(key)} and value {_shape(value)} must "
                             f"share the batch size, and key and value the number of keys")
        q = unsqueeze(query, 1) if single else query
        Q = q.shape[1]
        feats = tanh(unsqueeze(self.W_q(q), 2) + unsqueeze(self.W_k(key), 1))   # (N, Q, K, h)
        scores = squeeze(self.w_v(feats), -1)                                    # (N, Q, K)
        mask = None
        if valid_lens is not None:
            vl = valid_lens.data if isinstance(valid_lens, Tensor) else np.asarray(valid_lens)
            if vl.shape not in ((n,), (n, Q)):
                raise ValueError(f"{name}: valid_lens of shape {vl.shape} should be (N,) = ({n},) or (N, Q) = "
                                 f"({n}, {Q})")
            vl = vl.reshape(n, -1, 1)
            mask = from_numpy(np.arange(K) >= vl)                      # True = ignored
        if key_padding_mask is not None:
            if tuple(key_padding_mask.shape) != (n, K):
                raise ValueError(f"{name}: key_padding_mask should have shape (N, K) = ({n}, {K}), got "
                                 f"{_shape(key_padding_mask)}")
            kpm = from_numpy(np.asarray(key_padding_mask.data, dtype=bool).reshape(n, 1, K))
            mask = kpm if mask is None else from_numpy(mask.data | kpm.data)
        if mask is not None:
            add = np.where(mask.data, np.asarray(-np.inf, dtype=scores.dtype), np.asarray(0, dtype=scores.dtype))
            scores = scores + from_numpy(add)
        weights = softmax(scores, dim=-1)
        self.attention_weights = weights.detach()
        if self.training and self.dropout > 0:
            weights = dropout(weights, self.dropout)
        context = weights @ value                                                # (N, Q, Dv)
        if single:
            return squeeze(context, 1), squeeze(weights, 1)
        return context, weights

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, num_hiddens={self.num_hiddens}"


BahdanauAttention = AdditiveAttention

__all__ = ["MultiheadAttention", "AdditiveAttention", "BahdanauAttention", "multi_head_attention_forward"]
