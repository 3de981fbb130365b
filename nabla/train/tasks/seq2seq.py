"""Sequence-to-sequence models on a pair data set: teacher-forced training, evaluation by decoding
(phoneme / word error rate, or BLEU: the data set's ``metric``), and conversion of a prompt.

Data-parallel (``mpiexec -n N nabla train``): each rank trains on its share of every epoch's length buckets
(``BucketBatches.shard``); validation and the final report decode each rank's share of the sorted batches
(greedy or beam) and score the joined outputs once (``seq2seq_sums``), so the figures are one process's; the
examples are printed by rank 0."""
from __future__ import annotations

import inspect

from ...autograd.grad_mode import no_grad
from ...autograd.tensor import from_numpy
from ...data.datasets import get_dataset_class
from ...data.text.vocab import Vocab, pad_sequences
from ..steps.seq2seq import PairBatches, PairSubset, Seq2SeqStep, evaluate_seq2seq
from .base import RunData, Task, register_task


def pair_split(name: str, split: str, download: bool, src_vocab=None, tgt_vocab=None):
    """A split of a pair data set; the vocabularies of the training split where the class builds its own."""
    cls = get_dataset_class(name)
    kwargs = {"split": split, "download": download}
    if src_vocab is not None and "src_vocab" in inspect.signature(cls.__init__).parameters:
        kwargs.update(src_vocab=src_vocab, tgt_vocab=tgt_vocab)
    return cls(**kwargs)


def summary(split, res, metric, beam) -> str:
    how = "greedy" if beam == 1 else f"beam {beam}"
    if metric == "bleu":
        return f"{split}: BLEU {res['bleu'] * 100:.2f}, loss {res['loss']:.4f} ({res['n']:,} pairs, {how})"
    return (f"{split}: phoneme error rate {res['per'] * 100:.2f}%, word (sequence) error rate "
            f"{res['ser'] * 100:.2f}%, loss {res['loss']:.4f} ({res['n']:,} pairs, {how})")


def print_examples(dataset, res, echo, n=5) -> None:
    sep = " " if dataset.tgt_vocab.kind == "word" else ""
    for i in range(min(n, res["n"])):
        src = dataset.src_vocab.decode(dataset.src_ids(i))
        echo(f"  {src!r} -> {sep.join(res['hyps'][i])!r}  (reference {sep.join(res['refs'][i])!r})")


def _vocabs(config):
    return {k: Vocab.from_dict(v) for k, v in config.get("vocab", {}).items()}


def report_evaluations(trainer, splits, limit, beam_size: int) -> list:
    """The figures of each of ``splits`` (the first ``limit`` pairs decoded with ``beam_size``), with ``n`` and
    the decoded outputs, through ``trainer.evaluate``: with several ranks each decodes its share and the joined
    outputs are scored once (``Seq2SeqStep.evaluate_sums``), the same figures on every rank."""
    step = trainer.step
    step.return_outputs = True
    try:
        return [trainer.evaluate(PairSubset(split, limit=limit, beam_size=beam_size)) for split in splits]
    finally:
        step.return_outputs = False


class Seq2SeqTask(Task):
    name = "seq2seq"
    data_parallel = True

    def load(self, dataset, settings, download, config=None):
        train = pair_split(dataset, "train", download)
        val = pair_split(dataset, "valid", download, train.src_vocab, train.tgt_vocab)
        return RunData(train=train, val=val, in_shape=(len(train.src_vocab),), num_classes=len(train.tgt_vocab),
                       config={"vocab": {"src": train.src_vocab.to_dict(), "tgt": train.tgt_vocab.to_dict()}},
                       sizes=f"{len(train):,} train / {len(val):,} validation pairs")

    def make_step(self, entry, model, optimizer, data, settings):
        metric = get_dataset_class(data.train.name).metric
        step = Seq2SeqStep(model, optimizer, pad=data.train.tgt_vocab.pad_index, metric=metric)
        loader = PairBatches(data.train, settings["batch_size"], seed=settings["seed"])
        return step, loader, PairSubset(data.val, limit=settings["eval_size"], beam_size=1)

    def final_report(self, trainer, data, settings, run, echo):
        metric, beam, limit = get_dataset_class(data.train.name).metric, run["beam_size"], run.get("eval_limit")
        test_set = pair_split(data.train.name, "test", run["download"], data.train.src_vocab, data.train.tgt_vocab)
        res, test = report_evaluations(trainer, (data.val, test_set), limit, beam)
        echo(summary("validation", res, metric, beam))
        echo(summary("test", test, metric, beam))
        print_examples(test_set, test, echo)
        return {k: {f: v for f, v in r.items() if f not in ("hyps", "refs")} for k, r in (("val", res), ("test", test))}

    def evaluate(self, model, config, options, echo):
        vocabs = _vocabs(config)
        test = pair_split(options["dataset"], "test", options["download"], vocabs.get("src"), vocabs.get("tgt"))
        metric, beam = get_dataset_class(options["dataset"]).metric, options.get("beam_size", 1)
        res = evaluate_seq2seq(model, test, limit=options.get("eval_limit"), beam_size=beam, metric=metric)
        echo(f"{config['model']} from {options['checkpoint']} (step {options['step']}) on {options['dataset']} "
             + summary("test", res, metric, beam))
        return res

    def sample(self, model, config, options, echo):
        """The prompt converted: spelling -> phonemes (a word at a time), English -> Spanish (the whole text)."""
        vocabs = _vocabs(config)
        src_v, tgt_v = vocabs["src"], vocabs["tgt"]
        unit = getattr(get_dataset_class(config["dataset"]), "prompt_unit", "text")
        items = options["prompt"].lower().split() if unit == "word" else [options["prompt"].lower()]
        ids, lengths = pad_sequences([src_v.encode(s) for s in items], src_v.pad_index)
        model.eval()
        with no_grad():
            out = model.decode(from_numpy(ids), from_numpy(lengths), max_len=int(lengths.max()) * 2 + 10,
                               beam_size=options["beam_size"])
        sep = " " if tgt_v.kind == "word" else ""
        texts = [sep.join(tgt_v.decode_tokens(row)) for row in out.data]
        for s, t in zip(items, texts):
            echo(f"{s} -> {t}")
        return texts


register_task(Seq2SeqTask())
