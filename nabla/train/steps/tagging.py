"""Sequence labelling: one tag per token, scored per token with padding left out.

A batch is ``(tokens (B, T), lengths (B,), tags (B, T))`` with ``tags == ignore_index`` (-100) at
padding; the model maps ``(tokens, lengths)`` to logits (B, T, C).  The loss is the mean cross-entropy
over the real tokens,

    L = -(1 / #real) sum_{b, t : tags[b, t] != ignore_index} log softmax(logits[b, t])[tags[b, t]]

(``CrossEntropyLoss(ignore_index=-100)``, PyTorch's semantics), and evaluation adds the scores of a word
segmentation (``nabla.metrics.word_segmentation``: per-character accuracy, precision / recall / F1 of the
"begins a word" tag, word F1) of the argmax tags.  Batches hold samples of similar length
(``BucketBatchSampler``: little padding).

Data parallelism: ``evaluate_sums(dataset, rank, num_replicas)`` scores the rank's contiguous share of the
samples and gives the summed loss, the token count and ``WordSegmentationScores``' counts (characters, tp,
fp, fn, words; a word never crosses a sample, so the counts of disjoint samples add); the ranks add theirs
and ``figures_from_sums`` computes the scores from the total: one process's figures.
"""
from __future__ import annotations

import numpy as np

from ... import nn
from ...metrics.word_segmentation import WordSegmentationScores
from .base import Step
from .batches import BucketBatches, batch_tensors  # noqa: F401
from .sharding import add_counts, contiguous_share

IGNORE_INDEX = -100
EVAL_BATCH = 256


TagBatches = BucketBatches  # a tagging data set's batches: (tokens, lengths, tags)


def tagging_loss(loss_fn, logits, tags):
    """``loss_fn`` on the logits (B, T, C) and tags (B, T) flattened to (B*T, C) and (B*T,)."""
    return loss_fn(logits.reshape(-1, logits.shape[-1]), tags.reshape(-1))


def predict_tags(model, dataset, batch_size: int = EVAL_BATCH, limit: int | None = None, start: int = 0) -> tuple:
    """``(tags, loss_sum, count)``: the argmax tags of samples ``start`` to ``limit`` (default: all), flat in
    sample order (as ``dataset.tags``), and the summed cross-entropy over their real tokens (call in eval
    mode, without a graph).  Each batch's tags go straight to their place in the flat array
    (``dataset.offsets``)."""
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    order = start + np.argsort(dataset.lengths[start:n], kind="stable")  # similar lengths: little padding
    loss_fn = nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX, reduction="sum")
    out = np.zeros(int(dataset.lengths[start:n].sum()), np.int64)
    first = int(dataset.offsets[start]) if n > start else 0
    total, count = 0.0, 0
    for a in range(0, n - start, batch_size):
        idx = order[a:a + batch_size]
        tokens, lengths, tags = batch_tensors(dataset, idx)
        logits = model(tokens, lengths)
        total += float(tagging_loss(loss_fn, logits, tags).item())
        count += int(lengths.data.sum())
        real = tags.data != IGNORE_INDEX
        where = dataset.offsets[idx][:, None] - first + np.arange(real.shape[1])
        out[where[real]] = logits.data.argmax(-1)[real]
    return out, total, count


def score_tags(pred, dataset, n: int | None = None) -> dict:
    """The segmentation scores of flat predicted tags against the first ``n`` samples' true tags."""
    n = len(dataset) if n is None else n
    lengths = dataset.lengths[:n]
    scores = WordSegmentationScores(IGNORE_INDEX)
    scores.update(pred, dataset.tags[:int(lengths.sum())], lengths)
    return scores.compute()


def evaluate_tagger(model, dataset, limit: int | None = None, batch_size: int = EVAL_BATCH,
                    return_tags: bool = False) -> dict:
    """Mean per-token loss and the segmentation scores on (the first ``limit`` samples of) a data set."""
    step = Step({"model": model}, {})
    tags, total, count = step.run_eval(predict_tags, model, dataset, batch_size, limit)
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    res = {"loss": total / max(count, 1), **score_tags(tags, dataset, n)}
    if return_tags:
        res["tags"] = tags
    return res


class TaggingStep(Step):
    """Per-token cross-entropy with padding ignored; ``evaluate(dataset)`` scores the whole split (the
    checkpoint to keep is the best validation word F1)."""

    monitor = ("val_word_f1", "max")
    REPORTED = ("loss", "accuracy", "precision", "recall", "f1", "word_f1")

    def __init__(self, model, optimizer, loss_fn=None):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer = model, optimizer
        self.loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX)

    def train_step(self, batch) -> dict:
        tokens, lengths, tags = batch
        self.optimizer.zero_grad()
        logits = self.model(tokens, lengths)
        loss = tagging_loss(self.loss_fn, logits, tags)
        real = tags.data != IGNORE_INDEX
        accuracy = float((logits.data.argmax(-1) == tags.data)[real].mean())
        return {"loss": self.minimize(loss, self.optimizer), "accuracy": accuracy, "batch_size": int(real.sum())}

    def evaluate(self, dataset) -> dict:
        """Mean per-token loss and the segmentation scores over all of ``dataset`` (the sums of one share)."""
        return self.figures_from_sums(self.evaluate_sums(dataset))

    def evaluate_sums(self, dataset, rank: int = 0, num_replicas: int = 1) -> dict:
        """The rank's contiguous share of ``dataset``'s samples scored: ``{"loss_sum", "tokens", counts...}``."""
        a, b = contiguous_share(len(dataset), rank, num_replicas, "TaggingStep.evaluate_sums")
        tags, total, count = self.run_eval(predict_tags, self.model, dataset, EVAL_BATCH, b, a)
        scores = WordSegmentationScores(IGNORE_INDEX)
        if b > a:
            first = int(dataset.offsets[a])
            scores.update(tags, dataset.tags[first:first + tags.size], dataset.lengths[a:b])
        return {"loss_sum": total, "tokens": count, **scores.counts}

    add_sums = staticmethod(add_counts)

    def figures_from_sums(self, sums: dict) -> dict:
        scores = WordSegmentationScores(IGNORE_INDEX)
        scores.counts = {k: v for k, v in sums.items() if k not in ("loss_sum", "tokens")}
        res = {"loss": sums["loss_sum"] / max(sums["tokens"], 1), **scores.compute()}
        return {k: res[k] for k in self.REPORTED}
