"""gd-variants: batch, stochastic and mini-batch gradient descent are one training loop with three batch sizes.

Claims (notes, 批优化 / 梯度下降、批优化、随机优化), translated:

* Batch gradient descent: "in each iteration, compute the gradient of the loss on the whole training
  set and update the parameters with it.  Its advantage is stable convergence, but the computation
  is large, especially when the data set is large."  (Pros: converges stably.  Cons: each iteration
  is expensive.)
* Stochastic gradient descent (SGD): "uses only one sample per iteration to compute the gradient ...
  compared with batch gradient descent, SGD computes faster, but it introduces noise, which makes
  the direction of the parameter update unstable."  (Cons: the convergence path is unstable; it
  needs more iterations.)
* Mini-batch gradient descent: "uses a small part of the data (a mini-batch) per iteration ...
  strikes a balance between computational efficiency and convergence stability."

Measured on softmax regression (a convex problem) on the UCI 8x8 Digits, with ONE training loop (the
``nabla.train.Trainer`` every model trains with); only ``DataLoader(batch_size=...)`` changes:
len(dataset) (batch), 1 (stochastic), 32 (mini-batch).  After every update the Trainer evaluates the
full training objective J(theta) (``eval_every=1``; evaluation is outside the timed training) and a
callback compares the update's gradient with the full-batch gradient at the same point; we report: J
against epochs and against wall time, the cost of one update, the fraction of updates that made J go
*up* (an unstable path), the std of the step-to-step change of J, and the wall time each needs to reach
a common target loss.  Each method runs for the same training time (whole epochs, until the first
that ends past the budget) at its best learning rate from one grid.  The claim is supported when the
update direction agrees with the full gradient best for batch, then mini-batch, then stochastic (and
batch raises J least often), one update costs most for batch and least for stochastic, and mini-batch
reaches the common target (the worst of the three final losses) first.
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import nn, optim
from ..autograd import grad
from ..data import DataLoader
from ..models import SoftmaxRegression
from ..train import Callback, ClassificationStep, Trainer
from .base import register_experiment
from .common import load_dataset, random_subset, say

CLAIM = ("batch gradient descent converges stably but each iteration is expensive; SGD (one sample) is "
         "cheaper per iteration but noisy, so its path is unstable; mini-batch balances computational "
         "efficiency and stability")
LEARNING_RATES = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def _cosine(a, b) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


class UpdateDirection(Callback):
    """Every ``every`` updates, keeps the update's gradient and the point where it was taken (between backward
    and the step); at the evaluation that follows (untimed) compares it with the full-batch gradient there."""

    def __init__(self, model, full_batch, every: int):
        self.model, (self.x, self.y), self.every = model, full_batch, every
        self.params, self.pending, self.cosines = list(model.parameters()), None, []

    def on_before_optimizer_step(self, trainer, parameters):
        if trainer.global_step % self.every == 0:
            self.pending = ([p.grad.data.copy() for p in self.params], [p.data.copy() for p in self.params])

    def on_evaluate(self, trainer, logs):
        if self.pending is None:
            return
        update_grad, point = self.pending
        self.pending, now = None, [p.data.copy() for p in self.params]
        for p, v in zip(self.params, point):      # back to where the update's gradient was taken
            p.data[...] = v
        full = grad(nn.CrossEntropyLoss()(self.model(self.x), self.y), self.params)
        for p, v in zip(self.params, now):
            p.data[...] = v
        self.cosines.append(_cosine(np.concatenate([g.ravel() for g in update_grad]),
                                    np.concatenate([t.data.ravel() for t in full])))


class WholeEpochs(Callback):
    """Stops at the end of the first epoch that ends with ``budget_s`` seconds of training spent (so each run
    is whole passes over the data, as the notes count them)."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s

    def on_epoch_end(self, trainer, epoch, logs):
        if trainer.elapsed >= self.budget_s:
            trainer.stop_training = True


