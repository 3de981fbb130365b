"""rnn-vs-transformer: the same language-modelling budget for an LSTM and a Transformer.

Claim (nabla's own, not the notes'): the notes only say that Transformers are widely used for machine
translation and text generation, and that they capture global information of the sequence through multi-head
self-attention and positional encoding (chapter 4, 注意力机制与Transformer).  This experiment tests the claim
usually made for that choice: self-attention processes all positions of a sequence at once, where a recurrent
network must walk them one step after another; so for the same compute a Transformer trains faster, and it
reaches a lower loss.

Measured: a character-level LSTM (``char-lstm``) and a GPT-style Transformer (``gpt``) of similar
parameter counts train on the King James Bible with the same optimizer (Adam, warm-up + cosine decay),
batch, sequence length and CPU-time budget (this process's CPU seconds, so other jobs on the machine do
not skew the comparison).  The validation loss (nats per character, on a fixed stretch of held-out
text) is recorded against CPU time; the experiment reports each model's loss at the end and at half
the budget, steps taken and characters seen.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import optim
from ..models.gpt import GPT
from ..models.rnn_lm import CharRNNLM
from ..train import Trainer, WarmupCosine
from ..train.steps.language_model import LanguageModelStep, RandomWindows, StreamBatches, TokenStream, evaluate_lm
from .base import register_experiment
from .common import Heartbeat, format_claims, load_dataset, say

CLAIM = ("(nabla's claim, not the notes') for the same compute budget a Transformer language model trains faster "
         "and reaches a lower validation loss than an LSTM")


def _loss_at(hist, t, key="time"):
    """The last validation loss measured by ``t`` (time, or step when key="step"); NaN before the first."""
    marks = np.asarray(hist[key])
    k = np.searchsorted(marks, t, side="right") - 1
    return float(hist["val_loss"][k]) if k >= 0 else float("nan")


def _config(quick: bool) -> dict:
    """Budget, batch shape, evaluation cadence and the two models' sizes."""
    if quick:   # a fixed number of steps (deterministic, for CI)
        seq = 32
        return dict(max_steps=30, budget=None, batch=16, seq=seq, eval_every=10, eval_tokens=2_000, lr=3e-3,
                    train_chars=400_000, lstm=dict(embed_dim=16, hidden_size=64),
                    gpt=dict(d_model=48, num_layers=2, num_heads=2, dim_feedforward=96, max_len=seq, activation="relu"))
    seq = 128       # the same CPU-time budget for both
    return dict(max_steps=None, budget=600.0, batch=32, seq=seq, eval_every=50, eval_tokens=30_000, lr=2e-3,
                train_chars=None, lstm=dict(embed_dim=64, hidden_size=384),
                gpt=dict(d_model=160, num_layers=4, num_heads=4, dim_feedforward=640, max_len=seq, activation="relu"))


def _train_one(name, model, train_ids, val_ids, cfg, echo) -> dict:
    """Adam with warm-up (Transformer) and cosine decay over the budget, clipped at 1, through the Trainer;
    the budget and the curve's time axis are this process's CPU seconds."""
    seq, batch = cfg["seq"], cfg["batch"]
    stateful = getattr(model, "stateful", False)
    loader = StreamBatches(train_ids, batch, seq, seed=0) if stateful else RandomWindows(train_ids, batch, seq, seed=0)
    val = TokenStream(val_ids, seq * 2 if stateful else seq, max_tokens=cfg["eval_tokens"])
    trainer = Trainer(LanguageModelStep(model, optim.Adam(model.parameters(), lr=cfg["lr"])),
                      scheduler=WarmupCosine(warmup=20 if name == "Transformer" else 0, min_ratio=0.1),
                      clip_grad_norm=1.0, clock="cpu", callbacks=[Heartbeat(echo, f"rnn-vs-transformer: {name}")],
                      progress=False)
    wall0 = time.perf_counter()
    hist = trainer.fit(loader, val_data=val, epochs=1000, max_steps=cfg["max_steps"], time_budget=cfg["budget"],
                       eval_every=cfg["eval_every"])
    final, steps = evaluate_lm(model, val_ids, seq_len=seq), hist["step"][-1]
    say(echo, "rnn-vs-transformer", name, steps, final, time.perf_counter() - wall0, " (validation, nats/char)")
    half = _loss_at(hist, cfg["budget"] / 2) if cfg["budget"] else _loss_at(hist, cfg["max_steps"] / 2, key="step")
    return {"params": model.num_parameters(), "time": hist["time"], "val_loss": hist["val_loss"], "step": hist["step"],
            "final_val_loss": final, "steps": steps, "chars": steps * batch * seq,
            "wall_seconds": time.perf_counter() - wall0, "cpu_seconds": hist["time"][-1], "half_budget_loss": half}


