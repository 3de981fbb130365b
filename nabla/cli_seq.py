"""The command line for sequence tasks (language models and sequence-to-sequence), wired into nabla.cli:

    nabla train char-lstm|char-gru|char-rnn|gpt --dataset kjv|web [--seq-len 128] [--batch-size 64]
                [--time-budget SECONDS] [--max-steps N] [--clip 1.0] [--prompt TEXT] ...
        trains with truncated BPTT (recurrent) or random windows (Transformer), prints the validation
        loss in nats per character as it goes, the test loss, and samples.
    nabla train seq2seq-attn|seq2seq-transformer --dataset cmudict|kjv-rv1909 [--beam-size K] ...
        teacher forcing; prints the phoneme error rate (cmudict) or BLEU (kjv-rv1909).
    nabla sample CKPT [--prompt "In the beginning"] [--temperature 0.8] [--top-k 10] [--length 300]
        (a seq2seq checkpoint converts the prompt instead: spelling -> phonemes, English -> Spanish)
    nabla eval CKPT

A checkpoint holds the weights, the model's name and options, and the vocabularies, so ``eval`` and
``sample`` rebuild everything from the file alone.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

LM_DATASETS = ("kjv", "web")
SEQ2SEQ_DATASETS = ("cmudict", "kjv-rv1909")
SEQUENCE_TASKS = ("lm", "seq2seq")


# ---------------------------------------------------------------------------------------------- parser
def add_train_arguments(p) -> None:
    """The sequence options of ``nabla train`` (ignored by the other tasks)."""
    g = p.add_argument_group("sequence models (char-*, gpt, seq2seq-*)")
    g.add_argument("--seq-len", type=int, default=128, help="tokens per training chunk / window (LMs)")
    g.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop training after this many seconds (evaluation excluded)")
    g.add_argument("--budget-clock", choices=("wall", "cpu"), default="wall",
                   help="what --time-budget counts: wall-clock seconds or this process's CPU seconds")
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    g.add_argument("--clip", type=float, default=1.0, help="gradient-norm clipping threshold (0: off)")
    g.add_argument("--warmup", type=int, default=None, help="learning-rate warm-up steps (default: 100 for "
                   "Transformers, 0 for RNNs); then a cosine decay to a tenth over the budget")
    g.add_argument("--eval-every", type=int, default=None, help="steps between validation measurements")
    g.add_argument("--eval-tokens", type=int, default=50_000,
                   help="validation tokens measured during training (the full split at the end)")
    g.add_argument("--beam-size", type=int, default=1, help="beam width for seq2seq evaluation (1: greedy)")
    g.add_argument("--eval-limit", type=int, default=None,
                   help="final evaluation on the first N validation / test characters or pairs (default: all)")
    add_sampling_arguments(g)


def add_eval_arguments(e) -> None:
    """The sequence options of ``nabla eval``."""
    e.add_argument("--beam-size", type=int, default=1, help="beam width for seq2seq checkpoints (1: greedy)")
    e.add_argument("--eval-limit", type=int, default=None,
                   help="evaluate on the first N test characters or pairs (sequence checkpoints; default: all)")


def add_sampling_arguments(g) -> None:
    g.add_argument("--prompt", default="In the beginning", help="text a language model's samples start from")
    g.add_argument("--temperature", type=float, default=0.8)
    g.add_argument("--top-k", type=int, default=10)
    g.add_argument("--length", type=int, default=300, help="characters (tokens) to sample")
    g.add_argument("--num-samples", type=int, default=2)


def add_sample_parser(sub):
    s = sub.add_parser("sample", help="sample text from a language-model checkpoint (or decode with a seq2seq one)")
    s.add_argument("checkpoint")
    add_sampling_arguments(s)
    s.add_argument("--beam-size", type=int, default=5, help="beam width for seq2seq checkpoints")
    s.add_argument("--seed", type=int, default=0)
    return s


# ---------------------------------------------------------------------------------------------- data
def _clock(kind):
    return time.process_time if kind == "cpu" else time.perf_counter


def lm_corpus(name, split, download=True):
    from .data.text import KJV, WEB
    classes = {"kjv": KJV, "web": WEB}
    if name not in classes:
        from .cli import UsageError
        raise UsageError(f"language models train on {' or '.join(LM_DATASETS)}, got --dataset {name!r}")
    return classes[name](split=split, download=download)


def pair_dataset(name, split, download=True, src_vocab=None, tgt_vocab=None):
    from .data.text import CMUDict, EnglishSpanish
    if name == "cmudict":
        return CMUDict(split=split, download=download)
    if name == "kjv-rv1909":
        return EnglishSpanish(split=split, download=download, src_vocab=src_vocab, tgt_vocab=tgt_vocab)
    from .cli import UsageError
    raise UsageError(f"sequence-to-sequence models train on {' or '.join(SEQ2SEQ_DATASETS)}, got --dataset {name!r}")


def _metric(dataset_name):
    return "bleu" if dataset_name == "kjv-rv1909" else "per"


# ---------------------------------------------------------------------------------------------- sampling
def generate(model, vocab, prompt: str = "", length: int = 300, temperature: float = 0.8, top_k=None,
             num_samples: int = 1, seed=0, context: int | None = None) -> list:
    """``num_samples`` continuations of ``prompt`` (strings, the prompt included) from a language model.

    ``context``: a Transformer reads at most this many last tokens (the length it was trained on: positions
    beyond it were never trained)."""
    from .autograd import no_grad
    from .autograd.tensor import Tensor
    from .ops.shape import cat
    from .train.decoding import sample_decode
    prompt = prompt or "\n"
    ids = vocab.encode(prompt)
    if (ids == vocab.unk_index).any():
        bad = sorted({c for c in prompt if c not in vocab})
        raise ValueError(f"sample: the prompt has characters outside the model's vocabulary: {bad}")
    rows = np.repeat(ids[None, :], num_samples, axis=0)
    model.eval()
    with no_grad():
        if getattr(model, "stateful", False):
            state = None
            if ids.size > 1:  # read the prompt; the last prompt character starts the decoding
                _, state = model(Tensor._make(rows[:, :-1], None), None)
            tokens, _ = sample_decode(model.step, rows[:, -1], length, state=state, temperature=temperature,
                                      top_k=top_k, generator=seed)
        else:
            head = Tensor._make(rows[:, :-1], None)

            def step(prefix, state):  # the decoder sees prompt[-1:] + generated: put the rest in front
                full = cat([head, prefix], 1) if ids.size > 1 else prefix
                if context is not None and full.shape[1] > context:
                    full = full[:, full.shape[1] - context:]
                return model.step(full, state)
            tokens, _ = sample_decode(step, rows[:, -1], length, temperature=temperature, top_k=top_k,
                                      generator=seed, feed="prefix")
    return [prompt + vocab.decode(t, strip=False) for t in tokens.data]


def _print_samples(model, vocab, args, echo, seed=0, context=None):
    texts = generate(model, vocab, args.prompt, args.length, args.temperature, args.top_k or None,
                     args.num_samples, seed, context)
    for i, text in enumerate(texts):
        echo(f"--- sample {i + 1} (temperature {args.temperature}, top-k {args.top_k}) ---")
        echo(text)
    return texts


# ---------------------------------------------------------------------------------------------- checkpoints
def _save(path, model, optimizer, config, history, step):
    from .train import save_checkpoint
    save_checkpoint(path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "config": config,
                           "history": history, "step": step, "epoch": step})


def rebuild(path):
    """(model, config, state, vocabularies dict) from a sequence checkpoint."""
    from .cli import rebuild_from_checkpoint
    from .data.text.vocab import Vocab
    model, config, state = rebuild_from_checkpoint(path)
    vocabs = {k: Vocab.from_dict(v) for k, v in config.get("vocab", {}).items()}
    return model, config, state, vocabs


def is_sequence_checkpoint(path) -> bool:
    from .train import load_checkpoint
    try:
        return (load_checkpoint(path).get("config") or {}).get("task") in SEQUENCE_TASKS
    except Exception:  # cmd_eval reports bad files itself
        return False


# ---------------------------------------------------------------------------------------------- train
def train(args, entry, echo=print):
    """``nabla train`` for a model whose registry entry has task "lm" or "seq2seq"."""
    import nabla as nb
    from .cli import UsageError, _make_optimizer, _model_options
    from .models import build_model
    from .train import load_checkpoint

    options = _model_options(args, entry)
    dataset = args.dataset or entry.default_dataset
    nb.manual_seed(args.seed)
    download = not args.no_download
    out = args.out or os.path.join("runs", f"{entry.name}-{dataset}")
    clock = _clock(args.budget_clock)
    if entry.task == "lm":
        if dataset not in LM_DATASETS:
            raise UsageError(f"{entry.name} is a language model: --dataset must be one of {', '.join(LM_DATASETS)}")
        train_set, val_set = lm_corpus(dataset, "train", download), lm_corpus(dataset, "valid", download)
        vocab = train_set.vocab
        if entry.name == "gpt":  # positions beyond the training length would never be trained
            options.setdefault("max_len", args.seq_len)
        model = build_model(entry.name, (args.seq_len,), len(vocab), **options)
        vocabs = {"tokens": vocab.to_dict()}
        sizes = f"{len(train_set.ids):,} train / {len(val_set.ids):,} validation characters"
    else:
        if dataset not in SEQ2SEQ_DATASETS:
            raise UsageError(f"{entry.name} is a sequence-to-sequence model: --dataset must be one of "
                             f"{', '.join(SEQ2SEQ_DATASETS)}")
        train_set = pair_dataset(dataset, "train", download)
        val_set = pair_dataset(dataset, "valid", download, train_set.src_vocab, train_set.tgt_vocab)
        model = build_model(entry.name, (len(train_set.src_vocab),), len(train_set.tgt_vocab), **options)
        vocabs = {"src": train_set.src_vocab.to_dict(), "tgt": train_set.tgt_vocab.to_dict()}
        sizes = f"{len(train_set):,} train / {len(val_set):,} validation pairs"
    optimizer = _make_optimizer(args.optimizer, model.parameters(), args.lr, args.weight_decay)
    config = {"model": entry.name, "task": entry.task, "options": {**entry.options, **options}, "dataset": dataset,
              "in_shape": [args.seq_len] if entry.task == "lm" else [len(train_set.src_vocab)],
              "num_classes": len(vocab) if entry.task == "lm" else len(train_set.tgt_vocab), "vocab": vocabs,
              "optimizer": args.optimizer, "lr": optimizer.param_groups[0]["lr"], "batch_size": args.batch_size,
              "seq_len": args.seq_len, "seed": args.seed, "time_budget": args.time_budget,
              "budget_clock": args.budget_clock}
    if args.resume:
        state = load_checkpoint(args.resume)
        model.load_state_dict(state["model"])
        if "optimizer" in state:
            optimizer.load_state_dict(state["optimizer"])
        echo(f"resumed weights and optimizer state from {args.resume} (step {state.get('step')})")
    transformer = entry.name in ("gpt", "seq2seq-transformer")
    warmup = args.warmup if args.warmup is not None else (100 if transformer else 0)
    echo(f"training {entry.name} ({model.num_parameters():,} parameters) on {dataset} ({sizes}), {args.optimizer} "
         f"lr={config['lr']}, batch {args.batch_size}" + (f", seq {args.seq_len}" if entry.task == "lm" else "")
         + f", up to {args.epochs} epochs" + (f" / {args.max_steps} steps" if args.max_steps else "")
         + (f" / {args.time_budget:g} s ({args.budget_clock} clock)" if args.time_budget else "")
         + f", clip {args.clip}, seed {args.seed}")
    best = {"value": math.inf}
    best_path, last_path = os.path.join(out, "best.safetensors"), os.path.join(out, "last.safetensors")
    key = "val_loss" if entry.task == "lm" else "val_metric"

    sign = -1.0 if entry.task == "seq2seq" and _metric(dataset) == "bleu" else 1.0  # BLEU: higher is better

    def on_eval(hist):
        if sign * hist[key][-1] < best["value"]:
            best["value"] = sign * hist[key][-1]
            _save(best_path, model, optimizer, config, hist, hist["step"][-1])

    log = echo  # a line per evaluation (not a progress bar, so --quiet keeps it)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    from .train import sequence
    if entry.task == "lm":
        hist = sequence.train_lm(model, train_set.ids, val_set.ids, optimizer, batch_size=args.batch_size,
                                 seq_len=args.seq_len, epochs=args.epochs, max_steps=args.max_steps,
                                 time_budget=args.time_budget, clock=clock, clip=args.clip, warmup=warmup,
                                 eval_every=args.eval_every or 200, eval_tokens=args.eval_tokens, seed=args.seed,
                                 log=log, on_eval=on_eval)
    else:
        hist = sequence.train_seq2seq(model, train_set, val_set, optimizer, batch_size=args.batch_size,
                                      epochs=args.epochs, max_steps=args.max_steps, time_budget=args.time_budget,
                                      clock=clock, clip=args.clip, warmup=warmup, eval_every=args.eval_every,
                                      beam_size=1, metric=_metric(dataset), seed=args.seed, log=log,
                                      on_eval=on_eval)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    steps = hist["step"][-1] if hist["step"] else 0
    _save(last_path, model, optimizer, config, hist, steps)
    echo(f"trained {steps} steps: {hist['time'][-1] if hist['time'] else 0:.1f} s of training by the "
         f"{args.budget_clock} clock ({wall:.1f} s wall, {cpu:.1f} s CPU including evaluation)")
    result = {"steps": steps, "wall_s": wall, "cpu_s": cpu, "history": hist}
    if entry.task == "lm":
        limit = args.eval_limit
        # windows of the trained length: a Transformer's later positions were never trained
        val = sequence.evaluate_lm(model, val_set.ids, seq_len=args.seq_len, max_tokens=limit)
        test_set = lm_corpus(dataset, "test", download)
        test = sequence.evaluate_lm(model, test_set.ids, seq_len=args.seq_len, max_tokens=limit)
        n_val = len(val_set.ids) - 1 if limit is None else min(limit, len(val_set.ids) - 1)
        echo(f"validation loss {val:.4f} nats/char ({val / math.log(2):.3f} bits/char) on "
             f"{'all ' if limit is None else ''}{n_val:,} validation characters; test loss {test:.4f} nats/char")
        result.update(val_loss=val, test_loss=test)
        result["samples"] = _print_samples(model, vocab, args, echo, seed=args.seed, context=args.seq_len)
    else:
        metric = _metric(dataset)
        res = sequence.evaluate_seq2seq(model, val_set, limit=args.eval_limit, beam_size=args.beam_size,
                                        metric=metric)
        test_set = pair_dataset(dataset, "test", download, train_set.src_vocab, train_set.tgt_vocab)
        test = sequence.evaluate_seq2seq(model, test_set, limit=args.eval_limit, beam_size=args.beam_size,
                                         metric=metric, return_outputs=True)
        echo(_seq2seq_summary("validation", res, metric, args.beam_size))
        echo(_seq2seq_summary("test", test, metric, args.beam_size))
        _print_examples(test_set, test, echo)
        result.update(val=res, test={k: v for k, v in test.items() if k not in ("hyps", "refs")})
    echo(f"checkpoints: {last_path} (last), {best_path} (best by {key if key == 'val_loss' else _metric(dataset)})")
    return result


def _seq2seq_summary(split, res, metric, beam):
    how = "greedy" if beam == 1 else f"beam {beam}"
    if metric == "bleu":
        return f"{split}: BLEU {res['bleu'] * 100:.2f}, loss {res['loss']:.4f} ({res['n']:,} pairs, {how})"
    return (f"{split}: phoneme error rate {res['per'] * 100:.2f}%, word (sequence) error rate "
            f"{res['ser'] * 100:.2f}%, loss {res['loss']:.4f} ({res['n']:,} pairs, {how})")


def _print_examples(dataset, res, echo, n=5):
    sep = " " if dataset.tgt_vocab.kind == "word" else ""
    for i in range(min(n, res["n"])):
        src = dataset.src_vocab.decode(dataset.src_ids(i))
        echo(f"  {src!r} -> {sep.join(res['hyps'][i])!r}  (reference {sep.join(res['refs'][i])!r})")


# ---------------------------------------------------------------------------------------------- eval / sample
def evaluate(args, echo=print):
    """``nabla eval CKPT`` for a sequence checkpoint: test loss (LM) or PER/BLEU (seq2seq)."""
    from .train import sequence
    model, config, state, vocabs = rebuild(args.checkpoint)
    dataset = args.dataset or config["dataset"]
    download = not args.no_download
    if config["task"] == "lm":
        test = lm_corpus(dataset, "test", download)
        loss = sequence.evaluate_lm(model, test.ids, seq_len=config.get("seq_len", 256), max_tokens=args.eval_limit)
        n = len(test.ids) - 1 if args.eval_limit is None else min(args.eval_limit, len(test.ids) - 1)
        echo(f"{config['model']} from {args.checkpoint} (step {state.get('step')}) on {dataset} test "
             f"({n:,} characters): loss {loss:.4f} nats/char ({loss / math.log(2):.3f} bits/char, "
             f"perplexity {math.exp(loss):.3f})")
        return {"loss": loss}
    test = pair_dataset(dataset, "test", download, vocabs.get("src"), vocabs.get("tgt"))
    metric = _metric(dataset)
    beam = args.beam_size
    res = sequence.evaluate_seq2seq(model, test, limit=args.eval_limit, beam_size=beam, metric=metric)
    echo(f"{config['model']} from {args.checkpoint} (step {state.get('step')}) on {dataset} "
         + _seq2seq_summary("test", res, metric, beam))
    return res


def sample(args, echo=print):
    """``nabla sample CKPT``: text from a language model, or the prompt converted by a seq2seq model."""
    from .autograd.tensor import Tensor
    from .cli import UsageError
    model, config, state, vocabs = rebuild(args.checkpoint)
    if config.get("task") == "lm":
        return _print_samples(model, vocabs["tokens"], args, echo, seed=args.seed, context=config.get("seq_len"))
    if config.get("task") != "seq2seq":
        raise UsageError(f"{args.checkpoint!r} is not a language-model or seq2seq checkpoint")
    src_v, tgt_v = vocabs["src"], vocabs["tgt"]
    items = args.prompt.lower().split() if config["dataset"] == "cmudict" else [args.prompt.lower()]
    from .data.text.vocab import pad_sequences
    ids, lengths = pad_sequences([src_v.encode(s) for s in items], src_v.pad_index)
    model.eval()
    from .autograd import no_grad
    with no_grad():
        out = model.decode(Tensor._make(ids, None), Tensor._make(lengths, None), max_len=int(lengths.max()) * 2 + 10,
                           beam_size=args.beam_size)
    sep = " " if tgt_v.kind == "word" else ""
    texts = [sep.join(tgt_v.decode_tokens(row)) for row in out.data]
    for s, t in zip(items, texts):
        echo(f"{s} -> {t}")
    return texts
