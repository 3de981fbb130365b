"""Sequence-to-sequence models on a PairDataset: the step (teacher forcing), its batches, and the
evaluation by decoding (phoneme / word error rate, or BLEU).

The decoder reads the true previous token ``tgt_in`` and predicts ``tgt_out``; the model supplies
``model.loss(src, src_len, tgt_in, tgt_out, pad=...)`` and ``model.decode(src, src_len, max_len,
beam_size)``.  Batches hold pairs of similar source length (``BucketBatchSampler``: little padding).

Data parallelism: training batches are ``BucketBatches.shard``'s (batches r, r+N, ... of the epoch every rank
draws).  Evaluation sorts the pairs by source length and cuts them into batches as one process does; rank r
decodes its contiguous share of those batches (``seq2seq_sums``: each batch exactly one process's), and the
ranks' loss sums, token counts and decoded sequences are joined (``add_seq2seq_sums``) before scoring: the
error rates and BLEU are corpus figures, computed once over every pair (``seq2seq_figures``), never a mean of
the ranks' figures.
"""
from __future__ import annotations

import numpy as np

from ..text_metrics import corpus_bleu, error_rate
from .base import Step
from .batches import BucketBatches, batch_tensors  # noqa: F401
from .sharding import contiguous_share

METRICS = ("per", "wer", "bleu")


def seq2seq_loss(logits, tgt_out, pad: int = 0):
    """Mean cross-entropy over the non-padding target tokens: logits (N, V) rows for tgt_out flattened."""
    from ...ops.loss import cross_entropy
    return cross_entropy(logits, tgt_out.reshape(-1), ignore_index=pad)


class PairBatches(BucketBatches):
    """An epoch of a PairDataset's ``(src, src_len, tgt_in, tgt_out)`` batches, bucketed by source length."""

    def __init__(self, dataset, batch_size: int, seed: int = 0):
        super().__init__(dataset, batch_size, shuffle=True, seed=seed, lengths=dataset.src_lengths)


class PairSubset:
    """Validation data for a seq2seq model: the first ``limit`` pairs, decoded with ``beam_size``."""

    def __init__(self, dataset, limit: int | None = 500, beam_size: int = 1):
        self.dataset, self.limit, self.beam_size = dataset, limit, beam_size


