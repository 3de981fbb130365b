"""regularization: L1 vs L2 penalties on the same model, and dropout / batch norm against over-fitting.

Claims (notes, 正则化的种类及其目的), translated:

* "In training, the objective is usually the loss function plus a regularisation term."
* L1: "adds the sum of the absolute values of the weights, lambda sum_j |w_j|, to the loss ... by
  increasing the sparsity of the weights (making some weights become zero) it performs feature
  selection and reduces model complexity."
* L2: "adds the sum of the squared weights, lambda sum_j w_j^2 ... by limiting the size of the weights
  it reduces model complexity and so prevents over-fitting."
* Dropout: "randomly ignores ('drops') some neurons during training ... prevents neurons from
  relying too much on other neurons, strengthening robustness and generalisation."
* Batch normalisation: "normalises the data before each layer's activation ... makes each layer's
  input distribution more stable, speeding up training and improving generalisation"; and
  "regularisation techniques such as Dropout and Batch Normalization help the model avoid
  over-fitting in complex situations."

Part A: softmax regression on MNIST-5k trained with objective = cross-entropy + lambda * penalty
(``nabla.nn.l1_penalty`` / ``l2_penalty``), each penalty at the largest lambda of one grid that costs
at most one point of validation accuracy (as strong as it can be while the model stays as good):
fraction of near-zero weights (|w| < 1% of the largest |w|), weight norm, histograms.
Part B: an MLP trained far past the point of fitting a small training subset, with neither, dropout,
batch norm (and both): the gap between training and validation accuracy (and validation loss).
The claim is supported when L1 leaves more near-zero weights than L2 and no penalty, L2 gives a
smaller ||W|| than no penalty, and dropout and batch norm each narrow the accuracy gap.
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import nn, optim
from ..data import DataLoader, Subset
from ..data.datasets import MNIST5k
from ..models import MLP, SoftmaxRegression
from ..train.metrics import accuracy
from .base import Result, register_experiment

CLAIM = ("objective = loss + lambda * penalty: L1 makes weights sparse (many become zero), L2 limits their "
         "size; dropout and batch normalisation reduce over-fitting (a smaller train/validation gap)")

LAMBDAS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
ACCURACY_COST = 0.01   # a penalty may cost at most 1 point of validation accuracy
NEAR_ZERO = 0.01        # |w| below 1% of the model's largest |w|


def _subset(ds, n, seed):
    if n >= len(ds):
        return ds
    return Subset(ds, np.sort(np.random.default_rng(seed).permutation(len(ds))[:n]))


def _evaluate(model, x, y, loss_fn):
    model.eval()
    with nb.no_grad():
        logits = model(x)
        out = float(loss_fn(logits, y).item()), accuracy(logits, y)
    model.train()
    return out


def _penalised(train, x_val, y_val, penalty, lam, epochs):
    nb.manual_seed(0)
    model = SoftmaxRegression(784, 10)
    opt = optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        for x, y in DataLoader(train, batch_size=64, shuffle=True, seed=0):
            opt.zero_grad()
            objective = loss_fn(model(x), y)
            if penalty is not None:            # the notes' objective: loss + lambda * penalty(weights)
                objective = objective + lam * penalty(model.linear.weight)
            objective.backward()
            opt.step()
    w = model.linear.weight.data.copy()
    _, val_acc = _evaluate(model, x_val, y_val, loss_fn)
    return {"weights": w, "val_accuracy": val_acc, "near_zero": float((np.abs(w) < NEAR_ZERO * np.abs(w).max()).mean()),
            "norm": float(np.sqrt((w ** 2).sum())), "max_abs": float(np.abs(w).max())}


def _overfit(train, x_tr, y_tr, x_val, y_val, width, epochs, dropout, batch_norm):
    nb.manual_seed(0)
    model = MLP(784, 10, depth=2, width=width, dropout=dropout, batch_norm=batch_norm)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    curve = []
    loader = DataLoader(train, batch_size=50, shuffle=True, seed=0)
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        curve.append(_evaluate(model, x_tr, y_tr, loss_fn) + _evaluate(model, x_val, y_val, loss_fn))
    return np.array(curve)       # epochs x (train loss, train acc, val loss, val acc)


@register_experiment("regularization", "L1 vs L2 (sparsity, weight size); dropout and batch norm vs over-fitting")
def run(quick: bool = False) -> Result:
    train_full, val = MNIST5k(train=True), MNIST5k(train=False)
    x_val, y_val = (nb.tensor(a) for a in val.get_batch(np.arange(len(val))))

    # ---- part A: L1 vs L2 on softmax regression
    train_a = _subset(train_full, 2000 if quick else len(train_full), 0)
    epochs_a = 3 if quick else 15
    none = _penalised(train_a, x_val, y_val, None, 0.0, epochs_a)
    pen = {}
    for name, fn in (("L1", nn.l1_penalty), ("L2", nn.l2_penalty)):
        grid = {lam: _penalised(train_a, x_val, y_val, fn, lam, epochs_a) for lam in LAMBDAS}
        # the strongest penalty that costs at most ACCURACY_COST of validation accuracy
        fine = [lam for lam in LAMBDAS if grid[lam]["val_accuracy"] >= none["val_accuracy"] - ACCURACY_COST]
        best = max(fine) if fine else min(LAMBDAS)
        pen[name] = {**grid[best], "lambda": best,
                     "grid": {lam: {k: v for k, v in r.items() if k != "weights"} for lam, r in grid.items()}}
    rows = [{"part": "A", "model": "softmax regression, no penalty", "lambda": 0.0,
             "near-zero weights": none["near_zero"], "||W||": none["norm"], "val acc": none["val_accuracy"]}]
    rows += [{"part": "A", "model": f"softmax regression + {n}", "lambda": r["lambda"],
              "near-zero weights": r["near_zero"], "||W||": r["norm"], "val acc": r["val_accuracy"]}
             for n, r in pen.items()]
    sparse = pen["L1"]["near_zero"] > max(pen["L2"]["near_zero"], none["near_zero"])
    small = pen["L2"]["norm"] < none["norm"]

    # ---- part B: over-fitting MLP, a small training subset
    n_b, width, epochs_b = (300, 128, 20) if quick else (1000, 256, 60)
    train_b = _subset(train_full, n_b, 1)
    x_tr, y_tr = (nb.tensor(a) for a in train_b.get_batch(np.arange(len(train_b))))
    variants = {"neither": (0.0, False), "dropout 0.5": (0.5, False), "batch norm": (0.0, True),
                "dropout + batch norm": (0.5, True)}
    curves = {name: _overfit(train_b, x_tr, y_tr, x_val, y_val, width, epochs_b, d, bn)
              for name, (d, bn) in variants.items()}
    gaps = {}
    for name, c in curves.items():
        tr_loss, tr_acc, va_loss, va_acc = c[-1]
        gaps[name] = tr_acc - va_acc
        rows.append({"part": "B", "model": f"MLP, {name}", "train acc": tr_acc, "val acc": va_acc,
                     "train-val gap": gaps[name], "train loss": tr_loss, "val loss": va_loss,
                     "val-train loss gap": va_loss - tr_loss})
    less_overfit = {n: bool(gaps[n] < gaps["neither"]) for n in ("dropout 0.5", "batch norm")}
    supported = bool(sparse and small and all(less_overfit.values()))
    loss_gaps = ", ".join(f"{n} {c[-1, 2] - c[-1, 0]:.3f}" for n, c in curves.items())
    l1, l2 = pen["L1"], pen["L2"]
    verdict = (f"L1 (lambda {l1['lambda']:g}) left {l1['near_zero']:.0%} of the weights near zero, against "
               f"{l2['near_zero']:.0%} for L2 (lambda {l2['lambda']:g}) and {none['near_zero']:.0%} without a "
               f"penalty ({'sparser, as claimed' if sparse else 'NOT sparser'}); L2 shrank ||W|| from "
               f"{none['norm']:.2f} to {l2['norm']:.2f} ({'as claimed' if small else 'NOT smaller'}). "
               f"Over-fitting MLP on {n_b} images: train-val accuracy gap {gaps['neither']:.3f} with neither, "
               f"{gaps['dropout 0.5']:.3f} with dropout "
               f"({'smaller' if less_overfit['dropout 0.5'] else 'NOT smaller'}), {gaps['batch norm']:.3f} with "
               f"batch norm ({'smaller' if less_overfit['batch norm'] else 'NOT smaller'}), "
               f"{gaps['dropout + batch norm']:.3f} with both; validation - training loss: {loss_gaps}")

    def plot(fig):
        fig.set_size_inches(16, 4.2)
        ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
        top = max(r["max_abs"] for r in (none, *pen.values()))
        bins = np.linspace(-top, top, 81)
        for name, r, c in (("no penalty", none, "C7"), ("L1", pen["L1"], "C0"), ("L2", pen["L2"], "C1")):
            ax1.hist(r["weights"].ravel(), bins=bins, histtype="step", color=c,
                     label=f"{name}: {r['near_zero']:.0%} near 0")
        ax1.set_yscale("log")
        ax1.set_xlabel("weight")
        ax1.set_title("softmax regression weights")
        ax1.legend(fontsize=8)
        def near_zero_map(r):       # per pixel: the fraction of the 10 class weights that are near zero
            w = np.abs(r["weights"])
            return (w < NEAR_ZERO * w.max()).mean(0).reshape(28, 28)
        ax2.imshow(np.concatenate([near_zero_map(r) for r in (none, pen["L1"], pen["L2"])], 1), cmap="gray_r",
                   vmin=0, vmax=1)
        ax2.set_title("near-zero weights per pixel (black: all 10)\nnone | L1 | L2", fontsize=10)
        ax2.axis("off")
        for i, (name, c) in enumerate(curves.items()):
            ax3.plot(np.arange(1, len(c) + 1), c[:, 1], color=f"C{i}", ls="--", lw=1)
            ax3.plot(np.arange(1, len(c) + 1), c[:, 3], color=f"C{i}", label=name)
        ax3.set_xlabel("epoch")
        ax3.set_ylabel("accuracy (dashed: train, solid: validation)")
        ax3.set_title(f"MLP on {n_b} training images")
        ax3.legend(fontsize=8)
        names = list(gaps)
        ax4.bar(range(len(names)), [gaps[n] for n in names], color=[f"C{i}" for i in range(len(names))])
        ax4.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
        ax4.set_ylabel("train accuracy - validation accuracy")
        ax4.set_title("over-fitting gap")

    data = {"claims": {"L1 makes weights sparse": bool(sparse), "L2 limits weight size": bool(small),
                       "dropout reduces over-fitting": less_overfit["dropout 0.5"],
                       "batch norm reduces over-fitting": less_overfit["batch norm"]},
            "l1_l2": {"none": none, **pen}, "lambdas": LAMBDAS, "near_zero_threshold": NEAR_ZERO,
            "epochs_a": epochs_a, "n_train_a": len(train_a), "overfit_curves": curves, "gaps": gaps,
            "n_train_b": n_b, "width": width, "epochs_b": epochs_b}
    return Result(claim=CLAIM, supported=supported, verdict=verdict, table=rows, data=data, plot=plot)
