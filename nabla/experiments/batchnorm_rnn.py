"""batchnorm-rnn: batch normalisation does not suit recurrent networks; layer normalisation does.

Claim (notes, chapter 4, batch and layer normalisation; paraphrased): batch normalisation depends on the
statistics of the mini-batch, which in a recurrent network differ from one time step to the next and are
unreliable for small batches and for sequences longer than those seen in training; layer normalisation
normalises each sample over its features, independently of the batch, and is the normalisation that suits
recurrent networks.

Measured: a character-level LSTM language model on the King James Bible (``nabla.data.text.KJV``) in
three variants that differ only in the normaliser N of the cell (``norm_lstm``: N applied to the input
term W_x x_t, to the recurrent term W_h h_{t-1} and to the cell c_t, as in Cooijmans et al. 2016 and Ba
et al. 2016):

* ``none``: no normalisation;
* ``BN``: ``BatchNorm1d`` at every time step with that step's statistics over the batch in training;
  one module per term serves every step, so its running mean and variance (momentum 0.1) are shared by
  all time steps and used in eval mode -- BN put naively into the recurrence (Cooijmans et al. keep
  statistics per step; Laurent et al. 2016 normalise the input term only);
* ``LN``: ``LayerNorm`` over the features, per sample and step.

All three are the same step-by-step code, train on random windows of ``T`` characters from a zero state
(Adam, cosine decay, gradient clipping at 1) for the same budget of this process's CPU seconds, and are
scored in bits per character on the same held-out windows of the validation split.  For BN also:

1. the train/eval gap: the validation loss with the batch's statistics (train mode, at the training
   batch size) against the running statistics (eval mode);
2. small batches: batch statistics over 8 and over 2 windows (over one window they are undefined --
   BatchNorm1d refuses one value per channel -- while running statistics give the same answer at any
   batch size, batch 1 included);
3. longer sequences: windows of 4 ``T`` characters from a zero state in eval mode; the loss at positions
   ``T`` to 4 ``T`` (never seen in training) against positions ``T/2`` to ``T`` (the end of the trained
   range), for every variant.

Supported when BN is worse than LN and not better than none on the validation loss (eval mode), or
when BN degrades at evaluation: running statistics worse than the batch's by more than ``DEGRADE``
bits/char, batch statistics over 2 windows worse than over the training batch by more than ``DEGRADE``,
or BN's loss rising beyond the trained length by more than ``DEGRADE`` more than LN's.  The verdict
says which of these held.
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np

import nabla as nb
from .. import optim
from ..train import Trainer, WarmupCosine
from ..train.steps.language_model import LanguageModelStep, RandomWindows, TokenStream
from .base import register_experiment
from .common import Heartbeat, format_claims, load_dataset, say
from .norm_lstm import NormLSTMLM

CLAIM = ("batch normalisation does not suit recurrent networks (it is worse than layer normalisation, or "
         "degrades at evaluation, with small batches or on longer sequences); layer normalisation does")
VARIANTS = {"none": "none", "BN": "batch", "LN": "layer"}
DEGRADE = 0.05          # bits/char: a difference counted as degradation
LONGER = 4              # evaluation windows this many times the training length
BITS = 1.0 / math.log(2.0)
SMOOTH = 8              # the plot's per-position curves: a running mean over this many positions


def _config(quick: bool) -> dict:
    if quick:   # a fixed number of steps (deterministic, for CI)
        return dict(max_steps=20, budget=None, batch=8, seq=16, lr=1e-2, embed=16, hidden=32, eval_every=10,
                    val_windows=32, small_batches=(4, 2), train_chars=200_000)
    return dict(max_steps=None, budget=120.0, batch=32, seq=64, lr=3e-3, embed=32, hidden=128, eval_every=100,
                val_windows=512, small_batches=(8, 2), train_chars=None)


def position_losses(model, ids, length: int, batch: int, windows: int, batch_stats: bool = False) -> np.ndarray:
    """Mean cross-entropy (nats) at each position of ``windows`` non-overlapping windows of ``length``
    characters (from a zero state), scored ``batch`` windows at a time: (length,).  ``batch_stats``
    scores in train mode (BN then uses each batch's statistics) on a copy, so the model's running
    statistics stay as they are."""
    scored = copy.deepcopy(model) if batch_stats else model
    was_training = scored.training
    scored.train(batch_stats)
    n = (windows // batch) * batch
    win = np.asarray(ids[:n * length + 1], dtype=np.int64)
    xs, ys = win[:-1].reshape(n, length), win[1:].reshape(n, length)
    total = np.zeros(length)
    with nb.no_grad():
        for a in range(0, n, batch):
            losses, _ = scored.token_losses(nb.from_numpy(xs[a:a + batch]), nb.from_numpy(ys[a:a + batch]))
            total += losses.data.sum(axis=1)
    scored.train(was_training)
    return total / n


def _train_one(name, model, train_ids, val_ids, cfg, echo) -> dict:
    """Adam, cosine decay over the budget, clipping at 1, through the Trainer; CPU seconds on the time axis."""
    loader = RandomWindows(train_ids, cfg["batch"], cfg["seq"], seed=0)
    val = TokenStream(val_ids, cfg["seq"], max_tokens=cfg["val_windows"] * cfg["seq"] // 2)
    trainer = Trainer(LanguageModelStep(model, optim.Adam(model.parameters(), lr=cfg["lr"])),
                      scheduler=WarmupCosine(warmup=0, min_ratio=0.1), clip_grad_norm=1.0, clock="cpu",
                      callbacks=[Heartbeat(echo, f"batchnorm-rnn: {name}")], progress=False)
    wall0 = time.perf_counter()
    hist = trainer.fit(loader, val_data=val, epochs=1000, max_steps=cfg["max_steps"], time_budget=cfg["budget"],
                       eval_every=cfg["eval_every"])
    return {"params": model.num_parameters(), "time": hist["time"], "step": hist["step"],
            "val_bpc": [v * BITS for v in hist["val_loss"]], "steps": hist["step"][-1],
            "cpu_seconds": hist["time"][-1], "wall_seconds": time.perf_counter() - wall0}


def _score(name, model, val_ids, cfg, echo) -> dict:
    """The validation numbers of one trained model: eval mode at the training length and at LONGER times it;
    for BN also with batch statistics at the training batch and at the small ones."""
    T, B, W = cfg["seq"], cfg["batch"], cfg["val_windows"]
    start = time.perf_counter()
    trained = position_losses(model, val_ids, T, B, W) * BITS
    longer = position_losses(model, val_ids, LONGER * T, B, W // LONGER) * BITS
    out = {"bpc": float(trained.mean()), "positions": trained, "long_positions": longer,
           "in_range_end": float(longer[T // 2:T].mean()), "beyond": float(longer[T:].mean())}
    out["rise_beyond"] = out["beyond"] - out["in_range_end"]
    if name == "BN":
        out["batch_stats"] = {str(b): float(position_losses(model, val_ids, T, b, W, batch_stats=True).mean() * BITS)
                              for b in (B, *cfg["small_batches"])}
    if echo is not None:
        echo(f"batchnorm-rnn: {name} scored: {out['bpc']:.3f} bits/char at length {T}, "
             f"{out['beyond']:.3f} beyond it, {time.perf_counter() - start:.1f} s")
    return out


def _rows(runs, cfg) -> list:
    T, B = cfg["seq"], cfg["batch"]
    stats = {"none": "-", "BN": "running (eval mode)", "LN": "-"}
    rows = []
    for k, r in runs.items():
        base = {"model": f"LSTM, {k}", "parameters": r["params"], "steps": r["steps"], "statistics": stats[k]}
        rows.append({**base, "eval batch": B, "positions": f"1-{T} (trained length)", "val bits/char": r["bpc"]})
        rows.append({**base, "eval batch": B, "positions": f"{T // 2 + 1}-{T} of {LONGER * T}",
                     "val bits/char": r["in_range_end"]})
        rows.append({**base, "eval batch": B, "positions": f"{T + 1}-{LONGER * T} of {LONGER * T} (beyond)",
                     "val bits/char": r["beyond"]})
    bn = runs["BN"]
    for b, v in bn["batch_stats"].items():
        rows.append({"model": "LSTM, BN", "parameters": bn["params"], "steps": bn["steps"],
                     "statistics": f"batch's (train mode), batch {b}", "eval batch": int(b),
                     "positions": f"1-{T} (trained length)", "val bits/char": v})
    return rows


CHAPTER = "modern-architectures"
NOTES = ("不适用于循环神经网络：在循环神经网络中，由于序列长度可能不同，批归一化的应用会变得复杂，因此不太适用"
         "于此类网络。",
         "Not suited to recurrent networks: in a recurrent network, since sequence lengths may differ, applying "
         "batch normalisation becomes complicated, so it does not suit such networks well. (That layer "
         "normalisation does suit them is nabla's reading, not the notes'.)")


@register_experiment("batchnorm-rnn", "char LSTM on the KJV Bible with no norm, batch norm per step, layer norm: "
                     "validation bits/char, BN's train/eval, small-batch and long-sequence gaps")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    train = load_dataset("kjv", split="train", download=download)
    valid = load_dataset("kjv", split="valid", download=download)
    cfg = _config(quick)
    train_ids = train.ids[:cfg["train_chars"]] if cfg["train_chars"] else train.ids
    val_ids = valid.ids[:cfg["val_windows"] * cfg["seq"] + 1]
    runs = {}
    for name, norm in VARIANTS.items():
        nb.manual_seed(0)
        model = NormLSTMLM(len(train.vocab), norm, cfg["embed"], cfg["hidden"])
        r = _train_one(name, model, train_ids, val_ids, cfg, echo)
        r.update(_score(name, model, val_ids, cfg, echo))
        say(echo, "batchnorm-rnn", name, r["steps"], r["bpc"], r["wall_seconds"], " (validation, bits/char)")
        runs[name] = r
    return {"table": _rows(runs, cfg), "budget_cpu_seconds": cfg["budget"], "max_steps": cfg["max_steps"],
            "batch": cfg["batch"], "seq_len": cfg["seq"], "longer": LONGER, "lr": cfg["lr"],
            "embed_dim": cfg["embed"], "hidden_size": cfg["hidden"], "val_windows": cfg["val_windows"],
            "degrade": DEGRADE, "runs": runs}


def claims(numbers) -> dict:
    r, B = numbers["runs"], str(numbers["batch"])
    bn, ln, none = r["BN"], r["LN"], r["none"]
    stats = bn["batch_stats"]
    smallest = str(min(int(b) for b in stats))
    return {
        "BN is worse than LN on validation loss": bn["bpc"] > ln["bpc"],
        "BN is not better than no normalisation": bn["bpc"] >= none["bpc"],
        f"BN's running statistics (eval mode) are worse than its batch statistics by > {DEGRADE} bits/char":
            bn["bpc"] - stats[B] > DEGRADE,
        f"BN's batch statistics over {smallest} windows are worse than over {B} by > {DEGRADE} bits/char":
            stats[smallest] - stats[B] > DEGRADE,
        f"beyond the trained length BN's loss rises by > {DEGRADE} bits/char more than LN's":
            bn["rise_beyond"] - ln["rise_beyond"] > DEGRADE,
    }


REASONS = ("BN is worse than LN and not better than none", "BN's running statistics (eval mode)",
           "BN's batch statistics at a small batch", "BN beyond the trained length")


def verdict(numbers):
    found = claims(numbers)
    flags = list(found.values())
    held = [flags[0] and flags[1], *flags[2:]]          # the first reason needs both of the first two claims
    r, B, T = numbers["runs"], str(numbers["batch"]), numbers["seq_len"]
    budget = numbers["budget_cpu_seconds"]
    spent = f"{budget:g} CPU seconds each" if budget else f"{numbers['max_steps']} steps each (quick)"
    bn = r["BN"]
    stats = ", ".join(f"batch {b} {v:.3f}" for b, v in bn["batch_stats"].items())
    which = [reason for reason, h in zip(REASONS, held) if h]
    text = (f"LSTM {numbers['hidden_size']} units, {spent}, batch {B} x {T} characters: validation bits/char "
            + ", ".join(f"{k} {v['bpc']:.3f} ({v['steps']} steps)" for k, v in r.items())
            + f"; BN with the batch's statistics: {stats} (running: {bn['bpc']:.3f}); loss beyond the trained "
            f"length ({T + 1}-{numbers['longer'] * T}) minus at its end: "
            + ", ".join(f"{k} {v['rise_beyond']:+.3f}" for k, v in r.items())
            + f". Supported by: {'; '.join(which) if which else 'none of the four'}. " + format_claims(found))
    return any(held), text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    runs, T = data["runs"], data["seq_len"]
    for i, (k, v) in enumerate(runs.items()):
        ax1.plot(v["time"], v["val_bpc"], "o-", ms=3, color=f"C{i}", label=f"{k} ({v['params']:,} params)")
        p = np.convolve(v["long_positions"], np.ones(SMOOTH) / SMOOTH, mode="valid")   # a running mean
        ax2.plot(np.arange(len(p)) + (SMOOTH + 1) / 2, p, color=f"C{i}", lw=1, label=k)
    ax1.set_xlabel("CPU seconds of training")
    ax1.set_ylabel("bits/char, first half of the validation windows")
    ax1.set_title("same budget: loss against time")
    ax1.legend(fontsize=8)
    ax2.axvline(T, color="gray", ls=":", label="trained length")
    ax2.set_xlabel("position in the window")
    ax2.set_ylabel(f"bits/char (eval mode, {SMOOTH}-position mean)")
    ax2.set_title(f"windows of {data['longer'] * T} from a zero state")
    ax2.legend(fontsize=8)
    bn = runs["BN"]
    labels = [f"batch stats\nbatch {b}" for b in bn["batch_stats"]] + ["running\nstats"]
    values = list(bn["batch_stats"].values()) + [bn["bpc"]]
    ax3.bar(range(len(values)), values, color="C1")
    for i, k in ((0, "none"), (2, "LN")):
        ax3.axhline(runs[k]["bpc"], color=f"C{i}", ls="--", label=f"{k} (any batch)")
    ax3.set_xticks(range(len(values)), labels, fontsize=7)
    ax3.set_ylim(min(values + [runs["LN"]["bpc"]]) * 0.9, max(values) * 1.05)
    ax3.set_ylabel("validation bits/char")
    ax3.set_title("BN: which statistics at evaluation")
    ax3.legend(fontsize=8)
