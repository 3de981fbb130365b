"""Character-level language models on a text corpus: train (truncated BPTT or random windows), report
the validation and test loss in nats per character, and sample text.

Data-parallel (``mpiexec -n N nabla train``): each rank reads its own rows of the batch layout of one process
with batch N*B (``StreamBatches.shard`` / ``RandomWindows.shard``); validation and the final report's
validation and test losses are sharded and their sums added (``LanguageModelStep.evaluate_sums``, through the
trainer's evaluation), so they are one process's; the samples are rank 0's, broadcast."""
from __future__ import annotations

import math

import numpy as np

from ...autograd.grad_mode import no_grad
from ...autograd.tensor import from_numpy
from ...data.datasets import get_dataset
from ...data.text.vocab import Vocab
from ...ops.shape import cat
from ..steps.language_model import LanguageModelStep, RandomWindows, StreamBatches, TokenStream, evaluate_lm
from .base import RunData, Task, register_task


def text_only(step, vocab):
    """``step`` with the special tokens (padding, begin/end of sequence, unknown) never sampled: a text
    continues with text."""
    specials = np.array([vocab.stoi[s] for s in vocab.specials], dtype=np.int64)

    def wrapped(tokens, state):
        logits, state = step(tokens, state)
        masked = np.array(logits.data, copy=True)
        masked[..., specials] = -np.inf
        return from_numpy(masked), state
    return wrapped


def generate(model, vocab, prompt: str = "", length: int = 300, temperature: float = 0.8, top_k=None,
             num_samples: int = 1, seed=0, context: int | None = None) -> list:
    """``num_samples`` continuations of ``prompt`` (strings, the prompt included) from a language model.

    ``context``: a Transformer reads at most this many last tokens (the length it was trained on: positions
    beyond it were never trained)."""
    from ...models.decoding import sample_decode
    prompt = prompt or "\n"
    ids = vocab.encode(prompt)
    if (ids == vocab.unk_index).any():
        bad = sorted({c for c in prompt if c not in vocab})
        raise ValueError(f"the prompt has characters outside the model's vocabulary: {bad}")
    rows = np.repeat(ids[None, :], num_samples, axis=0)
    model.eval()
    with no_grad():
        if getattr(model, "stateful", False):
            state = None
            if ids.size > 1:  # read the prompt; the last prompt character starts the decoding
                _, state = model(from_numpy(rows[:, :-1]), None)
            tokens, _ = sample_decode(text_only(model.step, vocab), rows[:, -1], length, state=state,
                                      temperature=temperature,
                                      top_k=top_k, generator=seed)
        else:
            head = from_numpy(rows[:, :-1])

            def step(prefix, state):  # the decoder sees prompt[-1:] + generated: put the rest in front
                full = cat([head, prefix], 1) if ids.size > 1 else prefix
                if context is not None and full.shape[1] > context:
                    full = full[:, full.shape[1] - context:]
                return model.step(full, state)
            tokens, _ = sample_decode(text_only(step, vocab), rows[:, -1], length, temperature=temperature, top_k=top_k,
                                      generator=seed, feed="prefix")
    return [prompt + vocab.decode(t, strip=False) for t in tokens.data]


def print_samples(model, vocab, options: dict, echo, context=None) -> list:
    texts = generate(model, vocab, options["prompt"], options["length"], options["temperature"],
                     options["top_k"] or None, options["num_samples"] or 2, options["seed"], context)
    for i, text in enumerate(texts):
        echo(f"--- sample {i + 1} (temperature {options['temperature']}, top-k {options['top_k']}) ---")
        echo(text)
    return texts


def _loss_line(loss: float) -> str:
    return f"{loss:.4f} nats/char ({loss / math.log(2):.3f} bits/char, perplexity {math.exp(loss):.3f})"


class LanguageModelTask(Task):
    name = "lm"
    data_parallel = True

    def load(self, dataset, settings, download, config=None):
        train = get_dataset(dataset, split="train", download=download)
        val = get_dataset(dataset, split="valid", download=download)
        seq_len = settings["seq_len"]
        return RunData(train=train, val=val, in_shape=(seq_len,), num_classes=len(train.vocab),
                       config={"vocab": {"tokens": train.vocab.to_dict()}, "seq_len": seq_len},
                       sizes=f"{len(train.ids):,} train / {len(val.ids):,} validation characters")

    def make_step(self, entry, model, optimizer, data, settings):
        B, T, seed = settings["batch_size"], settings["seq_len"], settings["seed"]
        stateful = bool(getattr(model, "stateful", False))
        loader = StreamBatches(data.train.ids, B, T, seed) if stateful else RandomWindows(data.train.ids, B, T, seed)
        val = TokenStream(data.val.ids, T * 2 if stateful else T, settings["eval_tokens"])
        return LanguageModelStep(model, optimizer), loader, val

    def final_report(self, trainer, data, settings, run, echo):
        limit, T = run.get("eval_limit"), settings["seq_len"]
        # windows of the trained length (a Transformer's later positions were never trained), scored by the
        # trainer's evaluation: with several processes each scores its share and the sums are added
        strategy = trainer.strategy
        val = trainer.evaluate(TokenStream(data.val.ids, T, limit))["loss"]
        test_set = get_dataset(run["dataset"], split="test", download=run["download"])
        test = trainer.evaluate(TokenStream(test_set.ids, T, limit))["loss"]
        n_val = len(data.val.ids) - 1 if limit is None else min(limit, len(data.val.ids) - 1)
        echo(f"validation loss {val:.4f} nats/char ({val / math.log(2):.3f} bits/char) on "
             f"{'all ' if limit is None else ''}{n_val:,} validation characters; test loss {test:.4f} nats/char")
        result = {"val_loss": val, "test_loss": test}
        vocab = Vocab.from_dict(data.config["vocab"]["tokens"])
        result["samples"] = strategy.on_global_zero(  # the weights are the same on every rank: rank 0 samples once
            lambda: print_samples(trainer.model, vocab, {**run["sampling"], "seed": settings["seed"]}, echo,
                                  context=T))
        return result

    def evaluate(self, model, config, options, echo):
        test = get_dataset(options["dataset"], split="test", download=options["download"])
        limit = options.get("eval_limit")
        vocab, ids, note = Vocab.from_dict(config["vocab"]["tokens"]), test.ids, ""
        if getattr(test, "vocab", None) != vocab:  # another corpus's alphabet: its text in the model's ids
            ids = vocab.encode(test.text)
            unknown = int((ids[:None if limit is None else limit + 1] == vocab.unk_index).sum())
            if unknown:
                note = f"; {unknown:,} of them outside the model's vocabulary, scored as <unk>"
        loss = evaluate_lm(model, ids, seq_len=config.get("seq_len", 256), max_tokens=limit)
        n = len(ids) - 1 if limit is None else min(limit, len(ids) - 1)
        echo(f"{config['model']} from {options['checkpoint']} (step {options['step']}) on {options['dataset']} "
             f"test ({n:,} characters{note}): loss {_loss_line(loss)}")
        return {"loss": loss}

    def sample(self, model, config, options, echo):
        vocab = Vocab.from_dict(config["vocab"]["tokens"])
        return print_samples(model, vocab, options, echo, context=config.get("seq_len"))


register_task(LanguageModelTask())
