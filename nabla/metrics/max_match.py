"""The dictionary baseline of word segmentation: greedy forward maximum matching.

Reading a space-free text from the left, take the longest dictionary word that starts here; where none
does, the character alone is a word (an unknown character, or a word the dictionary lacks, is cut
into single characters); continue after it:

    start_0 = 0,   start_{k+1} = start_k + max(1, longest dictionary word at start_k)

Vectorised, without a loop over characters:

1. ``m[i]``, the longest dictionary word starting at each position ``i`` (within its sample): for each
   word length ``L`` in the dictionary, the length-``L`` windows of the text (code points viewed as
   fixed-width strings) looked up among the dictionary's words of that length (``np.isin``);
2. the greedy walk ``i -> i + max(1, m[i])`` as a jump table; the word starts are the positions it
   visits from each sample's first character, found by pointer doubling: ``R <- R | J[R]``,
   ``J <- J[J]`` visits ``2^k`` steps after ``k`` rounds (log2 of the longest sample rounds).
"""
from __future__ import annotations

import numpy as np

__all__ = ["MaxMatch"]


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


class MaxMatch:
    """``MaxMatch(words)``: a forward-maximum-matching segmenter with the dictionary ``words``.

    ``tags(chars, lengths=None)``: per-character tags (int64, 1 where a word begins) of ``chars`` (one
    string: the samples without their spaces, one after another, ``lengths`` characters each; one sample
    when omitted).  ``segment(text)``: the words of one space-free text."""

    def __init__(self, words):
        words = {w for w in words if w}
        if not words:
            raise ValueError("MaxMatch: the dictionary is empty; expected at least one word")
        by_length: dict = {}
        for w in words:
            by_length.setdefault(len(w), []).append(w)
        # ascending, so that a longer match overwrites a shorter one
        self.by_length = {n: np.array(sorted(ws), dtype=f"<U{n}") for n, ws in sorted(by_length.items())}
        self.max_length = max(self.by_length)

    def __len__(self) -> int:
        return sum(len(a) for a in self.by_length.values())

    def longest_match(self, chars: str, lengths=None) -> np.ndarray:
        """``m[i]``: the length of the longest dictionary word starting at character ``i`` and ending
        within its sample (0 where none does)."""
        cps = _code_points(chars)
        n = cps.size
        ends = _sample_ends(n, lengths)
        pos = np.arange(n, dtype=np.int64)
        padded = np.concatenate([cps, np.zeros(self.max_length, np.uint32)])
        best = np.zeros(n, np.int64)
        for length, words in self.by_length.items():
            windows = np.lib.stride_tricks.sliding_window_view(padded, length)[:n]
            strings = np.ascontiguousarray(windows).view(f"<U{length}").reshape(n)
            hit = (pos + length <= ends) & np.isin(strings, words)
            best[hit] = length
        return best

    def tags(self, chars: str, lengths=None) -> np.ndarray:
        n = len(chars)
        lengths = np.array([n], np.int64) if lengths is None else np.asarray(lengths, np.int64).reshape(-1)
        if int(lengths.sum()) != n:
            raise ValueError(f"MaxMatch.tags: lengths sum to {int(lengths.sum())} but the text has {n} characters")
        jump = np.arange(n, dtype=np.int64) + np.maximum(self.longest_match(chars, lengths), 1)
        jump = np.concatenate([jump, [n]])  # position n (past the end) is where every walk stops
        reached = np.zeros(n + 1, bool)
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        reached[starts[lengths > 0]] = True
        for _ in range(int(max(lengths.max(initial=0), 1)).bit_length()):  # 2^rounds > the longest sample
            reached[jump[reached]] = True
            jump = jump[jump]
        return reached[:n].astype(np.int64)

    def segment(self, text: str) -> list:
        """The words of one space-free ``text``."""
        bounds = np.concatenate([np.nonzero(self.tags(text))[0], [len(text)]]).tolist()
        return [text[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def _sample_ends(n: int, lengths) -> np.ndarray:
    """For each of ``n`` characters, the end (exclusive) of the sample it belongs to."""
    if lengths is None:
        return np.full(n, n, np.int64)
    lengths = np.asarray(lengths, np.int64).reshape(-1)
    return np.repeat(np.cumsum(lengths), lengths)
