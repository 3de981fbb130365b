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
from ..data import DataLoader
from ..models import MLP, SoftmaxRegression
from ..train import Callback
from .base import register_experiment
from .common import evaluate, load_dataset, random_subset, say, train_classifier

CLAIM = ("objective = loss + lambda * penalty: L1 makes weights sparse (many become zero), L2 limits their "
         "size; dropout and batch normalisation reduce over-fitting (a smaller train/validation gap)")

LAMBDAS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
ACCURACY_COST = 0.01   # a penalty may cost at most 1 point of validation accuracy
NEAR_ZERO = 0.01        # |w| below 1% of the model's largest |w|
VARIANTS = {"neither": (0.0, False), "dropout 0.5": (0.5, False), "batch norm": (0.0, True),
            "dropout + batch norm": (0.5, True)}


# ------------------------------------------------------------------ part A: L1 vs L2
def penalised_objective(model, penalty, lam):
    """The notes' objective: cross-entropy + lambda * penalty(weights) (just the loss when penalty is None)."""
    ce = nn.CrossEntropyLoss()
    if penalty is None:
        return ce
    return lambda out, y: ce(out, y) + lam * penalty(model.linear.weight)


def _penalised(train, val, penalty, lam, epochs):
    nb.manual_seed(0)
    model = SoftmaxRegression(784, 10)
    train_classifier(model, train, epochs=epochs, batch_size=64, seed=0, drop_last=False,
                     optimizer=optim.SGD(model.parameters(), lr=0.1), loss_fn=penalised_objective(model, penalty, lam))
    w = model.linear.weight.data.copy()
    val_acc = evaluate(model, val, batch_size=len(val))["accuracy"]
    return {"weights": w, "val_accuracy": val_acc, "near_zero": float((np.abs(w) < NEAR_ZERO * np.abs(w).max()).mean()),
            "norm": float(np.sqrt((w ** 2).sum())), "max_abs": float(np.abs(w).max())}


def _part_a(train, val, epochs, echo):
    """Softmax regression without a penalty, and with L1 / L2 at the strongest lambda of the grid that costs
    at most ACCURACY_COST of validation accuracy."""
    none = _penalised(train, val, None, 0.0, epochs)
    echo(f"regularization: softmax regression, no penalty, {epochs} epochs: validation accuracy "
         f"{none['val_accuracy']:.2%}")
    pen = {}
    for name, fn in (("L1", nn.l1_penalty), ("L2", nn.l2_penalty)):
        grid = {lam: _penalised(train, val, fn, lam, epochs) for lam in LAMBDAS}
        fine = [lam for lam in LAMBDAS if grid[lam]["val_accuracy"] >= none["val_accuracy"] - ACCURACY_COST]
        best = max(fine) if fine else min(LAMBDAS)
        pen[name] = {**grid[best], "lambda": best,
                     "grid": {lam: {k: v for k, v in r.items() if k != "weights"} for lam, r in grid.items()}}
        echo(f"regularization: softmax regression + {name}, {len(LAMBDAS)} lambdas x {epochs} epochs: chose "
             f"lambda {best:g}, {pen[name]['near_zero']:.0%} of the weights near zero")
    return none, pen


# ------------------------------------------------------------------ part B: over-fitting
class EpochCurve(Callback):
    """After every epoch: (train loss, train acc, val loss, val acc), both sets in eval mode."""

    def __init__(self, train_loader, val_loader):
        self.train_loader, self.val_loader, self.rows = train_loader, val_loader, []

    def on_epoch_end(self, trainer, epoch, logs):
        tr, va = trainer.evaluate(self.train_loader), trainer.evaluate(self.val_loader)
        self.rows.append((tr["loss"], tr["accuracy"], va["loss"], va["accuracy"]))


