"""Scaled dot-product attention (Vaswani et al. 2017), one fused Function.

    S = scale Q K^T + M          M: the additive mask (0 / -inf for boolean masks, or given floats)
    P = softmax(S) over the keys (a query whose keys are all masked gets P = 0, as PyTorch's SDPA)
    O = (P * D) V                D: the dropout mask scaled by 1/(1-p) (or 1)
Backward, with G = dL/dO:
    dV = (P*D)^T G,   dP = (G V^T) * D,   dS = P * (dP - rowsum(dP * P)),
    dQ = scale dS K,  dK = scale dS^T Q,  dM = dS

Why one Function: composed from matmul, softmax and dropout the graph keeps S, P and P*D and walks
six nodes; fused, forward keeps only P (and D) and backward is five NumPy products.  Under
``create_graph`` the same formulas run in nabla ops, so gradients of gradients work.

The Function also reads multi-head inputs in *token layout*: projected tensors of shape (N, L, H*D)
(batch first) or (L, N, H*D), optionally packed as [q | k | v] or [k | v] along the last axis (the
output of one in-projection).  The heads are NumPy views of those arrays, the output is written back
in token layout and the gradients come back packed the same way, so multi-head attention costs no
split, permute or concatenate nodes (see nabla.nn.MultiheadAttention).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, exp_sums_unusable, max_shifted_exp
from .arithmetic import where
from .linalg import matmul, matmul_nt, matmul_tn
from .shape import cat, permute, reshape

_causal_cache: dict = {}


def causal_additive_mask(L: int, S: int, dtype) -> np.ndarray:
    """(L, S) array: 0 where key j <= query i (top-left aligned, as PyTorch's is_causal), else -inf.
    Cached: the same few sizes come back every step (read-only, never modified in place)."""
    key = (L, S, np.dtype(dtype).str)
    m = _causal_cache.get(key)
    if m is None:
        m = np.triu(np.full((L, S), -np.inf, dtype=dtype), 1)
        m.setflags(write=False)
        if len(_causal_cache) > 64:
            _causal_cache.clear()
        _causal_cache[key] = m
    return m


# ---------------------------------------------------------------------- head views (arrays)
def _token_heads(a, heads, batch_first, part, parts):
    """View of part ``part`` of ``parts`` packed along a's last axis as (N, H, L, D)."""
    if batch_first:
        n, length, e = a.shape
        return a.reshape(n, length, parts, heads, e // (parts * heads))[:, :, part].transpose(0, 2, 1, 3)
    length, n, e = a.shape
    return a.reshape(length, n, parts, heads, e // (parts * heads))[:, :, part].transpose(1, 2, 0, 3)


def _pack_spec(n_tensors):
    """For 1, 2, 3 token-layout tensors: [(tensor index, part, parts)] for q, k, v."""
    return {1: [(0, 0, 3), (0, 1, 3), (0, 2, 3)],
            2: [(0, 0, 1), (1, 0, 2), (1, 1, 2)],
            3: [(0, 0, 1), (1, 0, 1), (2, 0, 1)]}[n_tensors]


def _scaled_contiguous(a, scale):
    """scale * a as a new C-contiguous array (np.multiply alone keeps a strided view's memory order, and
    the batched products below run about 1.5x faster on C-contiguous operands)."""
    out = np.empty(a.shape, dtype=a.dtype)
    return np.multiply(a, np.asarray(scale, dtype=a.dtype), out=out)


def _safe_softmax_cols(s):
    """Softmax along axis -2, as a new array; columns that are all -inf give zeros instead of NaN.
    (Attention keeps its scores transposed, keys along axis -2: NumPy reduces over a non-last axis
    with contiguous elementwise passes, about 3x faster than over short last-axis rows.)

    Scores are almost always well inside exp's range, so exp is taken unshifted: three passes (exp, sum,
    scale) instead of five with the max subtracted; columns whose sum is unusable (see
    ``exp_sums_unusable``; every key masked included) are redone with the max shift."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore", divide="ignore"):
        p = np.exp(s)
        z = np.sum(p, axis=-2, keepdims=True)
        redo = exp_sums_unusable(z)
        p *= np.reciprocal(z, out=z)   # one division per column, then products (2x faster than p /= z)
    if redo.any():
        cols = redo[..., 0, :]
        e, _, tot = max_shifted_exp(np.moveaxis(s, -2, -1)[cols])    # (K, S): the scores of those queries
        tot[tot == 0] = 1.0                                          # every key masked: P = 0
        np.moveaxis(p, -2, -1)[cols] = e / tot
    return p


class Attention(Function):
    """O = softmax(scale Q K^T + M) V with dropout on the weights; see the module docstring.

    Inputs: q, k, v (``heads`` None: arrays (..., L, D) with broadcastable batch axes), or 1-3
    token-layout tensors (``heads`` an int: [qkv], [q, kv] or [q, k, v]), then the mask if any."""

    def __init__(self, scale, dropout_p=0.0, heads=None, batch_first=True, n_qkv=3, has_mask=False):
        self.scale, self.p = float(scale), float(dropout_p)
        self.heads, self.batch_first, self.n_qkv, self.has_mask = heads, batch_first, n_qkv, has_mask

    # -- array helpers
    def _views(self, arrays):
        if self.heads is None:
            return arrays[0], arrays[1], arrays[2]
        return tuple(_token_heads(arrays[i], self.heads, self.batch_first, part, parts)
                     for i, part, parts in _pack_spec(self.n_qkv))

    def forward(self, *arrays):
        q, k, v = self._views(arrays)
        # scores transposed, S^T (..., S, L): see _safe_softmax_cols.  The scale goes on q (L x D values,
        # not L x S scores), in the same pass that makes q^T contiguous for the product
        qt = _scaled_contiguous(q.swapaxes(-1, -2), self.scale)
        st = np.matmul(k, qt)
        del qt
        if self.has_mask:
            mask_t = arrays[-1].swapaxes(-1, -2)
            if np.broadcast_shapes(mask_t.shape, st.shape) == st.shape:
                st += mask_t
            else:
                st = st + mask_t
        pt = _safe_softmax_cols(st)
        del st
        self.attn_t = pt
        self.drop_t = None
        if self.p > 0.0:
            keep = 1.0 - self.p
            if keep <= 0.0:
                self.drop_t = np.zeros(pt.shape, dtype=pt.dtype)
            else:
                self.drop_t = np.multiply(backend.rng().random(pt.shape, dtype=np.float32) < keep, 1.0 / keep,
                                          dtype=pt.dtype)
            pt = pt * self.drop_t
        self.attn_dropped_t = pt
        if self.heads is None:
            out = np.matmul(pt.swapaxes(-1, -2), v)
        else:
            # written straight into token layout (matmul into a strided view beats a copy afterwards)
            n, h, length, dv = v.shape[0], v.shape[1], q.shape[2], v.shape[3]
            out = np.empty((n, length, h * dv) if self.batch_first else (length, n, h * dv), dtype=v.dtype)
            np.matmul(pt.swapaxes(-1, -2), v, out=_token_heads(out, h, self.batch_first, 0, 1))
        self.out = out   # backward's rowsum(dP * P) is rowsum(G * O), over L x D instead of L x S values
        return out

    def backward_arrays(self, g):
        n_in = 3 if self.heads is None else self.n_qkv
        needs = self.needs_input_grad
        arrays = [t.data for t in self.inputs[:n_in]]
        q, k, v = self._views(arrays)
        gh = g
        if self.heads is not None:
            gh = _token_heads(gh, self.heads, self.batch_first, 0, 1)
        pt, pdt = self.attn_t, self.attn_dropped_t
        need_q, need_k, need_v = self._needs_qkv(needs)
        need_mask = self.has_mask and needs[-1]
        outs = self._grad_buffers(arrays, needs)
        gq = gk = gv = gmask = None
        if need_v:
            gv = np.matmul(pdt, gh, out=outs[2])
        if need_q or need_k or need_mask:
            # scale dS^T = P^T * (scale dP^T - scale rowsum(dP * P)), with rowsum(dP * P) = rowsum(G * O)
            # (O the output, dropout included): the scale rides on v and on that L-vector, so the
            # (L x S) arrays take two passes, no reduction over them and no temporary
            scale = np.asarray(self.scale, dtype=v.dtype)
            dst = np.matmul(_scaled_contiguous(v, scale), gh.swapaxes(-1, -2))     # scale dP^T
            if self.drop_t is not None:
                dst *= self.drop_t
            dst -= self._rowsum_g_out(g, scale)
            dst *= pt                                                       # scale dS^T
            if need_mask:
                gmask = np.ascontiguousarray(dst.swapaxes(-1, -2)) / scale
            if need_q:
                gq = np.matmul(dst.swapaxes(-1, -2), k, out=outs[0])
            if need_k:
                gk = np.matmul(dst, q, out=outs[1])
        if self.heads is None:
            grads = [gq, gk, gv]
        else:
            grads = [outs[-1].get(i) for i in range(self.n_qkv)]
        if self.has_mask:
            grads.append(gmask)
        return tuple(grads)

    def _rowsum_g_out(self, g, scale):
        """scale * sum_d G_id O_id for every query i, shaped to broadcast over S^T (..., 1, L)."""
        prod = np.multiply(g, self.out)
        prod *= scale
        if self.heads is None:
            return prod.sum(axis=-1)[..., None, :]
        if self.batch_first:       # (N, L, H*D) -> (N, H, 1, L)
            n, length, _ = prod.shape
            return prod.reshape(n, length, self.heads, -1).sum(axis=-1).transpose(0, 2, 1)[:, :, None, :]
        length, n, _ = prod.shape  # (L, N, H*D) -> (N, H, 1, L)
        return prod.reshape(length, n, self.heads, -1).sum(axis=-1).transpose(1, 2, 0)[:, :, None, :]

    def _grad_buffers(self, arrays, needs):
        """Token layout: one gradient array per input tensor that needs one, and the (N, H, L, D) views of
        it that q's, k's and v's gradients are written into; ``[None] * 3 + [{}]`` for plain inputs."""
        if self.heads is None:
            return [None, None, None, {}]
        bufs = {i: np.empty(a.shape, dtype=a.dtype) for i, a in enumerate(arrays) if needs[i]}
        views = [None if j not in bufs else _token_heads(bufs[j], self.heads, self.batch_first, part, parts)
                 for j, part, parts in _pack_spec(self.n_qkv)]
        return views + [bufs]

    def _needs_qkv(self, needs):
        if self.heads is None:
            return needs[0], needs[1], needs[2]
        return tuple(needs[i] for i, _, _ in _pack_spec(self.n_qkv))

    def backward(self, g):
        """The same formulas in nabla ops (recorded under create_graph), P recomputed from the inputs."""
        n_in = 3 if self.heads is None else self.n_qkv
        ins = self.inputs[:n_in]
        q, k, v = _heads_tensors(ins, self.heads, self.batch_first, self.n_qkv)
        mask = self.inputs[-1] if self.has_mask else None
        s = matmul_nt(q, k) * self.scale
        if mask is not None:
            s = s + mask
        dead = self.attn_t.sum(axis=-2)[..., None] == 0  # queries with every key masked: P = 0, as forward
        zero = _const(np.zeros((), s.dtype))
        if dead.any():
            s = where(dead, zero, s)
        p = _softmax_tensor(s, None)
        if dead.any():
            p = where(dead, zero, p)
        drop = None if self.drop_t is None else _const(self.drop_t.swapaxes(-1, -2))
        pd = p if drop is None else p * drop
        gh = g if self.heads is None else _split_heads(g, self.heads, self.batch_first, 0, 1)
        gv = matmul_tn(pd, gh)
        dp = matmul_nt(gh, v)
        if drop is not None:
            dp = dp * drop
        ds = p * (dp - (dp * p).sum(dim=-1, keepdim=True))
        gq = matmul(ds, k) * self.scale
        gk = matmul_tn(ds, q) * self.scale
        if self.heads is None:
            grads = [gq, gk, gv]
        else:
            merged = [_merge_heads(t, self.batch_first) for t in (gq, gk, gv)]
            grads = {1: lambda: [cat(merged, dim=-1)], 2: lambda: [merged[0], cat(merged[1:], dim=-1)],
                     3: lambda: merged}[self.n_qkv]()
        grads = [gr if need else None for gr, need in zip(grads, self.needs_input_grad)]
        if self.has_mask:
            grads.append(ds if self.needs_input_grad[-1] else None)
        return tuple(grads)


# ---------------------------------------------------------------------- the same in nabla ops
def _split_heads(x, heads, batch_first, part, parts):
    """Token layout (N, L, parts*H*D) or (L, N, ...) -> part ``part`` as (N, H, L, D), in nabla ops."""
    if batch_first:
        n, length, e = x.shape
        x = reshape(x, (n, length, parts, heads, e // (parts * heads)))
        return permute(x[:, :, part], (0, 2, 1, 3))
    length, n, e = x.shape
    x = reshape(x, (length, n, parts, heads, e // (parts * heads)))
    return permute(x[:, :, part], (1, 2, 0, 3))


def _merge_heads(x, batch_first):
    n, h, length, d = x.shape
    if batch_first:
        return reshape(permute(x, (0, 2, 1, 3)), (n, length, h * d))
    return reshape(permute(x, (2, 0, 1, 3)), (length, n, h * d))


def _heads_tensors(ins, heads, batch_first, n_qkv):
    if heads is None:
        return ins[0], ins[1], ins[2]
    return tuple(_split_heads(ins[i], heads, batch_first, part, parts) for i, part, parts in _pack_spec(n_qkv))


def _softmax_tensor(s, mask):
    from .activation import softmax
    if mask is not None:
        s = s + mask
    return softmax(s, dim=-1)


def attention_composed(inputs, scale, mask=None, dropout_p=0.0, heads=None, batch_first=True):
    """The attention of ``Attention`` built from matmul, softmax and dropout ops (a reference, and the
    path that also returns the weights): (output, weights after dropout, (..., L, S) or (N, H, L, S)).
    ``inputs``: (q, k, v), or with ``heads`` 1-3 token-layout tensors as for ``Attention``.  Unlike the
    fused Function, a query whose keys are all masked gets NaN (as PyTorch's MultiheadAttention with
    need_weights=True)."""
    from .dropout import dropout
    qh, kh, vh = _heads_tensors(tuple(inputs), heads, batch_first, len(inputs))
    p = _softmax_tensor(matmul_nt(qh, kh) * scale, mask)
    if dropout_p > 0.0:
        p = dropout(p, dropout_p)
    o = matmul(p, vh)
    return (o if heads is None else _merge_heads(o, batch_first)), p


# ---------------------------------------------------------------------- masks
def _mask_error(op, what, mask_shape, expected):
    return ValueError(f"{op}: {what} of shape {tuple(mask_shape)} does not match the attention weights' "
                      f"shape {tuple(expected)} (expected a shape that broadcasts to it)")


def additive_mask(attn_mask, is_causal, key_padding_mask, L, S, dtype, scores_shape, op, bool_keep=True):
    """The masks combined into one additive mask broadcastable to ``scores_shape`` (..., L, S):
    a Tensor (requiring grad if a float attn_mask does), or None when nothing is masked.

    attn_mask: bool (``bool_keep``: True = take part, SDPA's convention; else True = masked out,
    MultiheadAttention's) or float (added to the scores); is_causal: key j > query i is masked;
    key_padding_mask (N, S): True = a padding key, ignored (float: added)."""
    const = None
    grad_mask = None
    if is_causal:
        const = causal_additive_mask(L, S, dtype)
    if attn_mask is not None:
        m = attn_mask if isinstance(attn_mask, Tensor) else as_tensor(np.asarray(attn_mask))
        try:
            ok = np.broadcast_shapes(m.shape, scores_shape) == tuple(scores_shape)
        except ValueError:
            ok = False
        if not ok or m.ndim < 2:
            raise _mask_error(op, "attn_mask", m.shape, scores_shape)
        if m.dtype == np.bool_:
            keep = m.data if bool_keep else ~m.data
            add = np.where(keep, np.asarray(0, dtype=dtype), np.asarray(-np.inf, dtype=dtype))
            const = add if const is None else const + add
        elif m.dtype.kind == "f":
            if m.requires_grad:
                grad_mask = m if m.dtype == dtype else m.to(dtype)
            else:
                add = m.data.astype(dtype, copy=False)
                const = add if const is None else const + add
        else:
            raise TypeError(f"{op}: attn_mask must be a bool or floating tensor, got dtype {m.dtype}")
    if key_padding_mask is not None:
        kpm = key_padding_mask if isinstance(key_padding_mask, Tensor) else as_tensor(np.asarray(key_padding_mask))
        n = scores_shape[0] if len(scores_shape) > 2 else None
        want = (S,) if n is None else (n, S)
        if tuple(kpm.shape) != want:
            raise ValueError(f"{op}: key_padding_mask of shape {tuple(kpm.shape)} does not match the batch and "
                             f"key sequence (expected {want}, the attention weights have shape "
                             f"{tuple(scores_shape)})")
        lead = () if n is None else (n,)
        shape = lead + (1,) * (len(scores_shape) - 1 - len(lead)) + (S,)
        if kpm.dtype == np.bool_:
            add = np.where(kpm.data, np.asarray(-np.inf, dtype=dtype), np.asarray(0, dtype=dtype)).reshape(shape)
        elif kpm.dtype.kind == "f":
            if kpm.requires_grad:
                t = reshape(kpm.to(dtype) if kpm.dtype != dtype else kpm, shape)
                grad_mask = t if grad_mask is None else grad_mask + t
                add = None
            else:
                add = kpm.data.astype(dtype, copy=False).reshape(shape)
        else:
            raise TypeError(f"{op}: key_padding_mask must be a bool or floating tensor, got dtype {kpm.dtype}")
        if add is not None:
            const = add if const is None else const + add
    if grad_mask is not None:
        return grad_mask if const is None else grad_mask + _const(np.asarray(const))
    return None if const is None else _const(np.asarray(const))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0, is_causal: bool = False,
                                 scale=None, enable_gqa: bool = False, key_padding_mask=None):
    """softmax(Q K^T * scale + M) V over query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev).

    attn_mask: bool (True = this query may attend to this key) or float (added to the scores), broadcast to
    (..., L, S); is_causal: query i sees keys j <= i; scale: default 1/sqrt(E); dropout_p: dropout on the
    attention weights (always applied when > 0, as PyTorch's functional form).  enable_gqa: key and value may
    have fewer heads (dim -3) than query, each shared by a group of query heads.  key_padding_mask (nabla's
    addition, MultiheadAttention's convention): (N, S) with True at padding keys, which are ignored.
    A query whose keys are all masked gets a zero output (as PyTorch)."""
    op = "scaled_dot_product_attention"
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dimensions (..., seq, features), got shape "
                             f"{tuple(t.shape)}")
        if t.dtype.kind != "f" or t.dtype != q.dtype:
            raise TypeError(f"{op}: query, key and value must be floating tensors of one dtype, got "
                            f"{q.dtype}, {k.dtype}, {v.dtype}")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: expected query (..., L, E), key (..., S, E), value (..., S, Ev), got shapes "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p has to be between 0 and 1, got {dropout_p}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: give either attn_mask or is_causal=True, not both")
    if enable_gqa and q.ndim >= 3 and k.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        hq, hk = q.shape[-3], k.shape[-3]
        if hq % hk:
            raise ValueError(f"{op}: with enable_gqa the query heads ({hq}) must be a multiple of the key/value "
                             f"heads ({hk}); shapes {tuple(q.shape)}, {tuple(k.shape)}")
        k, v = _repeat_heads(k, hq // hk), _repeat_heads(v, hq // hk)
    try:
        batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(f"{op}: the batch dimensions of query {tuple(q.shape)}, key {tuple(k.shape)} and value "
                         f"{tuple(v.shape)} do not broadcast") from None
    L, S = q.shape[-2], k.shape[-2]
    mask = additive_mask(attn_mask, is_causal, key_padding_mask, L, S, q.dtype, tuple(batch) + (L, S), op)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    if mask is None:
        return Attention.apply(q, k, v, scale=scale, dropout_p=dropout_p)
    return Attention.apply(q, k, v, mask, scale=scale, dropout_p=dropout_p, has_mask=True)


def _repeat_heads(x, r):
    """(..., Hk, S, D) -> (..., Hk*r, S, D), each head repeated r times in a row (repeat_interleave)."""
    from .shape import expand, unsqueeze
    shape = x.shape
    y = expand(unsqueeze(x, -3), shape[:-2] + (r,) + shape[-2:])
    return reshape(y, shape[:-3] + (shape[-3] * r,) + shape[-2:])


__all__ = ["scaled_dot_product_attention"]
