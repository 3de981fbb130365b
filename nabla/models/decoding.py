"""Decoding sequences from a model one token at a time: greedy, beam search, sampling.

Every decoder is generic over a *step function*::

    logits, state = step_fn(tokens, state)

``tokens`` is an int64 Tensor: the last token of each sequence, shape (N,) (``feed="last"``, for
recurrent decoders that carry their state), or the whole prefix so far including the start token,
shape (N, t) (``feed="prefix"``, for a Transformer decoder without a cache).  ``logits`` (N, V) are
the next-token scores (a Tensor or an array; log-softmax is applied here).  ``state`` is whatever the
model needs (hidden states, encoder outputs, a mask), passed back unchanged in structure.

Beam search keeps ``N = B * beam_size`` rows and reorders them after each step: ``reorder_state(state,
index)`` must return the state's rows ``index`` (an int64 array).  The default indexes every
array / Tensor in ``state`` (nested in tuples, lists, dicts) along dimension 0; for PyTorch-layout
recurrent states ``(num_layers, B, H)`` use ``reorder_state=index_state(dim=1)``.

Decoders run under ``no_grad`` and return Tensors: tokens (without the start token), ``pad`` after
each sequence's ``eos``.
"""
from __future__ import annotations

from numbers import Integral

import numpy as np

from ..autograd import no_grad
from ..autograd.tensor import Tensor, from_numpy
from ..data.dataset import as_generator

__all__ = ["greedy_decode", "beam_search", "sample", "sample_decode", "index_state", "log_softmax_np"]


