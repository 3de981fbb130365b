"""vgg-depth: VGG configurations A, B, D and E (11, 13, 16 and 19 weight layers) at one CPU budget.

Claim (notes, VGG in "经典卷积神经网络模型的设计理念", 现代深度学习架构), translated: "its design idea is to
improve the model's performance by increasing the depth of the network."  Simonyan & Zisserman (2015, section 4.1) found the error falling
from configuration A (11 layers) to E (19 layers), saturating at 19, with every network trained to
convergence: the claim is about depth at an equal amount of training, not at an equal cost.

The networks: ``nabla.models.vgg.vgg_small`` with ``full_depth=True`` (all five stages' 3x3 convolutions of
the configuration, 8/10/13/16 of them, then the three full layers: 11/13/16/19 weight layers; max-pools
after the first three stages only, since a 28x28 image halves three times; channels times width/64) and
``batch_norm=True`` (torchvision's ``vgg*_bn``).  Batch norm, because the paper trained its deeper nets only
by initialising them from the trained VGG-11 (its first four convolutions and its full layers: deep plain
nets stalled from random initialisation); batch norm lets every depth train from scratch with one recipe,
so depth is the only difference.

Setup: Fashion-MNIST, a 10,000-image training subset and 2,000 test images; width 16 (channels
16/32/64/128/128), full layers of 512 with dropout 0.5; Adam (lr 1e-3), batches of 64, the same seed and
the same batch order for every depth; each depth trains for 110 seconds of this process's CPU time
(``time.process_time``; evaluation excluded), ending mid-epoch where the budget ends.  After every whole
epoch, and at the end, the test accuracy is measured.  Parameters and multiply-accumulates per image come
from ``nabla.utils.summary``.  Quick: width 4, full layers of 64, MNIST-5k (512 training, 200
test images), 0.75 CPU-seconds each, at least one whole epoch.

Two comparisons: *at equal epochs*, the test accuracy after E whole epochs, E the most every depth
completed (a deeper net is slower per step, so at equal time it has seen fewer images); *at equal time*,
the test accuracy when the budget ran out.  The notes' claim is **supported** when, at equal epochs,
(1) VGG-19 is more accurate than VGG-11 and (2) accuracy rises with depth over the four networks (Kendall's
tau between depth and accuracy above 0: of the six pairs of depths, more have the deeper net more accurate
than less).  The same two tests at equal time are reported beside it (the notes make no claim about cost).
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from ..models.vgg import vgg_small
from ..utils import summary
from .base import register_experiment
from .common import (CpuBudget, at, evaluate, format_claims, load_images, moving_average, say, tail_mean,
                     train_classifier)

CLAIM = "VGG gains from depth: configurations A, B, D, E (11, 13, 16, 19 weight layers) are ever more accurate"

DEPTHS = (11, 13, 16, 19)


def _train_depth(depth, width, hidden, train, test, budget, batch, echo) -> dict:
    nb.manual_seed(0)
    model = vgg_small(10, 1, depth=depth, width=width, batch_norm=True, hidden=hidden, full_depth=True)
    s = summary(model, (1, 28, 28), print_fn=None)
    clock = CpuBudget(budget, test, min_epochs=1)
    fit = train_classifier(model, train, epochs=10_000, batch_size=batch, seed=0, callbacks=[clock], echo=echo,
                           label=f"vgg-depth: VGG-{depth}")
    cpu, steps = clock.cpu(), len(fit["losses"])
    ev = evaluate(model, test)
    say(echo, "vgg-depth", f"VGG-{depth}", steps, tail_mean(fit["losses"]), fit["time"],
        f", {steps * batch / len(train):.2f} epochs, test accuracy {ev['accuracy']:.2%}")
    return {"depth": depth, "params": s.total_params, "macs": s.total_macs, "steps": steps, "cpu": cpu,
            "cpu_per_step": cpu / max(1, steps), "epochs": steps * batch / len(train), "per_epoch": clock.epochs,
            "losses": fit["losses"], "final_loss": tail_mean(fit["losses"]), **ev}


CHAPTER = "modern-architectures"
NOTES = ("VGG是由深度卷积网络组成的一系列模型，其设计理念是通过增加网络深度来提高模型的性能。",
         "VGG is a family of models made of deep convolutional networks; its design idea is to improve the "
         "model's performance by increasing the depth of the network.")


@register_experiment("vgg-depth", "VGG depths 11/13/16/19 (batch norm) at one CPU budget: accuracy at equal "
                     "epochs and at equal time")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    if quick:
        width, hidden, budget, batch = 4, 64, 0.75, 64
        train, test = load_images("mnist-5k", n_train=512, n_test=200, download=download)
        data_name = "MNIST-5k (512 training / 200 test images)"
    else:
        width, hidden, budget, batch = 16, 512, 110.0, 64
        train, test = load_images("fashion-mnist", n_train=10_000, n_test=2_000, download=download)
        data_name = "Fashion-MNIST (10,000 training / 2,000 test images)"
    runs = {d: _train_depth(d, width, hidden, train, test, budget, batch, echo) for d in DEPTHS}
    numbers = {"width": width, "hidden": hidden, "budget": budget, "batch_size": batch, "dataset": data_name,
               "runs": runs}
    e = common_epochs(numbers)
    rows = [{"network": f"VGG-{d}", "params": r["params"], "MACs": r["macs"], "CPU s/step": r["cpu_per_step"],
             "steps": r["steps"], "epochs": r["epochs"], f"test acc at {e} epochs": accuracy_at_epochs(r, e),
             "test acc at equal time": r["accuracy"]} for d, r in runs.items()]
    return {"table": rows, "common_epochs": e, **numbers}


def common_epochs(numbers) -> int:
    """The most whole epochs every depth completed."""
    return min(len(r["per_epoch"]) for r in numbers["runs"].values())


def accuracy_at_epochs(run_, epochs: int) -> float:
    """Test accuracy after ``epochs`` whole epochs (nan when the run never got there)."""
    return next((p["accuracy"] for p in run_["per_epoch"] if p["epochs"] == epochs), float("nan"))


def kendall_tau(x, y) -> float:
    """(concordant - discordant pairs) / pairs: above 0 when y tends to rise with x."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    i, j = np.triu_indices(len(x), 1)
    return float(np.mean(np.sign(x[j] - x[i]) * np.sign(y[j] - y[i]))) if len(i) else 0.0


