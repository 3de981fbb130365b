"""gd-convex: on a convex problem, batch gradient descent reaches the global optimum; SGD stalls near it.

Claim (notes, 梯度下降、批优化、随机优化), translated: batch gradient descent "can guarantee the global
optimum on convex problems"; stochastic gradient descent introduces noise, so its path does not settle.

Measured on least-squares linear regression on the registered ``linear`` data set (the notes' y = 2.5x - 1
+ noise; features [x, 1]), whose one minimum is known in closed form: w* from the normal equations
(``np.linalg.lstsq``).  From w = 0, three methods train with nabla autograd and ``nabla.optim.SGD`` at
ONE learning rate for the same number of epochs: batch gradient descent (one update per epoch), SGD
(batch 1) and mini-batch (batch 32); a fourth, SGD with a decaying rate lr / (1 + epoch), shows that
the floor is the constant rate's noise.  After every epoch the distance ||w - w*|| / ||w*|| is recorded.
The claim is supported when batch GD's distance falls below 1e-3 and decreases at every epoch (the rate
is below 2 / the largest curvature, so it must), while constant-rate SGD ends at a floor above batch's.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import optim
from .base import register_experiment
from .common import format_claims, load_dataset, random_subset, say

CLAIM = ("batch gradient descent reaches the global optimum of a convex problem; stochastic gradient descent "
         "with a constant rate stalls at a noise floor around it")
TOLERANCE = 1e-3           # relative distance to w* that counts as "reached"


def design(ds):
    """(X, y) in float64: the features [x, 1] and the targets of a regression data set."""
    x, y = ds.get_batch(np.arange(len(ds)))
    x = np.asarray(x, dtype=np.float64).reshape(len(ds), -1)
    return np.hstack([x, np.ones((len(x), 1))]), np.asarray(y, dtype=np.float64).reshape(-1)


def closed_form(X, y):
    """w* = argmin ||X w - y||^2 by the normal equations (least squares)."""
    return np.linalg.lstsq(X, y, rcond=None)[0]


def descend(X, y, w_star, batch_size, lr, epochs, seed=0, decay=False):
    """From w = 0, ``epochs`` passes of SGD(lr) on the MSE over shuffled batches of ``batch_size`` (nabla
    autograd); returns the relative distance ||w - w*|| / ||w*|| before training and after each epoch."""
    w = nb.tensor(np.zeros(X.shape[1]), dtype=np.float64, requires_grad=True)
    opt, rng, n = optim.SGD([w], lr=lr), np.random.default_rng(seed), len(X)
    dist = [float(np.linalg.norm(w.data - w_star) / np.linalg.norm(w_star))]
    for epoch in range(epochs):
        if decay:
            opt.param_groups[0]["lr"] = lr / (1 + epoch)
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            xb, yb = nb.tensor(X[idx]), nb.tensor(y[idx])
            opt.zero_grad()
            (((xb @ w) - yb) ** 2).mean().backward()
            opt.step()
        dist.append(float(np.linalg.norm(w.data - w_star) / np.linalg.norm(w_star)))
    return np.array(dist)


def falls_at_every_epoch(d, floor: float = 1e-12) -> bool:
    """Does the distance fall at every epoch (until it is at rounding level, below ``floor``)?"""
    d = np.asarray(d, dtype=np.float64)
    return bool(np.all((np.diff(d) < 0) | (d[1:] < floor)))


CHAPTER = "batch-optimization"
NOTES = ("在凸优化问题中可以保证找到全局最优解 … 相比批梯度下降，SGD 的计算速度更快，但会引入噪声，导致参数更"
         "新方向不稳定。",
         "(Batch gradient descent) can guarantee finding the global optimum on convex optimisation problems ... "
         "Compared with batch gradient descent, SGD computes faster, but it introduces noise, which makes the "
         "direction of the parameter updates unstable.")


@register_experiment("gd-convex", "batch GD reaches the closed-form optimum of least squares; SGD stalls at a floor")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    train = load_dataset("linear", train=True, download=download)
    n = 300 if quick else len(train)
    X, y = design(random_subset(train, n, 0))
    w_star = closed_form(X, y)
    curvature = np.linalg.eigvalsh(2 * X.T @ X / n)          # the Hessian of the MSE
    lr, epochs = 0.1, 40 if quick else 60
    methods = {"batch GD (B = n)": (n, False), "SGD (B = 1)": (1, False), "mini-batch (B = 32)": (32, False),
               "SGD (B = 1), lr / (1 + epoch)": (1, True)}
    curves, rows = {}, []
    for name, (b, decay) in methods.items():
        start = time.perf_counter()
        curves[name] = d = descend(X, y, w_star, b, lr, epochs, decay=decay)
        say(echo, "gd-convex", name, epochs * -(-n // b), d[-1], time.perf_counter() - start,
            extra=" (the relative distance to w*)")
        rows.append({"method": name, "batch size": b, "lr": lr, "epochs": epochs, "updates": epochs * -(-n // b),
                     "final ||w - w*|| / ||w*||": float(d[-1]),
                     "mean over last 10 epochs": float(d[-10:].mean()),
                     "monotone": falls_at_every_epoch(d)})
    return {"table": rows, "n_train": n, "w_star": w_star, "lr": lr, "epochs": epochs, "tolerance": TOLERANCE,
            "curvature": curvature, "stable_lr_below": float(2 / curvature.max()), "curves": curves}


def claims(numbers):
    rows = {r["method"]: r for r in numbers["table"]}
    batch, sgd, mini = rows["batch GD (B = n)"], rows["SGD (B = 1)"], rows["mini-batch (B = 32)"]
    decayed = rows["SGD (B = 1), lr / (1 + epoch)"]
    floor = sgd["mean over last 10 epochs"]
    return {"batch GD reaches w* (relative distance < 1e-3)": batch["final ||w - w*|| / ||w*||"] < TOLERANCE,
            "batch GD's distance falls at every epoch": batch["monotone"],
            "constant-rate SGD stalls at a floor above batch GD's (10x or more)":
                floor > 10 * max(batch["final ||w - w*|| / ||w*||"], 1e-12) and floor > TOLERANCE,
            "mini-batch's floor lies between batch's and SGD's":
                batch["final ||w - w*|| / ||w*||"] < mini["mean over last 10 epochs"] < floor,
            "a decaying rate takes SGD below its constant-rate floor": decayed["mean over last 10 epochs"] < floor}


def verdict(numbers):
    rows, found = {r["method"]: r for r in numbers["table"]}, claims(numbers)
    d = {k: r["final ||w - w*|| / ||w*||"] for k, r in rows.items()}
    w = numbers["w_star"]
    text = (f"least squares on {numbers['n_train']} points, w* = ({w[0]:.4f}, {w[1]:.4f}) by the normal equations; "
            f"after {numbers['epochs']} epochs at lr {numbers['lr']:g} (stable below {numbers['stable_lr_below']:.2f}) "
            f"the relative distance ||w - w*|| / ||w*|| is {d['batch GD (B = n)']:.2e} for batch GD, "
            f"{d['mini-batch (B = 32)']:.2e} for mini-batch, {d['SGD (B = 1)']:.2e} for SGD "
            f"(its floor over the last 10 epochs {rows['SGD (B = 1)']['mean over last 10 epochs']:.2e}) and "
            f"{d['SGD (B = 1), lr / (1 + epoch)']:.2e} for SGD with a decaying rate. " + format_claims(found))
    main = [k for k in found if not k.startswith(("mini-batch", "a decaying"))]
    return all(found[k] for k in main), text


def plot(fig, data):
    ax1, ax2 = fig.subplots(1, 2)
    for name, d in data["curves"].items():
        d = np.maximum(np.asarray(d, dtype=np.float64), 1e-17)
        ax1.plot(np.arange(len(d)), d, label=name, lw=1.2)
    ax1.axhline(data["tolerance"], color="k", ls=":", lw=0.8, label="tolerance")
    ax1.set_yscale("log")
    ax1.set_xlabel("epochs")
    ax1.set_ylabel("||w - w*|| / ||w*||")
    ax1.set_title(f"distance to the closed-form optimum (lr {data['lr']:g})")
    ax1.legend(fontsize=7)
    names = list(data["curves"])
    finals = [max(float(np.asarray(data["curves"][k], dtype=np.float64)[-1]), 1e-17) for k in names]
    ax2.bar(range(len(names)), finals, color=[f"C{i}" for i in range(len(names))])
    ax2.set_yscale("log")
    ax2.set_xticks(range(len(names)), [k.replace(", lr", "\nlr") for k in names], fontsize=7)
    ax2.set_title("final distance to w*")
