"""rnn-vs-transformer: the same language-modelling budget for an LSTM and a Transformer.

Claim (notes, Transformer): self-attention processes all positions of a sequence at once, where a
recurrent network must walk them one step after another; so for the same compute a Transformer
trains faster, and it reaches a lower loss.

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
from ..data.text import KJV
from ..models.gpt import GPT
from ..models.rnn_lm import CharRNNLM
from ..train.sequence import evaluate_lm, train_lm
from .base import Result, register_experiment

CLAIM = ("for the same compute budget a Transformer language model trains faster and reaches a lower validation "
         "loss than an LSTM")


def _loss_at(hist, t, key="time"):
    """The last validation loss measured by ``t`` (time, or step when key="step"); NaN before the first."""
    marks = np.asarray(hist[key])
    k = np.searchsorted(marks, t, side="right") - 1
    return float(hist["val_loss"][k]) if k >= 0 else float("nan")


@register_experiment("rnn-vs-transformer", "char-level LSTM vs GPT-style Transformer on the KJV Bible: validation "
                     "loss against CPU time, same budget")
def run(quick: bool = False) -> Result:
    train, valid = KJV(split="train"), KJV(split="valid")
    V = len(train.vocab)
    # quick: a fixed number of steps (deterministic, for CI); full: the same CPU-time budget for both
    max_steps = 30 if quick else None
    if quick:
        budget, batch, seq, eval_every, eval_tokens, lr = None, 16, 32, 10, 2_000, 3e-3
        lstm_cfg = dict(embed_dim=16, hidden_size=64)
        gpt_cfg = dict(d_model=48, num_layers=2, num_heads=2, dim_feedforward=96, max_len=seq, activation="relu")
        train_ids = train.ids[:400_000]
    else:
        budget, batch, seq, eval_every, eval_tokens, lr = 600.0, 32, 128, 50, 30_000, 2e-3
        lstm_cfg = dict(embed_dim=64, hidden_size=384)
        gpt_cfg = dict(d_model=160, num_layers=4, num_heads=4, dim_feedforward=640, max_len=seq, activation="relu")
        train_ids = train.ids
    val_ids = valid.ids[:eval_tokens + 1]
    builders = {"LSTM": lambda: CharRNNLM(V, "lstm", **lstm_cfg), "Transformer": lambda: GPT(V, **gpt_cfg)}
    out = {}
    for name, build in builders.items():
        nb.manual_seed(0)
        model = build()
        opt = optim.Adam(model.parameters(), lr=lr)
        wall0 = time.perf_counter()
        hist = train_lm(model, train_ids, val_ids, opt, batch_size=batch, seq_len=seq, epochs=1000,
                        max_steps=max_steps, time_budget=budget, clock=time.process_time, warmup=20 if name == "Transformer" else 0,
                        eval_every=eval_every, eval_tokens=eval_tokens, log=None)
        final = evaluate_lm(model, val_ids, seq_len=seq)
        steps = hist["step"][-1]
        out[name] = {"params": model.num_parameters(), "time": hist["time"], "val_loss": hist["val_loss"],
                     "step": hist["step"], "final_val_loss": final, "steps": steps, "chars": steps * batch * seq,
                     "wall_seconds": time.perf_counter() - wall0, "cpu_seconds": hist["time"][-1],
                     "half_budget_loss": _loss_at(hist, budget / 2) if budget else
                     _loss_at(hist, max_steps / 2, key="step")}
    rows = [{"model": k, "parameters": v["params"], "steps": v["steps"], "characters seen": v["chars"],
             "steps per CPU second": v["steps"] / max(v["cpu_seconds"], 1e-9), "val loss at half budget": v["half_budget_loss"],
             "final val loss (nats/char)": v["final_val_loss"]} for k, v in out.items()]
    lstm, tf = out["LSTM"], out["Transformer"]
    claims = {"the Transformer reaches a lower validation loss within the budget":
              tf["final_val_loss"] < lstm["final_val_loss"],
              "the Transformer is ahead at half the budget": tf["half_budget_loss"] < lstm["half_budget_loss"]}
    claims = {k: bool(v) for k, v in claims.items()}
    supported = all(claims.values())
    spent = f"{budget:g} CPU seconds each" if budget else f"{max_steps} steps each (quick)"
    verdict = (f"{spent}, batch {batch} x {seq} characters: final validation loss LSTM "
               f"{lstm['final_val_loss']:.3f} ({lstm['params']:,} parameters, {lstm['steps']} steps) vs Transformer "
               f"{tf['final_val_loss']:.3f} ({tf['params']:,} parameters, {tf['steps']} steps) nats/char. Claims: "
               + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in claims.items()))

    def plot(fig):
        ax1, ax2 = fig.subplots(1, 2)
        for i, (k, v) in enumerate(out.items()):
            ax1.plot(v["time"], v["val_loss"], "o-", ms=3, color=f"C{i}", label=f"{k} ({v['params']:,} params)")
            ax2.plot(np.asarray(v["step"]) * batch * seq, v["val_loss"], "o-", ms=3, color=f"C{i}", label=k)
        ax1.set_xlabel("CPU seconds of training")
        ax1.set_ylabel("validation loss (nats/char)")
        ax1.set_title("same budget: loss against time")
        ax1.legend(fontsize=8)
        ax2.set_xlabel("characters seen")
        ax2.set_ylabel("validation loss (nats/char)")
        ax2.set_title("loss against data")
        ax2.legend(fontsize=8)

    return Result(claim=CLAIM, supported=supported, verdict=verdict, table=rows,
                  data={"claims": claims, "budget_cpu_seconds": budget, "batch": batch, "seq_len": seq, "lr": lr,
                        "lstm_config": lstm_cfg, "gpt_config": gpt_cfg, "runs": out},
                  plot=plot)
