"""Sequence metrics: edit distance, phoneme / word / character error rates, and BLEU.

* ``edit_distance(a, b)``: Levenshtein distance (insertions, deletions, substitutions, each 1).
  ``edit_distances(hyps, refs)`` computes many at once: the sequences are padded into (B, n) and
  (B, m) id arrays and the dynamic-programming table is filled one row at a time for the whole
  batch.  Within a row the insertion term ``D[i, j] = D[i, j-1] + 1`` is a running minimum:
  ``D[i, j] = min_k<=j (E[k] + j - k)`` with ``E[j] = min(D[i-1, j] + 1, D[i-1, j-1] + [a_i != b_j])``,
  i.e. ``np.minimum.accumulate(E - j) + j``; so the only Python loop is over the rows.
* ``error_rate(hyps, refs)`` = total edits / total reference length (corpus level, as ASR and G2P
  papers report it); ``phoneme_error_rate``, ``word_error_rate`` (on words of strings),
  ``character_error_rate`` name it for the usual units.  ``refs`` may hold several alternatives per
  item (``multi_reference=True``): the closest one is scored.  ``sequence_error_rate`` is the fraction of
  sequences not exactly right (what G2P papers call "word error rate").
* ``corpus_bleu(hyps, refs)`` (Papineni et al. 2002): clipped n-gram precisions ``p_n`` for n = 1..4
  pooled over the corpus, their geometric mean, times the brevity penalty ``BP = exp(1 - r/c)`` when
  the hypotheses' total length ``c`` is below the effective reference length ``r`` (the closest
  reference length per sentence, the shorter on ties), else 1.  ``BLEU = BP * exp(sum_n w_n log p_n)``,
  in [0, 1].  ``smoothing``: ``None`` (any zero precision gives 0), ``"floor"`` (a zero count becomes
  ``epsilon``, 0.1), ``"add-k"`` (k added to the counts and totals of n >= 2), ``"exp"`` (the k-th
  zero precision becomes 1 / (2^k * total)); these are sacrebleu's methods of the same names.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..autograd.tensor import Tensor

__all__ = ["edit_distance", "edit_distances", "error_rate", "phoneme_error_rate", "word_error_rate",
           "character_error_rate", "sequence_error_rate", "corpus_bleu", "sentence_bleu", "ngram_counts"]


def _seq(x):
    """A sequence of hashable tokens: strings stay strings (characters), arrays/Tensors become lists."""
    if isinstance(x, Tensor):
        x = x.data
    if isinstance(x, np.ndarray):
        return x.reshape(-1).tolist()
    return x


def _to_ids(seqs_a, seqs_b):
    """Both lists of token sequences as padded int arrays over one shared token table."""
    table = {}
    def ids(s):
        return [table.setdefault(t, len(table)) for t in s]
    a = [ids(_seq(s)) for s in seqs_a]
    b = [ids(_seq(s)) for s in seqs_b]
    la = np.fromiter((len(s) for s in a), np.int64, len(a))
    lb = np.fromiter((len(s) for s in b), np.int64, len(b))
    A = np.full((len(a), max(int(la.max(initial=0)), 1)), -1, np.int64)
    B = np.full((len(b), max(int(lb.max(initial=0)), 1)), -2, np.int64)
    for k, s in enumerate(a):
        A[k, :len(s)] = s
    for k, s in enumerate(b):
        B[k, :len(s)] = s
    return A, la, B, lb


def edit_distances(hyps, refs) -> np.ndarray:
    """Levenshtein distances between ``hyps[k]`` and ``refs[k]`` for every k, as an int64 array.

    Items are strings (compared by character) or sequences of tokens (lists, arrays, 1-d Tensors).
    """
    if len(hyps) != len(refs):
        raise ValueError(f"edit_distances: {len(hyps)} hypotheses but {len(refs)} references; expected as many")
    if len(hyps) == 0:
        return np.zeros(0, np.int64)
    A, la, B, lb = _to_ids(hyps, refs)
    n_batch, m = B.shape
    j = np.arange(m + 1, dtype=np.int64)
    row = np.broadcast_to(j, (n_batch, m + 1)).copy()       # D[0, j] = j
    out = np.where(la == 0, lb, 0)
    rows_b = np.arange(n_batch)
    for i in range(1, A.shape[1] + 1):
        cost = (A[:, i - 1, None] != B).astype(np.int64)     # (batch, m): substitution cost
        e = np.empty_like(row)
        e[:, 0] = i                                          # D[i, 0] = i
        e[:, 1:] = np.minimum(row[:, 1:] + 1, row[:, :-1] + cost)
        row = np.minimum.accumulate(e - j, axis=1) + j       # the insertions, as a running minimum
        done = la == i
        if done.any():
            out[done] = row[rows_b[done], lb[done]]
    return out


def edit_distance(a, b) -> int:
    """Levenshtein distance between two sequences (strings by character, or token sequences)."""
    return int(edit_distances([a], [b])[0])


def error_rate(hyps, refs, multi_reference: bool = False) -> float:
    """Total edit distance over total reference length (0 for a perfect match; can exceed 1).

    With ``multi_reference=True`` each ``refs[k]`` is a list of alternatives and the one closest to
    ``hyps[k]`` (fewest edits, then shortest) is scored.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"error_rate: {len(hyps)} hypotheses but {len(refs)} references; expected as many")
    if multi_reference:
        owner = np.fromiter((k for k, alts in enumerate(refs) for _ in alts), np.int64)
        flat = [r for alts in refs for r in alts]
        if any(len(alts) == 0 for alts in refs):
            raise ValueError("error_rate: every item needs at least one reference")
        d = edit_distances([hyps[k] for k in owner], flat)
        lens = np.fromiter((len(_seq(r)) for r in flat), np.int64, len(flat))
        # per item: the alternative with the fewest edits (ties: the shorter reference)
        order = np.lexsort((lens, d, owner))
        first = np.ones(len(order), bool)
        first[1:] = owner[order][1:] != owner[order][:-1]
        best = order[first]
        edits, total = int(d[best].sum()), int(lens[best].sum())
    else:
        edits = int(edit_distances(hyps, refs).sum())
        total = sum(len(_seq(r)) for r in refs)
    if total == 0:
        return 0.0 if edits == 0 else float("inf")
    return edits / total