def seq2seq_sums(model, dataset, limit: int | None = None, batch_size: int = 256, beam_size: int = 1,
                 max_len: int | None = None, rank: int = 0, num_replicas: int = 1) -> dict:
    """Rank's share of the evaluation of (the first ``limit`` pairs of) ``dataset``: ``{"loss_sum"`` (the
    teacher-forced cross-entropy summed over non-padding target tokens), ``"count"`` (those tokens), ``"n"``
    (the pairs evaluated by all ranks), ``"outputs"``: ``{pair index: (hypothesis, reference)}}``; call in
    eval mode without a graph (``Step.run_eval``)."""
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    first, last = contiguous_share(-(-n // batch_size), rank, num_replicas, "seq2seq_sums")  # rank's batches
    order = np.argsort(dataset.src_lengths[:n], kind="stable")  # similar lengths: little padding
    tv = dataset.tgt_vocab
    pad = tv.pad_index
    outputs, total, count = {}, 0.0, 0
    for a in range(first * batch_size, last * batch_size, batch_size):
        idx = order[a:a + batch_size]
        src, src_len, tgt_in, tgt_out = batch_tensors(dataset, idx)
        loss = model.loss(src, src_len, tgt_in, tgt_out, pad=pad)
        k = int((tgt_out.data != pad).sum())
        total += float(loss.data) * k
        count += k
        out = model.decode(src, src_len, max_len=max_len or int(tgt_out.shape[1]) + 10, beam_size=beam_size)
        for j, i in enumerate(idx.tolist()):
            outputs[i] = (tv.decode_tokens(out.data[j]), tv.decode_tokens(tgt_out.data[j]))
    return {"loss_sum": total, "count": count, "n": n, "outputs": outputs}


def add_seq2seq_sums(parts: list) -> dict:
    """The ``seq2seq_sums`` of every rank joined."""
    outputs = {}
    for p in parts:
        outputs.update(p["outputs"])
    return {"loss_sum": sum(p["loss_sum"] for p in parts), "count": sum(p["count"] for p in parts),
            "n": parts[0]["n"], "outputs": outputs}


def seq2seq_figures(sums: dict, dataset, metric: str = "per", multi_reference: bool = False,
                    return_outputs: bool = False) -> dict:
    """The loss, ``n`` and the decoded figures (``_score``) of (joined) ``seq2seq_sums``."""
    n = sums["n"]
    hyps = [sums["outputs"][i][0] for i in range(n)]
    refs = [sums["outputs"][i][1] for i in range(n)]
    res = {"loss": sums["loss_sum"] / max(sums["count"], 1), "n": n,
           **_score(dataset, hyps, refs, n, metric, multi_reference)}
    if return_outputs:
        res["hyps"], res["refs"] = hyps, refs
    return res


def _score(dataset, hyps, refs, n, metric, multi_reference) -> dict:
    if metric == "bleu":
        return {"bleu": corpus_bleu(hyps, [[r] for r in refs], smoothing="exp")}
    if multi_reference and hasattr(dataset, "pronunciations") and hasattr(dataset, "words"):
        multi = [dataset.pronunciations.get(dataset.words[i], [refs[i]]) for i in range(n)]
        res = {metric: error_rate(hyps, multi, multi_reference=True)}
    else:
        res = {metric: error_rate(hyps, refs)}
    res["ser"] = float(np.mean([h != r for h, r in zip(hyps, refs)])) if n else 0.0
    return res


def evaluate_seq2seq(model, dataset, limit: int | None = None, batch_size: int = 256, beam_size: int = 1,
                     metric: str = "per", max_len: int | None = None, multi_reference: bool = False,
                     return_outputs: bool = False) -> dict:
    """Teacher-forced loss and decoded quality on (the first ``limit`` pairs of) a PairDataset.

    ``metric="per"``: token error rate of the decoded sequences against the references (edit distance
    over total reference length: the phoneme error rate for G2P, the word error rate for words), plus
    ``"ser"`` (the fraction of sequences not exactly right); ``multi_reference=True`` scores against the
    closest of a word's pronunciations (``dataset.pronunciations``).  ``metric="bleu"``: corpus BLEU
    (4-gram, ``exp`` smoothing).  Greedy when ``beam_size == 1``, else beam search."""
    if metric not in METRICS:
        raise ValueError(f"evaluate_seq2seq: metric must be 'per', 'wer' or 'bleu', got {metric!r}")
    step = Step({"model": model}, {})
    sums = step.run_eval(seq2seq_sums, model, dataset, limit, batch_size, beam_size, max_len)
    return seq2seq_figures(sums, dataset, metric, multi_reference, return_outputs)


class Seq2SeqStep(Step):
    """Teacher-forced cross-entropy over the non-padding target tokens; ``evaluate(PairSubset)`` decodes
    and scores with ``metric`` ("per": lower is better; "bleu": higher is better).  ``return_outputs``:
    whether the figures also give ``n`` and the decoded ``hyps`` and their ``refs`` (token lists, in the
    data set's order); the final report sets it around its evaluations, validation leaves it off (the
    training history keeps numbers only)."""

    return_outputs = False

    def __init__(self, model, optimizer, pad: int, metric: str = "per"):
        if metric not in METRICS:
            raise ValueError(f"Seq2SeqStep: metric must be one of {METRICS}, got {metric!r}")
        super().__init__({"model": model}, {"optimizer": optimizer})
        self.model, self.optimizer, self.pad, self.metric = model, optimizer, pad, metric
        self.monitor = (f"val_{metric}", "max" if metric == "bleu" else "min")

    def train_step(self, batch) -> dict:
        src, src_len, tgt_in, tgt_out = batch
        self.optimizer.zero_grad()
        loss = self.model.loss(src, src_len, tgt_in, tgt_out, pad=self.pad)
        return {"loss": self.minimize(loss, self.optimizer)}

    def evaluate(self, data) -> dict:
        return self.figures_from_sums(self.evaluate_sums(data))

    def evaluate_sums(self, data, rank: int = 0, num_replicas: int = 1) -> dict:
        """Rank's share of the validation pairs decoded (``seq2seq_sums``)."""
        if not isinstance(data, PairSubset):
            data = PairSubset(data)
        return self.run_eval(seq2seq_sums, self.model, data.dataset, data.limit, beam_size=data.beam_size,
                             rank=rank, num_replicas=num_replicas)

    @staticmethod
    def add_sums(parts: list) -> dict:
        return add_seq2seq_sums(parts)

    def figures_from_sums(self, sums: dict) -> dict:
        """The loss and the metric (and ``ser``) over every pair of the joined sums (with ``return_outputs``
        also ``n``, ``hyps`` and ``refs``)."""
        res = seq2seq_figures(sums, None, self.metric, return_outputs=self.return_outputs)
        return res if self.return_outputs else {k: v for k, v in res.items() if k != "n"}