def _np(x) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def log_softmax_np(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """log softmax in float64, stable: ``x - max - log(sum(exp(x - max)))``."""
    x = np.asarray(x, dtype=np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    z = x - m
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def index_state(dim: int = 0):
    """A ``reorder_state`` that takes rows ``index`` along ``dim`` of every array / Tensor in the state."""
    def reorder(state, index):
        if state is None:
            return None
        if isinstance(state, Tensor):
            return from_numpy(np.take(state.data, index, axis=dim))
        if isinstance(state, np.ndarray):
            return np.take(state, index, axis=dim)
        if isinstance(state, tuple) and hasattr(state, "_fields"):
            return type(state)(*(reorder(s, index) for s in state))
        if isinstance(state, (list, tuple)):
            return type(state)(reorder(s, index) for s in state)
        if isinstance(state, dict):
            return {k: reorder(v, index) for k, v in state.items()}
        return state  # numbers, strings, modules: shared by every row
    return reorder


def _start_tokens(start, batch_size):
    if isinstance(start, (Integral, np.integer)):
        return np.full(batch_size or 1, int(start), np.int64)
    s = _np(start).astype(np.int64).reshape(-1)
    if batch_size is not None and len(s) != batch_size:
        raise ValueError(f"decoding: start has {len(s)} tokens but batch_size is {batch_size}")
    return s


def _call(step_fn, history, state, feed):
    tokens = history[:, -1] if feed == "last" else history
    logits, state = step_fn(from_numpy(np.ascontiguousarray(tokens)), state)
    logits = _np(logits)
    if logits.ndim != 2 or logits.shape[0] != history.shape[0]:
        raise ValueError(f"decoding: step_fn returned logits of shape {logits.shape}; expected ({history.shape[0]}, "
                         "vocabulary size)")
    return logits, state


def _check_feed(feed):
    if feed not in ("last", "prefix"):
        raise ValueError(f"decoding: feed must be 'last' or 'prefix', got {feed!r}")


# ---------------------------------------------------------------------------------------------- sampling
def sample(logits, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
           generator=None) -> Tensor:
    """Draw one token per row of ``logits`` (..., V): from ``softmax(logits / temperature)``, restricted
    to the ``top_k`` highest scores and/or the smallest set whose probability reaches ``top_p``.

    ``temperature=0`` is the argmax.  Sampling uses the Gumbel-max trick (``argmax(z + G)``, G
    standard Gumbel noise), vectorised over rows.  ``generator``: a numpy Generator or int seed; None
    uses nabla's global generator (``nabla.manual_seed``).  Returns int64 indices of shape (...).
    """
    z = np.asarray(_np(logits), dtype=np.float64)
    if z.ndim == 0:
        raise ValueError("sample: logits must have a last (vocabulary) dimension, got a 0-d value")
    V = z.shape[-1]
    if temperature < 0:
        raise ValueError(f"sample: temperature must be >= 0, got {temperature}")
    if top_k is not None:
        if not 1 <= int(top_k):
            raise ValueError(f"sample: top_k must be a positive integer, got {top_k}")
        k = min(int(top_k), V)
        kth = np.partition(z, V - k, axis=-1)[..., V - k, None]  # the k-th largest score
        z = np.where(z >= kth, z, -np.inf)
    if temperature == 0:
        return from_numpy(np.argmax(z, axis=-1).astype(np.int64))
    z = z / temperature
    if top_p is not None:
        if not 0 < top_p <= 1:
            raise ValueError(f"sample: top_p must be in (0, 1], got {top_p}")
        p = np.exp(log_softmax_np(z))
        order = np.argsort(-p, axis=-1, kind="stable")
        sp = np.take_along_axis(p, order, axis=-1)
        before = np.cumsum(sp, axis=-1) - sp                       # mass of the tokens ranked above
        keep_sorted = before < top_p                               # the top token is always kept
        keep = np.empty_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        z = np.where(keep, z, -np.inf)
    g = as_generator(generator).gumbel(size=z.shape)
    return from_numpy(np.argmax(z + g, axis=-1).astype(np.int64))


def sample_decode(step_fn, start, max_len: int, eos: int | None = None, state=None, temperature: float = 1.0,
                  top_k: int | None = None, top_p: float | None = None, generator=None, batch_size: int | None = None,
                  pad: int = 0, feed: str = "last"):
    """Generate up to ``max_len`` tokens by sampling each from ``step_fn``'s logits (``sample``).

    Returns ``(tokens (B, L) int64, lengths (B,))``: ``lengths`` counts the tokens up to and including
    ``eos``; later positions hold ``pad``.  Stops early once every row has produced ``eos``.
    """
    _check_feed(feed)
    gen = as_generator(generator)
    history = _start_tokens(start, batch_size)[:, None]
    n = history.shape[0]
    done = np.zeros(n, bool)
    lengths = np.zeros(n, np.int64)
    out = []
    with no_grad():
        for _ in range(int(max_len)):
            logits, state = _call(step_fn, history, state, feed)
            tok = sample(logits, temperature, top_k, top_p, gen).data
            tok = np.where(done, pad, tok)
            lengths += ~done
            out.append(tok)
            history = np.concatenate([history, tok[:, None]], axis=1)
            if eos is not None:
                done |= tok == eos
                if done.all():
                    break
    tokens = np.stack(out, axis=1) if out else np.zeros((n, 0), np.int64)
    return from_numpy(tokens), from_numpy(lengths)


def greedy_decode(step_fn, start, max_len: int, eos: int | None = None, state=None, batch_size: int | None = None,
                  pad: int = 0, feed: str = "last"):
    """Take the most likely token at every step.  Returns ``(tokens (B, L), lengths (B,))`` as
    ``sample_decode`` does (this is it with ``temperature=0``)."""
    return sample_decode(step_fn, start, max_len, eos, state, temperature=0.0, batch_size=batch_size, pad=pad,
                         feed=feed)


def _beam_step(lp, scores, finished, lengths, eos, pad):
    """One step of beam search on the log-probabilities lp (B, K, V): the K best of the K * V extensions
    of each sequence's beams.  Returns (token, origin beam, scores, finished, lengths), each (B, K)."""
    B, K, V = lp.shape
    if not 0 <= eos < V:
        raise ValueError(f"beam_search: eos {eos} is not a token of a vocabulary of size {V}")
    # a finished beam has one continuation, at no cost (its token is replaced by pad below)
    lp = np.where(finished[..., None], -np.inf, lp)
    lp[..., eos] = np.where(finished, 0.0, lp[..., eos])
    cand = (scores[..., None] + lp).reshape(B, K * V)
    kk = min(K, K * V)
    top = np.argpartition(-cand, kk - 1, axis=1)[:, :kk]
    top = np.take_along_axis(top, np.argsort(-np.take_along_axis(cand, top, 1), axis=1, kind="stable"), 1)
    origin, tok = top // V, top % V
    new_scores = np.take_along_axis(cand, top, 1)
    was_done = np.take_along_axis(finished, origin, 1)
    lengths = np.take_along_axis(lengths, origin, 1) + ~was_done
    finished = was_done | (tok == eos) | ~np.isfinite(new_scores)
    return np.where(was_done, pad, tok), origin, new_scores, finished, lengths


def _ranked(tokens, scores, lengths, length_penalty):
    """The hypotheses (B, K, L) sorted best first by score / length ** length_penalty, with those
    normalised scores and the lengths."""
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = scores / np.maximum(lengths, 1).astype(np.float64) ** float(length_penalty)
    norm = np.where(np.isfinite(scores), norm, -np.inf)
    order = np.argsort(-norm, axis=1, kind="stable")
    tokens = np.take_along_axis(tokens, order[..., None], 1)
    return tokens, np.take_along_axis(norm, order, 1), np.take_along_axis(lengths, order, 1)


# ---------------------------------------------------------------------------------------------- beam search
def beam_search(step_fn, start, beam_size: int, max_len: int, eos: int, length_penalty: float = 1.0, state=None,
                reorder_state=None, batch_size: int | None = None, pad: int = 0, feed: str = "last",
                return_all: bool = False):
    """Beam search: keep the ``beam_size`` most probable prefixes of each sequence, step by step.

    At each step every live beam is extended by every token; the ``beam_size`` best of the
    ``beam_size * V`` candidates (by summed log-probability) survive.  A beam that has emitted
    ``eos`` is finished: it stays in the beam with its score fixed (extended only by ``pad``).  The
    search ends when every beam of every sequence is finished, or after ``max_len`` tokens.  The
    hypotheses are then ranked by ``score / length ** length_penalty`` (``length`` counts the tokens
    up to and including ``eos``; ``length_penalty=0`` ranks by raw log-probability, 1 by the mean per
    token, which stops the search from preferring short outputs).

    Returns ``(tokens (B, L), scores (B,))`` for the best hypothesis of each sequence, or with
    ``return_all=True`` ``(tokens (B, K, L), scores (B, K), lengths (B, K))``, best first.  With
    ``beam_size=1`` it is greedy decoding.
    """
    _check_feed(feed)
    K = int(beam_size)
    if K < 1:
        raise ValueError(f"beam_search: beam_size must be a positive integer, got {beam_size}")
    reorder = reorder_state or index_state(0)
    first = _start_tokens(start, batch_size)
    B = len(first)
    flat = np.repeat(np.arange(B), K)                             # row b*K + k belongs to sequence b
    state = reorder(state, flat) if state is not None else None
    history = first[flat][:, None]
    scores = np.full((B, K), -np.inf)
    scores[:, 0] = 0.0                                            # one live beam to start from
    finished = np.zeros((B, K), bool)
    lengths = np.zeros((B, K), np.int64)
    with no_grad():
        for _ in range(int(max_len)):
            logits, state = _call(step_fn, history, state, feed)
            lp = log_softmax_np(logits).reshape(B, K, -1)
            tok, origin, scores, finished, lengths = _beam_step(lp, scores, finished, lengths, eos, pad)
            rows = (np.arange(B)[:, None] * K + origin).reshape(-1)
            history = np.concatenate([history[rows], tok.reshape(-1, 1)], axis=1)
            state = reorder(state, rows) if state is not None else None
            if finished.all():
                break
    tokens, norm, lengths = _ranked(history[:, 1:].reshape(B, K, -1), scores, lengths, length_penalty)
    if return_all:
        return from_numpy(tokens), from_numpy(norm), from_numpy(lengths)
    return from_numpy(tokens[:, 0]), from_numpy(norm[:, 0])
