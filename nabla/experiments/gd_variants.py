"""gd-variants: batch, stochastic and mini-batch gradient descent are one loop with three batch sizes.

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

Measured on softmax regression (a convex problem) on the UCI 8x8 Digits, with ONE training loop and
one learning rate; only ``DataLoader(batch_size=...)`` changes: len(dataset) (batch), 1 (stochastic),
32 (mini-batch).  After every update we evaluate the full training objective J(theta) (outside the
timed region) and report: J against epochs and against wall time, the cost of one update, the
fraction of updates that made J go *up* (an unstable path), the std of the step-to-step change of J,
and the wall time each needs to reach a common target loss.  Each method runs for the same training
time at its best learning rate from one grid.  The claim is supported when the update direction agrees
with the full gradient best for batch, then mini-batch, then stochastic (and batch raises J least
often), one update costs most for batch and least for stochastic, and mini-batch reaches the common
target (the worst of the three final losses) first.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import nn, optim
from ..data import DataLoader, Subset
from ..autograd import grad
from ..data.datasets import Digits
from ..models import SoftmaxRegression
from .base import Result, register_experiment

CLAIM = ("batch gradient descent converges stably but each iteration is expensive; SGD (one sample) is "
         "cheaper per iteration but noisy, so its path is unstable; mini-batch balances computational "
         "efficiency and stability")


def _train(train_set, x_all, y_all, batch_size, lr, budget_s, seed, record=True):
    """The one loop: only batch_size differs between the three methods.

    Runs whole epochs until ``budget_s`` seconds of training time are spent (time spent evaluating
    the full objective is not counted).  With ``record``, after every update it evaluates the full
    training objective J and, every few updates, the cosine between the update's gradient and the
    full-batch gradient at the same point (how far the update direction strays).
    """
    nb.manual_seed(seed)                       # the same initial weights for every method
    model = SoftmaxRegression(64, 10)
    params = list(model.parameters())
    opt = optim.SGD(params, lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, seed=seed)

    def objective():
        with nb.no_grad():
            return float(loss_fn(model(x_all), y_all).item())

    def cosine_to_full_gradient():
        full = grad(loss_fn(model(x_all), y_all), params)
        g = np.concatenate([p.grad.data.ravel() for p in params])
        f = np.concatenate([t.data.ravel() for t in full])
        return float(g @ f / (np.linalg.norm(g) * np.linalg.norm(f) + 1e-30))

    n = len(train_set)
    losses, epochs_seen, times, cosines = [objective()], [0.0], [0.0], []
    cos_every = max(1, n // batch_size // 20)
    train_time, seen, updates = 0.0, 0, 0
    while train_time < budget_s:
        t0 = time.perf_counter()
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            train_time += time.perf_counter() - t0
            if record and updates % cos_every == 0:
                cosines.append(cosine_to_full_gradient())
            t0 = time.perf_counter()
            opt.step()
            train_time += time.perf_counter() - t0
            seen += len(y)
            updates += 1
            if record:
                losses.append(objective())    # not timed: J on the whole training set
                epochs_seen.append(seen / n)
                times.append(train_time)
            t0 = time.perf_counter()
    return {"loss": np.array(losses if record else [objective()]), "epoch": np.array(epochs_seen),
            "time": np.array(times), "cosine": np.array(cosines), "updates": updates, "train_time": train_time,
            "epochs": seen / n}


LEARNING_RATES = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@register_experiment("gd-variants", "batch vs stochastic vs mini-batch gradient descent: one loop, three batch sizes")
def run(quick: bool = False) -> Result:
    full = Digits(train=True)                 # a missing data set raises with the install hint
    rng = np.random.default_rng(0)
    n = 300 if quick else len(full)
    train_set = Subset(full, np.sort(rng.permutation(len(full))[:n])) if n < len(full) else full
    x_all, y_all = (nb.tensor(a) for a in train_set.get_batch(np.arange(n)))
    budget = 0.1 if quick else 1.5             # seconds of training per run
    methods = {"batch (B = n)": n, "stochastic (B = 1)": 1, "mini-batch (B = 32)": 32}
    # each method at its own best learning rate from one grid, for the same time budget
    grid = {name: {lr: float(_train(train_set, x_all, y_all, b, lr, budget, 0, record=False)["loss"][-1])
                   for lr in LEARNING_RATES} for name, b in methods.items()}
    best_lr = {name: min(g, key=lambda lr: g[lr] if np.isfinite(g[lr]) else np.inf) for name, g in grid.items()}
    runs = {name: _train(train_set, x_all, y_all, b, best_lr[name], budget, 0) for name, b in methods.items()}

    # a target every method reaches: the worst of the final losses
    target = max(r["loss"][-1] for r in runs.values()) * (1 + 1e-9)
    rows = []
    for name, r in runs.items():
        dj = np.diff(r["loss"])
        hit = int(np.argmax(r["loss"] <= target))
        rows.append({"method": name, "batch size": methods[name], "lr": best_lr[name], "updates": r["updates"],
                     "epochs": r["epochs"], "final J": float(r["loss"][-1]),
                     "ms/update": 1e3 * r["train_time"] / r["updates"],
                     "cos(update, full grad)": float(r["cosine"].mean()),
                     "updates raising J": float((dj > 0).mean()), "std dJ": float(dj.std()),
                     "updates to target": hit, "time to target (s)": float(r["time"][hit])})
    b, s, m = rows
    stable = (b["cos(update, full grad)"] > m["cos(update, full grad)"] > s["cos(update, full grad)"]
              and b["updates raising J"] < min(m["updates raising J"], s["updates raising J"]))
    cost = b["ms/update"] > m["ms/update"] > s["ms/update"]
    balance = m["time to target (s)"] <= min(b["time to target (s)"], s["time to target (s)"])
    supported = bool(stable and cost and balance)
    verdict = (f"update direction vs the full gradient (mean cosine): batch {b['cos(update, full grad)']:.2f}, "
               f"mini-batch {m['cos(update, full grad)']:.2f}, stochastic {s['cos(update, full grad)']:.2f}; "
               f"updates that raised the full loss: {b['updates raising J']:.0%} / {m['updates raising J']:.0%} / "
               f"{s['updates raising J']:.0%} "
               f"({'stable to noisy, as claimed' if stable else 'NOT in the claimed order'}); "
               f"one update costs {b['ms/update']:.2f} / {m['ms/update']:.2f} / {s['ms/update']:.2f} ms "
               f"({'as claimed' if cost else 'NOT in the claimed order'}); time to reach J = {target:.3f}: "
               f"{b['time to target (s)']:.3f} / {m['time to target (s)']:.3f} / {s['time to target (s)']:.3f} s "
               f"(batch / mini / stochastic: {'mini-batch fastest' if balance else 'mini-batch NOT fastest'})")

    def plot(fig):
        ax1, ax2, ax3 = fig.subplots(1, 3)
        for name, r in runs.items():
            ax1.plot(r["epoch"], r["loss"], label=f"{name}, lr {best_lr[name]:g}", lw=0.8)
            ax2.plot(r["time"], r["loss"], label=name, lw=0.8)
        for ax, xl in ((ax1, "epochs (passes over the data)"), (ax2, "training wall time (s)")):
            ax.set_yscale("log")
            ax.set_xscale("symlog", linthresh=1 if ax is ax1 else budget / 100)
            ax.set_xlim(left=0)
            ax.axhline(target, color="k", ls=":", lw=0.8)
            ax.set_xlabel(xl)
            ax.set_ylabel("full training loss J")
        ax1.legend(fontsize=7)
        ax1.set_title("loss against epochs")
        ax2.set_title("loss against wall time")
        names = [r["method"].split(" (")[0] for r in rows]
        x = np.arange(3)
        ax3.bar(x - 0.2, [r["cos(update, full grad)"] for r in rows], 0.4, label="cos(update, full gradient)")
        ax3.bar(x + 0.2, [r["updates raising J"] for r in rows], 0.4, label="fraction of updates raising J")
        ax3.set_xticks(x, names)
        ax3.legend(fontsize=7)
        ax3.set_title("how noisy is each path?")

    return Result(claim=CLAIM, supported=supported, verdict=verdict, table=rows,
                  data={"n_train": n, "budget_s": budget, "lr_grid": grid, "target": target,
                        "curves": {name: {k: r[k] for k in ("epoch", "time", "loss", "cosine")}
                                   for name, r in runs.items()}},
                  plot=plot)
