"""Scores of a word segmentation given as per-character tags (1: the character begins a word, 0: it
continues one), with torchmetrics' interface (``update`` / ``compute`` / ``reset``).

Per character, over the real (non-padding) positions:

    accuracy  = #(pred == target) / #characters
    precision = TP / (TP + FP),  recall = TP / (TP + FN),  F1 = 2 P R / (P + R)   of the tag "begins"

Per word (the standard segmentation F1): a word is the span from one boundary to the next, and it is
right when *both* its boundaries are (no boundary inside it, none missing at its ends):

    word precision = #correct / #predicted words,  word recall = #correct / #true words,
    word F1 = 2 #correct / (#predicted + #true)

The first character of a sample always begins a word: for the word scores it is a boundary whatever
was predicted (the character scores count the prediction as it is).  ``ignore_index`` marks padding in
the target (PyTorch's -100 by default); padding must come after a sample's real characters.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor

__all__ = ["WordSegmentationScores", "word_spans", "segmentation_scores"]

_COUNTS = ("chars", "correct_chars", "tp", "fp", "fn", "pred_words", "true_words", "correct_words")


def _array(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def word_spans(tags, lengths) -> np.ndarray:
    """Codes ``start * (N + 1) + end`` of the words of samples whose ``tags`` (flat, the samples one after
    another, ``N`` characters in all) are given with their ``lengths``: a word runs from a tagged
    character (or a sample's first) to the next one (or the sample's end).  Unique per word, so two
    segmentations share a word exactly when they share its code."""
    tags, lengths = np.asarray(tags).reshape(-1), np.asarray(lengths, dtype=np.int64).reshape(-1)
    n = tags.size
    if int(lengths.sum()) != n:
        raise ValueError(f"word_spans: lengths sum to {int(lengths.sum())} but {n} tags were given")
    begins = tags == 1
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    begins[starts[lengths > 0]] = True
    bounds = np.concatenate([np.nonzero(begins)[0], [n]])
    return bounds[:-1] * (n + 1) + bounds[1:]


class WordSegmentationScores:
    """Accumulates the character and word scores over batches.

    ``update(preds, target)``: ``preds`` and ``target`` (B, T) tags (ints), ``target`` holding
    ``ignore_index`` at padding; or flat tags of several samples with ``lengths=``.  ``compute()`` gives
    ``accuracy, precision, recall, f1`` (characters, tag "begins") and ``word_precision, word_recall,
    word_f1``, plus the counts behind them."""

    def __init__(self, ignore_index: int = -100):
        self.ignore_index = int(ignore_index)
        self.reset()

    def reset(self) -> None:
        self.counts = dict.fromkeys(_COUNTS, 0)

    def update(self, preds, target, lengths=None) -> None:
        preds, target = _array(preds), _array(target)
        if preds.shape != target.shape:
            raise ValueError(f"WordSegmentationScores.update: preds of shape {preds.shape} and target of shape "
                             f"{target.shape}; expected the same shape")
        if lengths is None:
            if target.ndim != 2:
                raise ValueError("WordSegmentationScores.update: without lengths, expected (B, T) tags with "
                                 f"ignore_index at padding, got shape {target.shape}")
            real = target != self.ignore_index
            lengths = real.sum(1)
            if np.any(real[:, 1:] & ~real[:, :-1]):
                raise ValueError("WordSegmentationScores.update: padding (ignore_index) must follow a sample's real "
                                 "characters, not come between them")
            preds, target = preds[real], target[real]  # row-major: the samples one after another
        p, t = preds.reshape(-1).astype(np.int64), target.reshape(-1).astype(np.int64)
        pw, tw = word_spans(p, lengths), word_spans(t, lengths)
        c = self.counts
        c["chars"] += int(t.size)
        c["correct_chars"] += int((p == t).sum())
        c["tp"] += int(((p == 1) & (t == 1)).sum())
        c["fp"] += int(((p == 1) & (t != 1)).sum())
        c["fn"] += int(((p != 1) & (t == 1)).sum())
        c["pred_words"] += int(pw.size)
        c["true_words"] += int(tw.size)
        c["correct_words"] += int(np.intersect1d(pw, tw, assume_unique=True).size)

    def compute(self) -> dict:
        c = self.counts
        precision, recall = _ratio(c["tp"], c["tp"] + c["fp"]), _ratio(c["tp"], c["tp"] + c["fn"])
        wp, wr = _ratio(c["correct_words"], c["pred_words"]), _ratio(c["correct_words"], c["true_words"])
        return {"accuracy": _ratio(c["correct_chars"], c["chars"]), "precision": precision, "recall": recall,
                "f1": _ratio(2 * c["tp"], 2 * c["tp"] + c["fp"] + c["fn"]),
                "word_precision": wp, "word_recall": wr,
                "word_f1": _ratio(2 * c["correct_words"], c["pred_words"] + c["true_words"]), **c}


def _ratio(a, b) -> float:
    return float(a) / b if b else 0.0


def segmentation_scores(preds, target, lengths=None, ignore_index: int = -100) -> dict:
    """The scores of one segmentation (``WordSegmentationScores`` on one batch)."""
    m = WordSegmentationScores(ignore_index)
    m.update(preds, target, lengths)
    return m.compute()