def _overfit(train, val, width, epochs, dropout, batch_norm, label, echo):
    nb.manual_seed(0)
    model = MLP(784, 10, depth=2, width=width, dropout=dropout, batch_norm=batch_norm)
    curve = EpochCurve(DataLoader(train, batch_size=len(train)), DataLoader(val, batch_size=len(val)))
    fit = train_classifier(model, train, epochs=epochs, batch_size=50, seed=0, drop_last=False,
                           optimizer=optim.Adam(model.parameters(), lr=1e-3), callbacks=[curve],
                           metrics=("accuracy",), echo=echo, label=f"regularization: MLP, {label}")
    c = np.array(curve.rows)       # epochs x (train loss, train acc, val loss, val acc)
    say(echo, "regularization", f"MLP, {label}", len(fit["losses"]), float(c[-1, 0]), fit["time"],
        f", train accuracy {c[-1, 1]:.2%}, validation {c[-1, 3]:.2%}")
    return c


CHAPTER = "batch-optimization"
NOTES = ("在训练过程中，目标函数通常是损失函数加上正则化项 … L1 正则化：增加权重稀疏性，进行特征选择，减少模型"
         "复杂度。 … L2 正则化：限制权重大小，减少模型复杂度，防止过拟合。 … Dropout 正则化：随机丢弃神经元，"
         "防止过度依赖，提高模型鲁棒性和泛化能力。 … 批归一化：标准化数据分布，加速训练过程，提高模型泛化能力"
         "。",
         "In training, the objective is usually the loss function plus a regularisation term. ... L1 "
         "regularisation: increases the sparsity of the weights, selects features, reduces model complexity. ... "
         "L2 regularisation: limits the size of the weights, reduces model complexity, prevents over-fitting. ... "
         "Dropout: randomly drops neurons, prevents over-reliance, improves robustness and generalisation. ... "
         "Batch normalisation: standardises the data distribution, speeds up training, improves generalisation.")


@register_experiment("regularization", "L1 vs L2 (sparsity, weight size); dropout and batch norm vs over-fitting")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    train_full = load_dataset("mnist-5k", train=True, download=download)
    val = load_dataset("mnist-5k", train=False, download=download)
    train_a = random_subset(train_full, 2000 if quick else None, 0)
    epochs_a = 3 if quick else 15
    none, pen = _part_a(train_a, val, epochs_a, echo)
    n_b, width, epochs_b = (300, 128, 20) if quick else (1000, 256, 60)
    train_b = random_subset(train_full, n_b, 1)
    curves = {name: _overfit(train_b, val, width, epochs_b, d, bn, name, echo) for name, (d, bn) in VARIANTS.items()}
    gaps = {name: float(c[-1, 1] - c[-1, 3]) for name, c in curves.items()}
    rows = [{"part": "A", "model": "softmax regression, no penalty", "lambda": 0.0,
             "near-zero weights": none["near_zero"], "||W||": none["norm"], "val acc": none["val_accuracy"]}]
    rows += [{"part": "A", "model": f"softmax regression + {n}", "lambda": r["lambda"],
              "near-zero weights": r["near_zero"], "||W||": r["norm"], "val acc": r["val_accuracy"]}
             for n, r in pen.items()]
    for name, c in curves.items():
        tr_loss, tr_acc, va_loss, va_acc = c[-1]
        rows.append({"part": "B", "model": f"MLP, {name}", "train acc": tr_acc, "val acc": va_acc,
                     "train-val gap": gaps[name], "train loss": tr_loss, "val loss": va_loss,
                     "val-train loss gap": va_loss - tr_loss})
    return {"table": rows, "l1_l2": {"none": none, **pen}, "lambdas": LAMBDAS, "near_zero_threshold": NEAR_ZERO,
            "epochs_a": epochs_a, "n_train_a": len(train_a), "overfit_curves": curves, "gaps": gaps,
            "n_train_b": n_b, "width": width, "epochs_b": epochs_b}


def claims(numbers) -> dict:
    ab, gaps = numbers["l1_l2"], numbers["gaps"]
    return {"L1 makes weights sparse":
                bool(ab["L1"]["near_zero"] > max(ab["L2"]["near_zero"], ab["none"]["near_zero"])),
            "L2 limits weight size": bool(ab["L2"]["norm"] < ab["none"]["norm"]),
            "dropout reduces over-fitting": bool(gaps["dropout 0.5"] < gaps["neither"]),
            "batch norm reduces over-fitting": bool(gaps["batch norm"] < gaps["neither"])}