def _trend(depths, accs) -> dict:
    return {"deepest_minus_shallowest": float(accs[-1] - accs[0]), "tau": kendall_tau(depths, accs)}


def trends(numbers) -> dict:
    """Deepest minus shallowest accuracy and Kendall's tau, at equal epochs and at equal time."""
    runs = sorted(numbers["runs"].values(), key=lambda r: r["depth"])
    depths, e = [r["depth"] for r in runs], common_epochs(numbers)
    return {"equal_epochs": _trend(depths, [accuracy_at_epochs(r, e) for r in runs]),
            "equal_time": _trend(depths, [r["accuracy"] for r in runs])}


def _helps(trend) -> bool:
    return bool(trend["deepest_minus_shallowest"] > 0 and trend["tau"] > 0)


def claims(numbers) -> dict:
    e = common_epochs(numbers)
    return {f"at equal epochs ({e}) VGG-19 beats VGG-11 and accuracy rises with depth":
            bool(e > 0 and _helps(trends(numbers)["equal_epochs"]))}


def verdict(numbers):
    runs, e, t, found = numbers["runs"], common_epochs(numbers), trends(numbers), claims(numbers)
    at_time = t["equal_time"]
    text = (f"VGG-small with batch norm, width {numbers['width']}, {numbers['budget']:g} CPU-seconds of Adam "
            f"(batches of {numbers['batch_size']}) per depth on {numbers['dataset']}: "
            + "; ".join(f"VGG-{r['depth']} {r['params']:,} params, {r['macs'] / 1e6:.1f}M MACs, {r['epochs']:.2f} "
                        f"epochs, {accuracy_at_epochs(r, e):.2%} after {e} epochs, {r['accuracy']:.2%} at the budget"
                        for r in runs.values())
            + f". At equal epochs VGG-19 minus VGG-11 is {t['equal_epochs']['deepest_minus_shallowest']:+.2%} "
            f"(Kendall tau {t['equal_epochs']['tau']:+.2f}); at equal CPU time "
            f"{at_time['deepest_minus_shallowest']:+.2%} (tau {at_time['tau']:+.2f}): depth "
            f"{'helps' if _helps(at_time) else 'does not help'} at equal time. " + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    runs = data["runs"]
    for i, d in enumerate(DEPTHS):
        r = at(runs, d)
        pts = r["per_epoch"]
        ax1.plot([p["epochs"] for p in pts], [p["accuracy"] for p in pts], "o-", color=f"C{i}", label=f"VGG-{d}")
        ax2.plot([p["cpu"] for p in pts] + [r["cpu"]], [p["accuracy"] for p in pts] + [r["accuracy"]], "o-",
                 color=f"C{i}", label=f"VGG-{d}")
        ax3.plot(moving_average(r["losses"], 20), color=f"C{i}", label=f"VGG-{d}")
    ax1.axvline(data["common_epochs"], color="grey", lw=0.8)
    ax1.set_xlabel("epochs")
    ax1.set_ylabel("test accuracy")
    ax1.set_title("at equal epochs (grey: all got there)")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("training CPU seconds")
    ax2.set_ylabel("test accuracy")
    ax2.set_title("at equal time (last point: the budget)")
    ax3.set_xlabel("step")
    ax3.set_ylabel("training loss (moving average)")
    ax3.set_title("steps in the budget")
