"""One-call training of sequence models, as ``nabla.train.fit`` is for classifiers: each builds the step
and its batches and runs the one ``Trainer`` (no loop of its own).

``train_lm`` trains a language model on a token stream (truncated BPTT for a recurrent model, random
windows for a Transformer); ``train_seq2seq`` an encoder-decoder on a PairDataset with teacher forcing.
Both warm the learning rate up over ``warmup`` steps, then decay it by a cosine over the budget
(``WarmupCosine``), clip the gradient norm at ``clip``, and evaluate every ``eval_every`` steps.
"""
from __future__ import annotations

from .schedules import WarmupCosine, lr_at  # noqa: F401  (re-exported)
from .steps.language_model import (LanguageModelStep, RandomWindows, StreamBatches, TokenStream,  # noqa: F401
                                   evaluate_lm)
from .steps.seq2seq import PairBatches, PairSubset, Seq2SeqStep, evaluate_seq2seq, seq2seq_loss  # noqa: F401
from .trainer import Trainer

__all__ = ["train_lm", "evaluate_lm", "random_windows", "lr_at", "train_seq2seq", "evaluate_seq2seq", "seq2seq_loss"]


def _fit(step, loader, val, epochs, max_steps, time_budget, clip, warmup, min_lr_ratio, eval_every, clock,
         log, callbacks=()):
    trainer = Trainer(step, scheduler=WarmupCosine(warmup, min_lr_ratio), schedule_interval="step",
                      clip_grad_norm=clip or None, callbacks=callbacks, progress=False, log=log, clock=clock)
    return trainer.fit(loader, val, epochs=epochs, max_steps=max_steps, time_budget=time_budget,
                       eval_every=eval_every)


def train_lm(model, train_ids, val_ids, optimizer, batch_size: int = 64, seq_len: int = 128, epochs: float = 1.0,
             max_steps: int | None = None, time_budget: float | None = None, clip: float | None = 1.0,
             warmup: int = 0, min_lr_ratio: float = 0.1, eval_every: int = 200, eval_tokens: int | None = 50_000,
             seed: int = 0, clock: str = "wall", log=print, callbacks=()) -> dict:
    """Train a language model on ``train_ids`` (a 1-d token stream) and return the Trainer's history
    (``step``, ``time``, ``loss`` (training), ``val_loss``, ``lr`` per evaluation).  Stops after ``epochs``
    passes, ``max_steps`` steps or ``time_budget`` seconds (``clock`` "wall" or "cpu"), whichever is first."""
    stateful = getattr(model, "stateful", False)
    loader = (StreamBatches(train_ids, batch_size, seq_len, seed) if stateful
              else RandomWindows(train_ids, batch_size, seq_len, seed))
    val = TokenStream(val_ids, seq_len * 2 if stateful else seq_len, eval_tokens)
    return _fit(LanguageModelStep(model, optimizer), loader, val, epochs, max_steps, time_budget, clip, warmup,
                min_lr_ratio, eval_every, clock, log, callbacks)


def train_seq2seq(model, train_set, val_set, optimizer, batch_size: int = 64, epochs: float = 10,
                  max_steps: int | None = None, time_budget: float | None = None, clip: float | None = 1.0,
                  warmup: int = 0, min_lr_ratio: float = 0.05, eval_every: int | None = None, eval_size: int = 500,
                  beam_size: int = 1, metric: str = "per", seed: int = 0, clock: str = "wall", log=print,
                  callbacks=()) -> dict:
    """Teacher-forced training of an encoder-decoder on a PairDataset (batches of similar source lengths);
    returns the Trainer's history (``loss``, ``val_loss``, ``val_<metric>`` per evaluation: every
    ``eval_every`` steps, default once an epoch, on the first ``eval_size`` validation pairs)."""
    step = Seq2SeqStep(model, optimizer, pad=train_set.tgt_vocab.pad_index, metric=metric)
    loader = PairBatches(train_set, batch_size, seed=seed)
    return _fit(step, loader, PairSubset(val_set, eval_size, beam_size), epochs, max_steps, time_budget, clip,
                warmup, min_lr_ratio, eval_every or len(loader), clock, log, callbacks)


def random_windows(ids, batch_size: int, seq_len: int, rng):
    """``(x, y)`` (B, T) int64: ``batch_size`` windows at uniformly random starts, ``y`` shifted by one
    (one batch of ``RandomWindows``, from the caller's generator)."""
    loader = RandomWindows(ids, batch_size, seq_len, steps_per_epoch=1)
    loader.rng = rng
    return next(iter(loader))
