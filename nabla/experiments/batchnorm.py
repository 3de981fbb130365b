"""batchnorm: the same CNN with and without batch normalisation, over learning rates and batch sizes.

Claims (notes, "批归一化" in 现代深度学习架构), translated:

* "Speeds up training: the normalised input distribution is more stable, ... so the network converges
  more easily."
* "Allows a higher learning rate: ... a higher learning rate can be used, which speeds up convergence."
* "Not suited to small batches: on small batches the estimated mean and variance may be inaccurate, so
  batch normalisation may work less well."

The network: conv 3x3 (16) -> [BN] -> ReLU -> max-pool 2 -> conv 3x3 (32) -> [BN] -> ReLU -> max-pool 2
-> linear; with BN the convolutions have no bias.  Both variants start from the same convolution and
linear weights (same seed).

1. Learning rates: plain SGD (no momentum) at each learning rate for the same steps and batches.  A run
   *trains* when its loss stays finite and its final training loss (mean of the last 10% of steps) is
   below half the initial ln 10.  Convergence speed: the final training loss at each learning rate where
   both variants train.
2. Batch sizes: SGD (momentum 0.9, lr 0.01) with the same number of training images seen at each batch
   size, test accuracy in eval mode (BN then uses its running statistics).  BN's advantage is its test
   accuracy minus the plain network's; the claim predicts that it shrinks at the smallest batch.

Full: MNIST-5k (4,000 training images, 1,000 test), learning rates 0.01 to 3, 150 steps of 64;
batch sizes 2, 8, 32 and 128 with 4,000 images seen each.  Quick: learning rates 0.05 and 1, 8 steps
of 32; batch sizes 2 and 32 with 128 images each.

Supported when the largest learning rate that trains is higher with BN, BN's final loss is lower at most
learning rates where both train, and BN's advantage at the smallest batch is below its advantage at the
largest.  Two caveats the numbers carry: BN here normalises the convolutions only, so its unit-scale
features feed an unnormalised 1,568-input linear classifier whose logits jump at high learning rates (the
verdict prints the early loss peak); and with equal images seen, the largest batch takes the fewest steps,
so part of BN's advantage there is its faster start.
"""
from __future__ import annotations

import math

import numpy as np

import nabla as nb
from .. import nn
from .base import Result, register_experiment
from .small_kernels import evaluate, fit_steps, load_images, tail_mean

CLAIM = ("batch normalisation speeds up convergence and allows higher learning rates, but works less well with "
         "small batches")


def bn_cnn(batch_norm: bool, width: int = 16, num_classes: int = 10) -> nn.Sequential:
    """conv3x3 -> [BN] -> ReLU -> pool -> conv3x3 -> [BN] -> ReLU -> pool -> linear (28x28 input)."""
    def stage(cin, cout):
        if batch_norm:
            return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
    return nn.Sequential(*stage(1, width), *stage(width, 2 * width), nn.Flatten(),
                         nn.Linear(2 * width * 7 * 7, num_classes))


def _same_start(model_bn, model_plain):
    """Copy the plain network's convolution and linear weights into the BN network."""
    convs = lambda m: [l for l in m.modules() if isinstance(l, (nn.Conv2d, nn.Linear))]  # noqa: E731
    for a, b in zip(convs(model_bn), convs(model_plain)):
        a.weight.data[...] = b.weight.data


def _pair(width):
    nb.manual_seed(0)
    plain = bn_cnn(False, width)
    nb.manual_seed(0)
    with_bn = bn_cnn(True, width)
    _same_start(with_bn, plain)
    return {"plain": plain, "bn": with_bn}


THRESHOLD = 0.5 * math.log(10)   # "trains": final loss below half the loss of a uniform guess


@register_experiment("batchnorm", "the same CNN with and without batch norm: learning rates, convergence, "
                     "small batches")