CHAPTER = "modern-architectures"
NOTES = ("Transformer是一种基于注意力机制的深度学习模型，最初提出用于自然语言处理任务，如机器翻译和语言建模。"
         "它通过多头自注意力机制和位置编码来捕捉输入序列中的全局信息",
         "The Transformer is a deep learning model based on attention, first proposed for natural language "
         "processing tasks such as machine translation and language modelling; it captures the global information "
         "of the input sequence through multi-head self-attention and positional encoding. (The claim tested -- "
         "at the same compute a Transformer language model trains faster and reaches a lower loss than an LSTM -- "
         "is nabla's reading of this sentence, not the notes' claim.)")


@register_experiment("rnn-vs-transformer", "char-level LSTM vs GPT-style Transformer on the KJV Bible: validation "
                     "loss against CPU time, same budget")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    train = load_dataset("kjv", split="train", download=download)
    valid = load_dataset("kjv", split="valid", download=download)
    V, cfg = len(train.vocab), _config(quick)
    train_ids = train.ids[:cfg["train_chars"]] if cfg["train_chars"] else train.ids
    val_ids = valid.ids[:cfg["eval_tokens"] + 1]
    builders = {"LSTM": lambda: CharRNNLM(V, "lstm", **cfg["lstm"]), "Transformer": lambda: GPT(V, **cfg["gpt"])}
    out = {}
    for name, build in builders.items():
        nb.manual_seed(0)
        out[name] = _train_one(name, build(), train_ids, val_ids, cfg, echo)
    rows = [{"model": k, "parameters": v["params"], "steps": v["steps"], "characters seen": v["chars"],
             "steps per CPU second": v["steps"] / max(v["cpu_seconds"], 1e-9),
             "val loss at half budget": v["half_budget_loss"], "final val loss (nats/char)": v["final_val_loss"]}
            for k, v in out.items()]
    return {"table": rows, "budget_cpu_seconds": cfg["budget"], "max_steps": cfg["max_steps"], "batch": cfg["batch"],
            "seq_len": cfg["seq"], "lr": cfg["lr"], "lstm_config": cfg["lstm"], "gpt_config": cfg["gpt"], "runs": out}


def claims(numbers) -> dict:
    lstm, tf = numbers["runs"]["LSTM"], numbers["runs"]["Transformer"]
    return {"the Transformer reaches a lower validation loss within the budget":
            bool(tf["final_val_loss"] < lstm["final_val_loss"]),
            "the Transformer is ahead at half the budget": bool(tf["half_budget_loss"] < lstm["half_budget_loss"])}


def verdict(numbers):
    lstm, tf = numbers["runs"]["LSTM"], numbers["runs"]["Transformer"]
    found, budget = claims(numbers), numbers["budget_cpu_seconds"]
    spent = f"{budget:g} CPU seconds each" if budget else f"{numbers['max_steps']} steps each (quick)"
    text = (f"{spent}, batch {numbers['batch']} x {numbers['seq_len']} characters: final validation loss LSTM "
            f"{lstm['final_val_loss']:.3f} ({lstm['params']:,} parameters, {lstm['steps']} steps) vs Transformer "
            f"{tf['final_val_loss']:.3f} ({tf['params']:,} parameters, {tf['steps']} steps) nats/char. "
            + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2 = fig.subplots(1, 2)
    for i, (k, v) in enumerate(data["runs"].items()):
        ax1.plot(v["time"], v["val_loss"], "o-", ms=3, color=f"C{i}", label=f"{k} ({v['params']:,} params)")
        ax2.plot(np.asarray(v["step"]) * data["batch"] * data["seq_len"], v["val_loss"], "o-", ms=3, color=f"C{i}",
                 label=k)
    ax1.set_xlabel("CPU seconds of training")
    ax1.set_ylabel("validation loss (nats/char)")
    ax1.set_title("same budget: loss against time")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("characters seen")
    ax2.set_ylabel("validation loss (nats/char)")
    ax2.set_title("loss against data")
    ax2.legend(fontsize=8)
