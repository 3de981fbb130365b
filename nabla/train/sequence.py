"""Training and evaluation loops for sequence models: language models and sequence-to-sequence models.

Language models (``train_lm``, ``evaluate_lm``) see a token stream.  A recurrent model (``model.stateful``)
reads it as ``batch_size`` parallel rows walked ``seq_len`` tokens at a time (LMStreamLoader), carrying
its state from one chunk to the next and detaching it in between: truncated backpropagation through
time, gradients flow back at most ``seq_len`` steps while the state sees the whole row.  A Transformer
reads ``batch_size`` windows at random positions (it has no state to carry).  Every step clips the
gradient norm (exploding gradients are the recurrent network's classic failure).  Losses are
cross-entropies in nats per token (per character for char-level models).

Sequence-to-sequence models (``train_seq2seq``, ``evaluate_seq2seq``) learn with teacher forcing: the
decoder reads the true previous token ``tgt_in`` and predicts ``tgt_out``; evaluation decodes greedily
or with beam search and scores phoneme / word error rates and BLEU.

A model supplies ``model.loss(...)`` (it picks the cheapest layout for its logits) and ``model.step``
or ``model.decode``; the loops add nothing per step beyond zero_grad, backward, clipping and the update.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ..autograd import no_grad
from ..autograd.tensor import Tensor
from ..data.text.corpus import LMStreamLoader
from ..nn.utils import clip_grad_norm_
from ..nn.utils.rnn import detach_hidden
from .text_metrics import corpus_bleu, error_rate

__all__ = ["train_lm", "evaluate_lm", "random_windows", "lr_at", "train_seq2seq", "evaluate_seq2seq",
           "seq2seq_loss"]


def _ids(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.int64).reshape(-1)


def _t(a) -> Tensor:
    return Tensor._make(np.ascontiguousarray(a), None)


def random_windows(ids: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator):
    """``(x, y)`` (B, T) int64: ``batch_size`` windows at uniformly random starts, ``y`` shifted by one."""
    starts = rng.integers(0, len(ids) - seq_len - 1, batch_size)
    win = ids[starts[:, None] + np.arange(seq_len + 1)]
    return _t(win[:, :-1]), _t(win[:, 1:])


def lr_at(base_lr: float, progress: float, step: int, warmup: int = 0, min_ratio: float = 0.1) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``base_lr`` to ``min_ratio * base_lr`` as
    ``progress`` (the fraction of the budget spent, steps or seconds) goes from 0 to 1."""
    if warmup and step < warmup:
        return base_lr * (step + 1) / warmup
    p = min(max(progress, 0.0), 1.0)
    return base_lr * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def evaluate_lm(model, ids, batch_size: int = 32, seq_len: int = 256, max_tokens: int | None = None) -> float:
    """Mean next-token cross-entropy (nats per token) over the stream ``ids`` (its first ``max_tokens``).

    A stateful model reads ``batch_size`` contiguous rows, its state carried over the whole row; a
    Transformer reads non-overlapping windows of ``seq_len`` (at most its ``max_len``) tokens, each
    scored from its own start (so the first tokens of a window have little context)."""
    ids = _ids(ids)
    if max_tokens is not None:
        ids = ids[:int(max_tokens) + 1]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with no_grad():
            if getattr(model, "stateful", False):
                batch_size = max(1, min(batch_size, (len(ids) - 1) // 2))
                state = None
                for x, y in LMStreamLoader(ids, batch_size, seq_len):
                    loss, state = model.loss(x, y, state)
                    total += float(loss.data) * y.numel()
                    count += y.numel()
            else:
                T = min(seq_len, getattr(model, "max_len", seq_len))
                n = (len(ids) - 1) // T
                win = ids[:n * T + 1]
                xs, ys = win[:-1].reshape(n, T), win[1:].reshape(n, T)
                for a in range(0, n, batch_size):
                    x, y = _t(xs[a:a + batch_size]), _t(ys[a:a + batch_size])
                    loss, _ = model.loss(x, y)
                    total += float(loss.data) * y.numel()
                    count += y.numel()
    finally:
        model.train(was_training)
    return total / max(count, 1)


def train_lm(model, train_ids, val_ids, optimizer, batch_size: int = 64, seq_len: int = 128, epochs: float = 1.0,
             max_steps: int | None = None, time_budget: float | None = None, clip: float | None = 1.0,
             warmup: int = 0, min_lr_ratio: float = 0.1, eval_every: int = 200, eval_tokens: int | None = 50_000,
             seed: int = 0, clock=time.perf_counter, log=print, on_eval=None) -> dict:
    """Train a language model on ``train_ids`` (a 1-d token stream); returns the history
    ``{"step", "time", "train_loss", "val_loss", "lr"}`` (time: seconds of training, evaluation excluded).

    Stops after ``epochs`` passes over the text, ``max_steps`` steps or ``time_budget`` seconds, whichever
    comes first; the learning rate warms up over ``warmup`` steps, then decays by a cosine over that
    budget (``lr_at``).  Every ``eval_every`` steps (and at the end) the validation loss is measured on
    the first ``eval_tokens`` tokens of ``val_ids`` (all of them when None) and ``on_eval(history)`` runs.
    ``clock`` measures the budget: ``time.perf_counter`` (wall) or ``time.process_time`` (CPU seconds).
    """
    train_ids, val_ids = _ids(train_ids), _ids(val_ids)
    stateful = getattr(model, "stateful", False)
    steps_per_epoch = max(1, (len(train_ids) - 1) // (batch_size * seq_len))
    limit = int(math.ceil(epochs * steps_per_epoch))
    if max_steps is not None:
        limit = min(limit, int(max_steps))
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    params = [p for g in optimizer.param_groups for p in g["params"]]
    rng = np.random.default_rng(seed)
    hist = {"step": [], "time": [], "train_loss": [], "val_loss": [], "lr": []}
    model.train()

    def batches():
        epoch = 0
        while True:
            if stateful:
                yield None  # marks a new epoch: the state starts from zero
                yield from LMStreamLoader(train_ids, batch_size, seq_len, drop_last=True, random_offset=True,
                                          seed=seed + epoch)
            else:
                for _ in range(steps_per_epoch):
                    yield random_windows(train_ids, batch_size, seq_len, rng)
            epoch += 1

    state, elapsed, step, running, seen = None, 0.0, 0, 0.0, 0
    it = batches()
    t0 = clock()
    while step < limit:
        batch = next(it)
        if batch is None:
            state = None
            continue
        x, y = batch
        progress = step / limit
        if time_budget:
            progress = max(progress, elapsed / time_budget)
        lr = 0.0
        for g, base in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr = lr_at(base, progress, step, warmup, min_lr_ratio)
        optimizer.zero_grad()
        loss, state = model.loss(x, y, detach_hidden(state) if stateful else None)
        loss.backward()
        if clip:
            clip_grad_norm_(params, clip)
        optimizer.step()
        value = float(loss.data)
        if not math.isfinite(value):
            from .trainer import TrainingDiverged
            raise TrainingDiverged(f"train_lm: the loss became {value} at step {step + 1} (lr {lr:.3g}); "
                                   "lower --lr or the clipping threshold")
        step += 1
        running += value
        seen += 1
        elapsed = clock() - t0
        out_of_time = time_budget is not None and elapsed >= time_budget
        if step % eval_every == 0 or step >= limit or out_of_time:
            val = evaluate_lm(model, val_ids, seq_len=seq_len * 2 if stateful else seq_len, max_tokens=eval_tokens)
            for k, v in (("step", step), ("time", elapsed), ("train_loss", running / seen), ("val_loss", val),
                         ("lr", lr)):
                hist[k].append(v)
            if log:
                log(f"step {step}/{limit}  {elapsed:7.1f} s  train loss {running / seen:.4f}  val loss {val:.4f} "
                    f"nats/token  lr {lr:.2e}")
            running, seen = 0.0, 0
            if on_eval is not None:
                on_eval(hist)
            t0 = clock() - elapsed  # evaluation time does not count against the budget
        if out_of_time:
            break
    for g, base in zip(optimizer.param_groups, base_lrs):
        g["lr"] = base
    return hist


# ---------------------------------------------------------------------------------------------- seq2seq
def seq2seq_loss(logits, tgt_out, pad: int = 0):
    """Mean cross-entropy over the non-padding target tokens: logits (N, V) rows for tgt_out flattened."""
    from ..ops.loss import cross_entropy
    return cross_entropy(logits, tgt_out.reshape(-1), ignore_index=pad)


def _batch_tensors(dataset, idx):
    return tuple(_t(a) for a in dataset.get_batch(idx))


def train_seq2seq(model, train_set, val_set, optimizer, batch_size: int = 64, epochs: float = 10,
                  max_steps: int | None = None, time_budget: float | None = None, clip: float | None = 1.0,
                  warmup: int = 0, min_lr_ratio: float = 0.05, eval_every: int | None = None, eval_size: int = 500,
                  beam_size: int = 1, metric: str = "per", seed: int = 0, clock=time.perf_counter, log=print,
                  on_eval=None) -> dict:
    """Teacher-forced training of an encoder-decoder on a PairDataset (batches of similar source lengths,
    BucketBatchSampler); returns ``{"step", "time", "train_loss", "val_loss", "val_metric", "lr"}``.

    Every ``eval_every`` steps (default: once an epoch) the validation loss and ``metric`` ("per" for
    phoneme/word error rate, "bleu") are measured on the first ``eval_size`` validation pairs."""
    from ..data.text.pairs import BucketBatchSampler
    sampler = BucketBatchSampler(train_set.src_lengths, batch_size, shuffle=True, seed=seed)
    steps_per_epoch = len(sampler)
    limit = int(math.ceil(epochs * steps_per_epoch))
    if max_steps is not None:
        limit = min(limit, int(max_steps))
    eval_every = eval_every or steps_per_epoch
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    params = [p for g in optimizer.param_groups for p in g["params"]]
    hist = {"step": [], "time": [], "train_loss": [], "val_loss": [], "val_metric": [], "lr": []}
    pad = train_set.tgt_vocab.pad_index
    model.train()

    def batches():
        while True:
            yield from sampler.index_batches()

    it = batches()
    step, elapsed, running, seen = 0, 0.0, 0.0, 0
    t0 = clock()
    while step < limit:
        src, src_len, tgt_in, tgt_out = _batch_tensors(train_set, next(it))
        progress = step / limit
        if time_budget:
            progress = max(progress, elapsed / time_budget)
        lr = 0.0
        for g, base in zip(optimizer.param_groups, base_lrs):
            g["lr"] = lr = lr_at(base, progress, step, warmup, min_lr_ratio)
        optimizer.zero_grad()
        loss = model.loss(src, src_len, tgt_in, tgt_out, pad=pad)
        loss.backward()
        if clip:
            clip_grad_norm_(params, clip)
        optimizer.step()
        value = float(loss.data)
        if not math.isfinite(value):
            from .trainer import TrainingDiverged
            raise TrainingDiverged(f"train_seq2seq: the loss became {value} at step {step + 1} (lr {lr:.3g})")
        step += 1
        running += value
        seen += 1
        elapsed = clock() - t0
        out_of_time = time_budget is not None and elapsed >= time_budget
        if step % eval_every == 0 or step >= limit or out_of_time:
            res = evaluate_seq2seq(model, val_set, limit=eval_size, beam_size=beam_size, metric=metric)
            for k, v in (("step", step), ("time", elapsed), ("train_loss", running / seen),
                         ("val_loss", res["loss"]), ("val_metric", res[metric]), ("lr", lr)):
                hist[k].append(v)
            if log:
                log(f"step {step}/{limit} (epoch {step / steps_per_epoch:.2f})  {elapsed:7.1f} s  train loss "
                    f"{running / seen:.4f}  val loss {res['loss']:.4f}  val {metric.upper()} "
                    f"{res[metric] * 100:.2f}%  lr {lr:.2e}")
            running, seen = 0.0, 0
            if on_eval is not None:
                on_eval(hist)
            t0 = clock() - elapsed
        if out_of_time:
            break
    for g, base in zip(optimizer.param_groups, base_lrs):
        g["lr"] = base
    return hist


def evaluate_seq2seq(model, dataset, limit: int | None = None, batch_size: int = 256, beam_size: int = 1,
                     metric: str = "per", max_len: int | None = None, multi_reference: bool = False,
                     return_outputs: bool = False) -> dict:
    """Teacher-forced loss and decoded quality on (the first ``limit`` pairs of) a PairDataset.

    ``metric="per"``: token error rate of the decoded sequences against the references (edit distance
    over total reference length: the phoneme error rate for G2P, the word error rate for words), plus
    ``"ser"`` (the fraction of sequences not exactly right); ``multi_reference=True`` scores against the
    closest of a word's pronunciations (``dataset.pronunciations``).  ``metric="bleu"``: corpus BLEU
    (4-gram, ``exp`` smoothing).  Greedy when ``beam_size == 1``, else beam search."""
    if metric not in ("per", "wer", "bleu"):
        raise ValueError(f"evaluate_seq2seq: metric must be 'per', 'wer' or 'bleu', got {metric!r}")
    n = len(dataset) if limit is None else min(int(limit), len(dataset))
    order = np.argsort(dataset.src_lengths[:n], kind="stable")  # similar lengths: little padding
    tv = dataset.tgt_vocab
    pad = tv.pad_index
    was_training = model.training
    model.eval()
    hyps, refs, total, count = [None] * n, [None] * n, 0.0, 0
    try:
        with no_grad():
            for a in range(0, n, batch_size):
                idx = order[a:a + batch_size]
                src, src_len, tgt_in, tgt_out = _batch_tensors(dataset, idx)
                loss = model.loss(src, src_len, tgt_in, tgt_out, pad=pad)
                k = int((tgt_out.data != pad).sum())
                total += float(loss.data) * k
                count += k
                ml = max_len or int(tgt_out.shape[1]) + 10
                out = model.decode(src, src_len, max_len=ml, beam_size=beam_size)
                for j, i in enumerate(idx.tolist()):
                    hyps[i] = tv.decode_tokens(out.data[j])
                    refs[i] = tv.decode_tokens(tgt_out.data[j])
    finally:
        model.train(was_training)
    res = {"loss": total / max(count, 1), "n": n}
    if metric == "bleu":
        res["bleu"] = corpus_bleu(hyps, [[r] for r in refs], smoothing="exp")
    else:
        if multi_reference and hasattr(dataset, "pronunciations") and hasattr(dataset, "words"):
            multi = [dataset.pronunciations.get(dataset.words[i], [refs[i]]) for i in range(n)]
            res[metric] = error_rate(hyps, multi, multi_reference=True)
        else:
            res[metric] = error_rate(hyps, refs)
        res["ser"] = float(np.mean([h != r for h, r in zip(hyps, refs)])) if n else 0.0
    if return_outputs:
        res["hyps"], res["refs"] = hyps, refs
    return res