def run(quick: bool = False) -> Result:
    train, test = load_images("mnist-5k")
    if quick:
        width, lrs, steps, batch = 4, (0.05, 1.0), 8, 32
        batch_sizes, seen = (2, 32), 128
        test = load_images("mnist-5k", n_test=300)[1]
    else:
        width, lrs, steps, batch = 16, (0.01, 0.03, 0.1, 0.3, 1.0, 3.0), 150, 64
        batch_sizes, seen = (2, 8, 32, 128), 4000
    lr_runs = {"plain": {}, "bn": {}}
    for lr in lrs:
        models = _pair(width)
        for kind, model in models.items():
            fit = fit_steps(model, train, steps, batch_size=batch, lr=lr, optimizer="sgd", momentum=0.0, seed=0)
            final = tail_mean(fit["losses"])
            lr_runs[kind][lr] = {"losses": fit["losses"], "final_loss": final, "diverged": fit["diverged"],
                                 "trains": bool(final < THRESHOLD)}
    batch_runs = {"plain": {}, "bn": {}}
    for bs in batch_sizes:
        models = _pair(width)
        for kind, model in models.items():
            fit = fit_steps(model, train, seen // bs, batch_size=bs, lr=0.01, optimizer="sgd", momentum=0.9, seed=0)
            ev = evaluate(model, test)
            batch_runs[kind][bs] = {"final_loss": tail_mean(fit["losses"]), "time": fit["time"], **ev}

    def max_lr(kind):
        ok = [lr for lr in lrs if lr_runs[kind][lr]["trains"]]
        return max(ok) if ok else 0.0
    # the learning rate where the two differ first (else the largest): the early loss peaks there
    split = [lr for lr in lrs if lr_runs["plain"][lr]["trains"] != lr_runs["bn"][lr]["trains"]]
    lr_peak = split[0] if split else lrs[-1]

    def peak(kind, lr=lr_peak):
        early = lr_runs[kind][lr]["losses"][:5]
        return float(np.nanmax(np.where(np.isfinite(early), early, np.inf)))
    both = [lr for lr in lrs if lr_runs["plain"][lr]["trains"] and lr_runs["bn"][lr]["trains"]]
    faster = [lr for lr in both if lr_runs["bn"][lr]["final_loss"] < lr_runs["plain"][lr]["final_loss"]]
    advantage = {bs: batch_runs["bn"][bs]["accuracy"] - batch_runs["plain"][bs]["accuracy"] for bs in batch_sizes}
    small, large = min(batch_sizes), max(batch_sizes)
    claims = {
        "BN trains at a higher learning rate": max_lr("bn") > max_lr("plain"),
        "BN converges faster (lower loss at most shared learning rates)": len(both) > 0 and 2 * len(faster) > len(both),
        "BN's advantage shrinks at the smallest batch": advantage[small] < advantage[large],
    }
    claims = {k: bool(v) for k, v in claims.items()}
    supported = all(claims.values())
    rows = [{"part": "lr", "lr / batch": lr, "plain final loss": lr_runs["plain"][lr]["final_loss"],
             "BN final loss": lr_runs["bn"][lr]["final_loss"],
             "plain trains": lr_runs["plain"][lr]["trains"], "BN trains": lr_runs["bn"][lr]["trains"]}
            for lr in lrs]
    rows += [{"part": "batch", "lr / batch": bs, "plain final loss": batch_runs["plain"][bs]["final_loss"],
              "BN final loss": batch_runs["bn"][bs]["final_loss"], "plain test acc": batch_runs["plain"][bs]["accuracy"],
              "BN test acc": batch_runs["bn"][bs]["accuracy"], "BN advantage": advantage[bs]}
             for bs in batch_sizes]
    verdict = (f"largest learning rate that trains (SGD, {steps} steps of {batch}): plain {max_lr('plain'):g}, BN "
               f"{max_lr('bn'):g}; BN's training loss is lower at {len(faster)} of the {len(both)} learning rates where "
               f"both train; with {seen:,} images seen, BN's test-accuracy advantage is "
               + ", ".join(f"{advantage[bs]:+.2%} at batch {bs}" for bs in batch_sizes)
               + f". Highest loss in the first 5 steps at lr {lr_peak:g}: plain {peak('plain'):.3g}, BN {peak('bn'):.3g} "
               "(with BN, unit-scale features feed the unnormalised linear classifier)"
               + ". Claims: " + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in claims.items()))

    def plot(fig):
        ax1, ax2, ax3 = fig.subplots(1, 3)
        for i, lr in enumerate(lrs):
            for kind, style in (("plain", "--"), ("bn", "-")):
                r = lr_runs[kind][lr]["losses"]
                r = np.where(np.isfinite(r), r, np.nan)
                k = max(1, len(r) // 20)
                ax1.plot(np.convolve(r, np.ones(k) / k, mode="valid"), style, color=f"C{i}",
                         label=f"lr {lr:g}" if kind == "bn" else None)
        ax1.set_ylim(0, 3)
        ax1.set_xlabel("step")
        ax1.set_ylabel("training loss (moving average)")
        ax1.set_title("SGD: dashed plain, solid BN")
        ax1.legend(fontsize=8)
        ax2.semilogx(lrs, [min(lr_runs["plain"][lr]["final_loss"], 5) for lr in lrs], "o--", label="plain")
        ax2.semilogx(lrs, [min(lr_runs["bn"][lr]["final_loss"], 5) for lr in lrs], "o-", label="BN")
        ax2.axhline(THRESHOLD, color="grey", lw=0.8)
        ax2.set_xlabel("learning rate")
        ax2.set_ylabel("final training loss (capped at 5)")
        ax2.legend(fontsize=8)
        ax3.semilogx(batch_sizes, [batch_runs["plain"][b]["accuracy"] for b in batch_sizes], "o--", label="plain")
        ax3.semilogx(batch_sizes, [batch_runs["bn"][b]["accuracy"] for b in batch_sizes], "o-", label="BN")
        ax3.set_xlabel("batch size")
        ax3.set_ylabel("test accuracy (eval mode)")
        ax3.set_title(f"{seen:,} images seen at each batch size")
        ax3.legend(fontsize=8)

    return Result(claim=CLAIM, supported=supported, verdict=verdict, table=rows,
                  data={"claims": claims, "width": width, "lrs": list(lrs), "steps": steps, "batch_size": batch,
                        "batch_sizes": list(batch_sizes), "images_seen": seen, "lr_runs": lr_runs,
                        "batch_runs": batch_runs, "advantage": advantage, "lr_peak": lr_peak, "max_lr": {k: max_lr(k) for k in lr_runs}},
                  plot=plot)