def verdict(numbers):
    found, gaps = claims(numbers), numbers["gaps"]
    none, l1, l2 = (numbers["l1_l2"][k] for k in ("none", "L1", "L2"))
    sparse, small = found["L1 makes weights sparse"], found["L2 limits weight size"]
    drop, bn = found["dropout reduces over-fitting"], found["batch norm reduces over-fitting"]
    loss_gaps = ", ".join(f"{n} {c[-1][2] - c[-1][0]:.3f}" for n, c in numbers["overfit_curves"].items())
    text = (f"L1 (lambda {l1['lambda']:g}) left {l1['near_zero']:.0%} of the weights near zero, against "
            f"{l2['near_zero']:.0%} for L2 (lambda {l2['lambda']:g}) and {none['near_zero']:.0%} without a "
            f"penalty ({'sparser, as claimed' if sparse else 'NOT sparser'}); L2 shrank ||W|| from "
            f"{none['norm']:.2f} to {l2['norm']:.2f} ({'as claimed' if small else 'NOT smaller'}). "
            f"Over-fitting MLP on {numbers['n_train_b']} images: train-val accuracy gap {gaps['neither']:.3f} with "
            f"neither, {gaps['dropout 0.5']:.3f} with dropout ({'smaller' if drop else 'NOT smaller'}), "
            f"{gaps['batch norm']:.3f} with batch norm ({'smaller' if bn else 'NOT smaller'}), "
            f"{gaps['dropout + batch norm']:.3f} with both; validation - training loss: {loss_gaps}")
    return all(found.values()), text


def _near_zero_map(r):
    """Per pixel: the fraction of the 10 class weights that are near zero."""
    w = np.abs(r["weights"])
    return (w < NEAR_ZERO * w.max()).mean(0).reshape(28, 28)


def _plot_weights(ax1, ax2, ab):
    top = max(r["max_abs"] for r in ab.values())
    bins = np.linspace(-top, top, 81)
    for name, r, c in (("no penalty", ab["none"], "C7"), ("L1", ab["L1"], "C0"), ("L2", ab["L2"], "C1")):
        ax1.hist(np.asarray(r["weights"]).ravel(), bins=bins, histtype="step", color=c,
                 label=f"{name}: {r['near_zero']:.0%} near 0")
    ax1.set_yscale("log")
    ax1.set_xlabel("weight")
    ax1.set_title("softmax regression weights")
    ax1.legend(fontsize=8)
    ax2.imshow(np.concatenate([_near_zero_map(ab[k]) for k in ("none", "L1", "L2")], 1), cmap="gray_r", vmin=0, vmax=1)
    ax2.set_title("near-zero weights per pixel (black: all 10)\nnone | L1 | L2", fontsize=10)
    ax2.axis("off")


def plot(fig, data):
    fig.set_size_inches(16, 4.2)
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
    _plot_weights(ax1, ax2, data["l1_l2"])
    for i, (name, c) in enumerate(data["overfit_curves"].items()):
        c = np.asarray(c)
        ax3.plot(np.arange(1, len(c) + 1), c[:, 1], color=f"C{i}", ls="--", lw=1)
        ax3.plot(np.arange(1, len(c) + 1), c[:, 3], color=f"C{i}", label=name)
    ax3.set_xlabel("epoch")
    ax3.set_ylabel("accuracy (dashed: train, solid: validation)")
    ax3.set_title(f"MLP on {data['n_train_b']} training images")
    ax3.legend(fontsize=8)
    gaps = data["gaps"]
    names = list(gaps)
    ax4.bar(range(len(names)), [gaps[n] for n in names], color=[f"C{i}" for i in range(len(names))])
    ax4.set_xticks(range(len(names)), names, rotation=15, fontsize=8)
    ax4.set_ylabel("train accuracy - validation accuracy")
    ax4.set_title("over-fitting gap")