def _train(train_set, full_batch, batch_size, lr, budget_s, seed, record=True):
    """The one loop, with only ``batch_size`` differing between the three methods: ``budget_s`` seconds of
    training (evaluation not counted).  With ``record``, the full objective J after every update and, every
    few updates, the cosine between the update's gradient and the full gradient (how far it strays).
    Whole epochs: the run ends with the first epoch that ends past the budget."""
    nb.manual_seed(seed)                       # the same initial weights for every method
    model = SoftmaxRegression(64, 10)
    n = len(train_set)
    whole = DataLoader(train_set, batch_size=n)
    direction = UpdateDirection(model, full_batch, max(1, n // batch_size // 20))
    trainer = Trainer(ClassificationStep(model, optim.SGD(model.parameters(), lr=lr), metrics=()),
                      callbacks=[WholeEpochs(budget_s)] + ([direction] if record else []), progress=False)
    j0 = trainer.evaluate(whole)["loss"]
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed)
    trainer.fit(loader, val_data=whole if record else None, epochs=10 ** 9, eval_every=1 if record else None)
    updates, per_epoch = trainer.global_step, -(-n // batch_size)
    steps = np.arange(updates + 1)
    seen = (steps // per_epoch) * n + np.minimum((steps % per_epoch) * batch_size, n)   # samples after each update
    loss = [j0] + trainer.history["val_loss"] if record else [trainer.evaluate(whole)["loss"]]
    return {"loss": np.array(loss), "epoch": seen / n if record else np.array([]),
            "time": np.array([0.0] + trainer.history["time"]) if record else np.array([]),
            "cosine": np.array(direction.cosines), "updates": updates, "train_time": trainer.elapsed,
            "epochs": seen[-1] / n}


CHAPTER = "batch-optimization"
NOTES = ("批梯度下降的优点是收敛稳定，但计算量大，尤其是数据量很大时。 … 相比批梯度下降，SGD 的计算速度更快，"
         "但会引入噪声，导致参数更新方向不稳定。 … 小批量梯度下降在计算效率和收敛稳定性之间取得了平衡。",
         "The advantage of batch gradient descent is stable convergence, but its computation is large, especially "
         "when the data set is large. ... Compared with batch gradient descent, SGD computes faster, but it "
         "introduces noise, which makes the direction of the parameter updates unstable. ... Mini-batch gradient "
         "descent strikes a balance between computational efficiency and convergence stability.")


@register_experiment("gd-variants", "batch vs stochastic vs mini-batch gradient descent: one loop, three batch sizes")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    full = load_dataset("digits", train=True, download=download)
    n = 300 if quick else len(full)
    train_set = random_subset(full, n, 0)
    full_batch = tuple(nb.from_numpy(a) for a in train_set.get_batch(np.arange(n)))
    budget = 0.1 if quick else 1.5             # seconds of training per run
    methods = {"batch (B = n)": n, "stochastic (B = 1)": 1, "mini-batch (B = 32)": 32}
    # each method at its own best learning rate from one grid, for the same time budget
    grid = {name: {lr: float(_train(train_set, full_batch, b, lr, budget, 0, record=False)["loss"][-1])
                   for lr in LEARNING_RATES} for name, b in methods.items()}
    best_lr = {name: min(g, key=lambda lr: g[lr] if np.isfinite(g[lr]) else np.inf) for name, g in grid.items()}
    runs = {}
    for name, b in methods.items():
        runs[name] = _train(train_set, full_batch, b, best_lr[name], budget, 0)
        say(echo, "gd-variants", f"{name}, lr {best_lr[name]:g},", runs[name]["updates"], runs[name]["loss"][-1],
            runs[name]["train_time"])
    return {"table": _rows(runs, methods, best_lr), "n_train": n, "budget_s": budget, "lr_grid": grid,
            "best_lr": best_lr, "target": _target(runs),
            "curves": {name: {k: r[k] for k in ("epoch", "time", "loss", "cosine")} for name, r in runs.items()}}


def _target(runs) -> float:
    """A loss every method reaches: the worst of the final losses."""
    return float(max(r["loss"][-1] for r in runs.values()) * (1 + 1e-9))


def _rows(runs, methods, best_lr) -> list:
    target, rows = _target(runs), []
    for name, r in runs.items():
        dj = np.diff(r["loss"])
        hit = int(np.argmax(r["loss"] <= target))
        rows.append({"method": name, "batch size": methods[name], "lr": best_lr[name], "updates": r["updates"],
                     "epochs": r["epochs"], "final J": float(r["loss"][-1]),
                     "ms/update": 1e3 * r["train_time"] / r["updates"],
                     "cos(update, full grad)": float(r["cosine"].mean()),
                     "updates raising J": float((dj > 0).mean()), "std dJ": float(dj.std()),
                     "updates to target": hit, "time to target (s)": float(r["time"][hit])})
    return rows


def _orders(rows):
    """(stable, cost, balance): the three parts of the claim, from the table's batch / stochastic / mini rows."""
    b, s, m = rows
    stable = (b["cos(update, full grad)"] > m["cos(update, full grad)"] > s["cos(update, full grad)"]
              and b["updates raising J"] < min(m["updates raising J"], s["updates raising J"]))
    cost = b["ms/update"] > m["ms/update"] > s["ms/update"]
    balance = m["time to target (s)"] <= min(b["time to target (s)"], s["time to target (s)"])
    return bool(stable), bool(cost), bool(balance)


def verdict(numbers):
    b, s, m = numbers["table"]
    stable, cost, balance = _orders(numbers["table"])
    text = (f"update direction vs the full gradient (mean cosine): batch {b['cos(update, full grad)']:.2f}, "
            f"mini-batch {m['cos(update, full grad)']:.2f}, stochastic {s['cos(update, full grad)']:.2f}; "
            f"updates that raised the full loss: {b['updates raising J']:.0%} / {m['updates raising J']:.0%} / "
            f"{s['updates raising J']:.0%} "
            f"({'stable to noisy, as claimed' if stable else 'NOT in the claimed order'}); "
            f"one update costs {b['ms/update']:.2f} / {m['ms/update']:.2f} / {s['ms/update']:.2f} ms "
            f"({'as claimed' if cost else 'NOT in the claimed order'}); time to reach J = {numbers['target']:.3f}: "
            f"{b['time to target (s)']:.3f} / {m['time to target (s)']:.3f} / {s['time to target (s)']:.3f} s "
            f"(batch / mini / stochastic: {'mini-batch fastest' if balance else 'mini-batch NOT fastest'})")
    return stable and cost and balance, text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for name, r in data["curves"].items():
        ax1.plot(r["epoch"], r["loss"], label=f"{name}, lr {data['best_lr'][name]:g}", lw=0.8)
        ax2.plot(r["time"], r["loss"], label=name, lw=0.8)
    for ax, xl in ((ax1, "epochs (passes over the data)"), (ax2, "training wall time (s)")):
        ax.set_yscale("log")
        ax.set_xscale("symlog", linthresh=1 if ax is ax1 else data["budget_s"] / 100)
        ax.set_xlim(left=0)
        ax.axhline(data["target"], color="k", ls=":", lw=0.8)
        ax.set_xlabel(xl)
        ax.set_ylabel("full training loss J")
    ax1.legend(fontsize=7)
    ax1.set_title("loss against epochs")
    ax2.set_title("loss against wall time")
    x = np.arange(len(data["curves"]))
    names = [name.split(" (")[0] for name in data["curves"]]
    cos = [float(np.mean(r["cosine"])) for r in data["curves"].values()]
    rising = [float((np.diff(r["loss"]) > 0).mean()) for r in data["curves"].values()]
    ax3.bar(x - 0.2, cos, 0.4, label="cos(update, full gradient)")
    ax3.bar(x + 0.2, rising, 0.4, label="fraction of updates raising J")
    ax3.set_xticks(x, names)
    ax3.legend(fontsize=7)
    ax3.set_title("how noisy is each path?")