def phoneme_error_rate(hyps, refs, multi_reference: bool = False) -> float:
    """PER: phoneme edits over reference phonemes (sequences of phoneme tokens or ids)."""
    return error_rate(hyps, refs, multi_reference)


def _words(x):
    return x.split() if isinstance(x, str) else _seq(x)


def word_error_rate(hyps, refs, multi_reference: bool = False) -> float:
    """WER: word edits over reference words; strings are split on whitespace, token lists used as is."""
    hyps = [_words(h) for h in hyps]
    refs = [[_words(r) for r in alts] for alts in refs] if multi_reference else [_words(r) for r in refs]
    return error_rate(hyps, refs, multi_reference)


def character_error_rate(hyps, refs) -> float:
    """CER: character edits over reference characters."""
    return error_rate(list(hyps), list(refs))


def sequence_error_rate(hyps, refs, multi_reference: bool = False) -> float:
    """Fraction of items whose hypothesis differs from the reference (from every alternative)."""
    if len(hyps) != len(refs):
        raise ValueError(f"sequence_error_rate: {len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        return 0.0
    wrong = 0
    for h, r in zip(hyps, refs):
        h = list(_seq(h))
        alts = r if multi_reference else [r]
        wrong += all(list(_seq(a)) != h for a in alts)
    return wrong / len(hyps)


# ---------------------------------------------------------------------------------------------- BLEU
def ngram_counts(tokens, n: int) -> Counter:
    """Counts of the n-grams (tuples) of a token sequence."""
    return Counter(zip(*(tokens[i:] for i in range(n))))


def _tokens(x):
    return x.split() if isinstance(x, str) else list(_seq(x))


def _bleu_stats(hyps, refs, max_n):
    """Pooled clipped matches and totals per order, hypothesis length c, effective reference length r."""
    matches, totals = np.zeros(max_n, np.int64), np.zeros(max_n, np.int64)
    c = r = 0
    for h, alts in zip(hyps, refs):
        h = _tokens(h)
        alts = [_tokens(a) for a in alts]
        if not alts:
            raise ValueError("corpus_bleu: every hypothesis needs at least one reference")
        c += len(h)
        r += min((abs(len(a) - len(h)), len(a)) for a in alts)[1]  # closest length, shorter on ties
        for n in range(1, max_n + 1):
            hc = ngram_counts(h, n)
            if not hc:
                continue
            best = Counter()
            for a in alts:
                best |= ngram_counts(a, n)                             # max count over references
            matches[n - 1] += sum(min(k, best[g]) for g, k in hc.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    return matches, totals, c, r


def corpus_bleu(hyps, refs, max_n: int = 4, weights=None, smoothing: str | None = None, epsilon: float = 0.1,
                k: float = 1.0, return_details: bool = False):
    """Corpus BLEU of ``hyps`` against ``refs`` (Papineni et al. 2002), in [0, 1].

    ``hyps``: token sequences (lists of tokens, or strings split on whitespace).  ``refs``: for each
    hypothesis either one reference sequence or a list of alternative references (detected: a list of
    lists / a list of strings per item), or pass ``refs`` as a list of lists of references.
    ``weights`` default to uniform ``1/max_n``.  ``smoothing`` in ``None``, ``"floor"``, ``"add-k"``,
    ``"exp"`` (see the module docstring).  ``return_details=True`` gives a dict with the score,
    precisions, brevity penalty, the lengths and the counts.
    """
    if len(hyps) != len(refs):
        raise ValueError(f"corpus_bleu: {len(hyps)} hypotheses but {len(refs)} references; expected as many")
    if smoothing not in (None, "none", "floor", "add-k", "exp"):
        raise ValueError(f"corpus_bleu: smoothing must be None, 'floor', 'add-k' or 'exp', got {smoothing!r}")
    refs = [_as_alternatives(r) for r in refs]
    weights = np.full(max_n, 1.0 / max_n) if weights is None else np.asarray(weights, np.float64)
    if weights.shape != (max_n,):
        raise ValueError(f"corpus_bleu: expected {max_n} weights, got shape {weights.shape}")
    matches, totals, c, r = _bleu_stats(hyps, refs, max_n)
    m, t = matches.astype(np.float64), totals.astype(np.float64)
    if smoothing == "add-k":
        m[1:] += k
        t[1:] += k
    precisions = np.where(t > 0, m / np.maximum(t, 1), 0.0)
    if smoothing == "floor":
        precisions = np.where((m == 0) & (t > 0), epsilon / np.maximum(t, 1), precisions)
    elif smoothing == "exp":
        inv = 1.0
        for n in range(max_n):
            if t[n] > 0 and m[n] == 0:
                inv *= 2
                precisions[n] = 1.0 / (inv * t[n])
    bp = 1.0 if c > r else (math.exp(1 - r / c) if c > 0 else 0.0)
    if c == 0 or np.any(precisions[weights > 0] <= 0):
        score = 0.0
    else:
        score = bp * math.exp(float(np.sum(weights * np.log(precisions))))
    if return_details:
        return {"bleu": score, "precisions": precisions.tolist(), "brevity_penalty": bp, "hyp_length": c,
                "ref_length": r, "matches": matches.tolist(), "totals": totals.tolist()}
    return score


def _as_alternatives(r):
    """One item's references as a list of token sequences."""
    if isinstance(r, str):
        return [r]
    r = _seq(r)
    if len(r) > 0 and all(isinstance(x, (list, tuple, str, np.ndarray, Tensor)) for x in r) and \
            not all(isinstance(x, str) and " " not in x for x in r):
        return [_seq(x) for x in r]  # a list of references (sequences, or whitespace-joined strings)
    return [r]


def sentence_bleu(hyp, refs, max_n: int = 4, weights=None, smoothing: str | None = "exp", **kwargs) -> float:
    """BLEU of one hypothesis (``refs``: one reference or a list of them); smoothed by default, as a
    single sentence often has no 4-gram match."""
    return corpus_bleu([hyp], [refs], max_n=max_n, weights=weights, smoothing=smoothing, **kwargs)
