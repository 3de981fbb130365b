"""Sequence labelling (``task="tagging"``): a tagger on a per-token data set such as ``kjv-segment``
(word segmentation of text without its spaces).  Training minimises the per-token cross-entropy
(padding ignored); the report scores the test split per character (accuracy, precision / recall / F1 of
the "begins a word" tag) and per word (segmentation F1), beside the dictionary baseline (greedy forward
maximum matching with the training split's words, ``nabla.metrics.max_match``), and shows one test
verse segmented both ways.

Data-parallel (``mpiexec -n N nabla train``): each rank trains on its share of every epoch's length buckets
(``BucketBatches.shard``: batches r, r+N, ...; the epoch's last ``len % N`` batches dropped); validation
scores each rank's share of the samples and adds the segmentation counts (``TaggingStep.evaluate_sums``);
the final report is rank 0's over the test split (the weights are the same on every rank), broadcast."""
from __future__ import annotations

import inspect

import numpy as np

from ... import nn
from ...data.datasets import get_dataset_class
from ...data.text.segmentation import insert_spaces
from ...data.text.vocab import Vocab
from ...metrics.max_match import MaxMatch
from ..steps.tagging import IGNORE_INDEX, TagBatches, TaggingStep, evaluate_tagger, score_tags
from .base import RunData, Task, register_task

EXAMPLE_LENGTH = (80, 140)  # characters of the example sample (a verse of ordinary length)


def tagging_split(name: str, split: str, download: bool, vocab=None):
    """A split of a tagging data set, with ``vocab`` (the training split's, or a checkpoint's) where the
    class takes one."""
    cls = get_dataset_class(name)
    kwargs = {"split": split, "download": download}
    if vocab is not None and "vocab" in inspect.signature(cls.__init__).parameters:
        kwargs["vocab"] = vocab
    return cls(**kwargs)


_ROW = "  {:<34} {:>8} {:>9} {:>7} {:>8} {:>8}"
HEADER = _ROW.format("", "char acc", "precision", "recall", "char F1", "word F1")


def score_line(name: str, s: dict) -> str:
    """A row of the report's table: the scores in percent, under ``HEADER``."""
    return _ROW.format(name, *(f"{s[k] * 100:.2f}" for k in ("accuracy", "precision", "recall", "f1", "word_f1")))


def _example(test, k, model_tags, base_tags, echo) -> dict:
    """One test sample (of the first ``k`` scored) segmented by the model and the baseline, beside the truth:
    the first of ``EXAMPLE_LENGTH`` characters on which the two disagree (else the first of that length),
    so that the example shows where they differ, whichever is right."""
    lengths, offsets = test.lengths[:k], test.offsets[:k]
    differs = np.add.reduceat(model_tags != base_tags, offsets) > 0 if k else np.zeros(0, bool)
    fits = (lengths >= EXAMPLE_LENGTH[0]) & (lengths <= EXAMPLE_LENGTH[1])
    pick = np.nonzero(fits & differs)[0] if np.any(fits & differs) else np.nonzero(fits)[0]
    i = int(pick[0]) if pick.size else 0
    a, b = int(offsets[i]), int(offsets[i] + lengths[i])
    chars = test.sample_chars(i)
    ex = {"input": chars, "reference": test.texts[i], "model": insert_spaces(chars, model_tags[a:b]),
          "baseline": insert_spaces(chars, base_tags[a:b])}
    echo(f"example (test sample {i}{', ' + test.books[i] if hasattr(test, 'books') else ''}):")
    for key in ("input", "model", "baseline", "reference"):
        echo(f"  {key:<9} {ex[key]}")
    return ex


class TaggingTask(Task):
    name = "tagging"
    data_parallel = True

    def load(self, dataset, settings, download, config=None):
        vocab = Vocab.from_dict(config["vocab"]["tokens"]) if config and "vocab" in config else None
        train = tagging_split(dataset, "train", download, vocab)
        val = tagging_split(dataset, "valid", download, train.vocab)
        return RunData(train=train, val=val, in_shape=(len(train.vocab),), num_classes=len(train.classes),
                       config={"vocab": {"tokens": train.vocab.to_dict()}},
                       sizes=f"{len(train):,} train / {len(val):,} validation samples, "
                             f"{int(train.lengths.sum()):,} / {int(val.lengths.sum()):,} tokens")

    def make_step(self, entry, model, optimizer, data, settings):
        loss_fn = entry.training_loss(nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX))
        step = TaggingStep(model, optimizer, loss_fn=loss_fn)
        return step, TagBatches(data.train, settings["batch_size"], seed=settings["seed"]), data.val

    def final_report(self, trainer, data, settings, run, echo):
        """The test report (rank 0's in a data-parallel run, broadcast to the others)."""
        return trainer.strategy.on_global_zero(lambda: self._final_report(trainer, data, run, echo))

    def _final_report(self, trainer, data, run, echo):
        test = tagging_split(run["dataset"], "test", run["download"], data.train.vocab)
        k = len(test) if run.get("eval_limit") is None else min(int(run["eval_limit"]), len(test))
        res = evaluate_tagger(trainer.model, test, limit=k, return_tags=True)
        model_tags = res.pop("tags")
        greedy = MaxMatch(data.train.words())
        base_tags = greedy.tags(test.chars[:res["chars"]], test.lengths[:k])
        base = score_tags(base_tags, test, k)
        name = (getattr(trainer, "config", None) or {}).get("model", "model")
        echo(f"test split, last weights: {k:,} samples, {res['chars']:,} characters (scores in %)")
        echo(HEADER)
        echo(score_line(name, res))
        echo(score_line(f"greedy max-match ({len(greedy):,} words)", base))
        example = _example(test, k, model_tags, base_tags, echo)
        echo(f"test word F1 {res['word_f1'] * 100:.2f}% (dictionary baseline {base['word_f1'] * 100:.2f}%), "
             f"character F1 {res['f1'] * 100:.2f}% (baseline {base['f1'] * 100:.2f}%), loss {res['loss']:.4f} "
             "nats per token")
        return {"test": res, "baseline": base, "example": example}

    def evaluate(self, model, config, options, echo):
        vocab = Vocab.from_dict(config["vocab"]["tokens"])
        test = tagging_split(options["dataset"], "test", options["download"], vocab)
        res = evaluate_tagger(model, test, limit=options.get("eval_limit"))
        echo(f"{config['model']} from {options['checkpoint']} (step {options['step']}) on {options['dataset']} test "
             f"({res['chars']:,} characters): word F1 {res['word_f1'] * 100:.2f}%, character F1 "
             f"{res['f1'] * 100:.2f}% (precision {res['precision'] * 100:.2f}%, recall {res['recall'] * 100:.2f}%), "
             f"accuracy {res['accuracy'] * 100:.2f}%, loss {res['loss']:.4f}")
        return res


register_task(TaggingTask())
