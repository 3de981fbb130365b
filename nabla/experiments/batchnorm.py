"""batchnorm: the same CNN with and without batch normalisation, over learning rates and batch sizes.

Claims (notes, "批归一化" in 现代深度学习架构), translated:

* "Speeds up training: the normalised input distribution is more stable, ... so the network converges
  more easily."
* "Allows a higher learning rate: ... a higher learning rate can be used, which speeds up convergence."
* "Not suited to small batches: on small batches the estimated mean and variance may be inaccurate, so
  batch normalisation may work less well."
* "Computational overhead: batch normalisation must compute the mean and variance of every batch, which
  adds some computational overhead."

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
3. Cost: one training step (forward, backward, SGD step) of each variant on the same batch, alternating
   between the two so that a change in the machine's load touches both; the median of the timed steps in
   this process's CPU time (``time.process_time``), after a few untimed warm-up steps.  Beside it: the
   parameters and buffers BN adds (per BN layer: scale and shift, running mean and variance, less the
   convolution's dropped bias) and the peak memory allocated during one step (``tracemalloc``, which
   sees NumPy's allocations: the activations kept for the backward pass, the gradients).

Full: MNIST-5k (4,000 training images, 1,000 test), learning rates 0.01 to 3, 150 steps of 64;
batch sizes 2, 8, 32 and 128 with 4,000 images seen each; the cost at width 16 and batch 64, the median
of 21 steps after 3 warm-up steps.  Quick: learning rates 0.05 and 1, 8 steps of 32; batch sizes 2 and 32
with 128 images each; the cost at width 4 and batch 32, 5 steps after 2.

Supported when the largest learning rate that trains is higher with BN, BN's final loss is lower at most
learning rates where both train, BN's advantage at the smallest batch is below its advantage at the
largest, and BN's median training step takes longer (it adds computation).  Two caveats the numbers
carry: BN here normalises the convolutions only, so its unit-scale features feed an unnormalised
1,568-input linear classifier whose logits jump at high learning rates (the verdict prints the early loss
peak); and with equal images seen, the largest batch takes the fewest steps, so part of BN's advantage
there is its faster start.
"""
from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np

import nabla as nb
from .. import nn
from .base import register_experiment
from .common import (at, evaluate, format_claims, load_images, make_optimizer, moving_average, say, tail_mean,
                     train_classifier)

CLAIM = ("batch normalisation speeds up convergence and allows higher learning rates, but works less well with "
         "small batches and adds computation")


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


def _lr_runs(width, lrs, steps, batch, train, echo) -> dict:
    """Plain SGD (no momentum) at each learning rate, both variants from the same start."""
    out = {"plain": {}, "bn": {}}
    for lr in lrs:
        for kind, model in _pair(width).items():
            fit = train_classifier(model, train, steps, batch_size=batch,
                                   optimizer=make_optimizer(model, "sgd", lr, momentum=0.0), seed=0,
                                   echo=echo, label=f"batchnorm: {kind} lr {lr:g}")
            final = tail_mean(fit["losses"])
            say(echo, "batchnorm", f"{kind} lr {lr:g}", len(fit["losses"]), final, fit["time"],
                " (diverged)" if fit["diverged"] else "")
            out[kind][lr] = {"losses": fit["losses"], "final_loss": final, "diverged": fit["diverged"],
                             "trains": bool(final < THRESHOLD)}
    return out


def _batch_runs(width, batch_sizes, seen, train, test, echo) -> dict:
    """SGD (momentum 0.9, lr 0.01) with the same number of images seen at each batch size."""
    out = {"plain": {}, "bn": {}}
    for bs in batch_sizes:
        for kind, model in _pair(width).items():
            fit = train_classifier(model, train, seen // bs, batch_size=bs,
                                   optimizer=make_optimizer(model, "sgd", 0.01, momentum=0.9), seed=0,
                                   echo=echo, label=f"batchnorm: {kind} batch {bs}")
            ev = evaluate(model, test)
            say(echo, "batchnorm", f"{kind} batch {bs}", len(fit["losses"]), tail_mean(fit["losses"]), fit["time"],
                f", test accuracy {ev['accuracy']:.2%}")
            out[kind][bs] = {"final_loss": tail_mean(fit["losses"]), "time": fit["time"], **ev}
    return out


def _one_step(model, optimizer, x, y) -> None:
    optimizer.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    optimizer.step()


def _peak_step_bytes(model, optimizer, x, y) -> int:
    """Peak bytes allocated during one training step above what was allocated before it (tracemalloc)."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _one_step(model, optimizer, x, y)
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def step_cost(width, batch, train, warmup, repeats) -> dict:
    """CPU seconds of one training step (median of ``repeats`` after ``warmup``; the two variants alternate
    on the same batch), parameters, buffer values and the peak memory of one step, per variant."""
    models = _pair(width)
    opts = {k: make_optimizer(m, "sgd", 0.01, momentum=0.9) for k, m in models.items()}
    x, y = (nb.from_numpy(a) for a in train.get_batch(np.arange(batch)))
    times = {k: [] for k in models}
    for i in range(warmup + repeats):
        for k, model in models.items():
            start = time.process_time()
            _one_step(model, opts[k], x, y)
            if i >= warmup:
                times[k].append(time.process_time() - start)
    return {k: {"step_times": np.array(times[k]), "median": float(np.median(times[k])),
                "params": m.num_parameters(), "buffers": int(sum(b.data.size for b in m.buffers())),
                "peak_bytes": _peak_step_bytes(m, opts[k], x, y)} for k, m in models.items()}


CHAPTER = "modern-architectures"
NOTES = ("加速训练：批归一化有助于加速训练过程，因为归一化后的输入分布更加稳定，减少了梯度消失问题，使得网络更"
         "容易收敛。 … 允许使用更高的学习率：归一化后的输入分布更稳定，可以允许使用更高的学习率进行训练，加速"
         "收敛。 … 计算开销：批归一化需要计算每一批数据的均值和方差，增加了一定的计算开销。 … 不适用于小批量数"
         "据：在小批量数据上，由于估计的均值和方差可能不准确，批归一化的效果可能会下降。",
         "Speeds up training: batch normalisation helps speed up training, because the normalised input "
         "distribution is more stable, the vanishing gradient is reduced and the network converges more easily. "
         "... Allows a higher learning rate: the normalised input distribution is more stable, so a higher "
         "learning rate can be used, speeding up convergence. ... Computational overhead: batch normalisation "
         "must compute the mean and variance of every batch, adding some computational overhead. ... Not suited "
         "to small batches: on small batches the estimated mean and variance may be inaccurate, so batch "
         "normalisation may work less well.")


@register_experiment("batchnorm", "the same CNN with and without batch norm: learning rates, convergence, "
                     "small batches")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    train, test = load_images("mnist-5k", download=download)
    if quick:
        width, lrs, steps, batch = 4, (0.05, 1.0), 8, 32
        batch_sizes, seen, (warmup, repeats) = (2, 32), 128, (2, 5)
        test = load_images("mnist-5k", n_test=300, download=download)[1]
    else:
        width, lrs, steps, batch = 16, (0.01, 0.03, 0.1, 0.3, 1.0, 3.0), 150, 64
        batch_sizes, seen, (warmup, repeats) = (2, 8, 32, 128), 4000, (3, 21)
    lr_runs = _lr_runs(width, lrs, steps, batch, train, echo)
    batch_runs = _batch_runs(width, batch_sizes, seen, train, test, echo)
    cost = step_cost(width, batch, train, warmup, repeats)     # last: the parts above see the same random state
    if echo is not None:
        echo(f"batchnorm: cost {repeats} timed steps of {batch}, plain {cost['plain']['median'] * 1e3:.2f} ms, "
             f"BN {cost['bn']['median'] * 1e3:.2f} ms (CPU)")
    numbers = {"width": width, "lrs": list(lrs), "steps": steps, "batch_size": batch, "batch_sizes": list(batch_sizes),
               "images_seen": seen, "lr_runs": lr_runs, "batch_runs": batch_runs, "cost": cost}
    s = summarise(numbers)
    numbers.update(advantage=s["advantage"], lr_peak=s["lr_peak"], max_lr=s["max_lr"])
    rows = [{"part": "lr", "lr / batch": lr, "plain final loss": lr_runs["plain"][lr]["final_loss"],
             "BN final loss": lr_runs["bn"][lr]["final_loss"],
             "plain trains": lr_runs["plain"][lr]["trains"], "BN trains": lr_runs["bn"][lr]["trains"]}
            for lr in lrs]
    rows += [{"part": "batch", "lr / batch": bs, "plain final loss": batch_runs["plain"][bs]["final_loss"],
              "BN final loss": batch_runs["bn"][bs]["final_loss"],
              "plain test acc": batch_runs["plain"][bs]["accuracy"],
              "BN test acc": batch_runs["bn"][bs]["accuracy"], "BN advantage": s["advantage"][bs]}
             for bs in batch_sizes]
    rows.append({"part": "cost", "lr / batch": batch, "plain ms/step": cost["plain"]["median"] * 1e3,
                 "BN ms/step": cost["bn"]["median"] * 1e3, "plain params": cost["plain"]["params"],
                 "BN params": cost["bn"]["params"], "plain peak MB/step": cost["plain"]["peak_bytes"] / 1e6,
                 "BN peak MB/step": cost["bn"]["peak_bytes"] / 1e6})
    return {"table": rows, **numbers}


def summarise(numbers) -> dict:
    """The derived numbers: largest learning rate that trains, shared learning rates where BN is faster,
    BN's accuracy advantage per batch size, and the early loss peak where the variants part."""
    lrs, lr_runs, batch_runs = numbers["lrs"], numbers["lr_runs"], numbers["batch_runs"]
    max_lr = {k: max([lr for lr in lrs if lr_runs[k][lr]["trains"]], default=0.0) for k in ("plain", "bn")}
    # the learning rate where the two differ first (else the largest): the early loss peaks there
    split = [lr for lr in lrs if lr_runs["plain"][lr]["trains"] != lr_runs["bn"][lr]["trains"]]
    lr_peak = split[0] if split else lrs[-1]
    peak = {}
    for kind in ("plain", "bn"):
        early = np.asarray(lr_runs[kind][lr_peak]["losses"][:5], dtype=np.float64)
        peak[kind] = float(np.nanmax(np.where(np.isfinite(early), early, np.inf)))
    both = [lr for lr in lrs if lr_runs["plain"][lr]["trains"] and lr_runs["bn"][lr]["trains"]]
    faster = [lr for lr in both if lr_runs["bn"][lr]["final_loss"] < lr_runs["plain"][lr]["final_loss"]]
    advantage = {bs: batch_runs["bn"][bs]["accuracy"] - batch_runs["plain"][bs]["accuracy"]
                 for bs in numbers["batch_sizes"]}
    return {"max_lr": max_lr, "lr_peak": lr_peak, "peak": peak, "both": both, "faster": faster, "advantage": advantage}


def claims(numbers) -> dict:
    s = summarise(numbers)
    small, large = min(numbers["batch_sizes"]), max(numbers["batch_sizes"])
    return {
        "BN trains at a higher learning rate": bool(s["max_lr"]["bn"] > s["max_lr"]["plain"]),
        "BN converges faster (lower loss at most shared learning rates)":
            bool(len(s["both"]) > 0 and 2 * len(s["faster"]) > len(s["both"])),
        "BN's advantage shrinks at the smallest batch": bool(s["advantage"][small] < s["advantage"][large]),
        "BN adds computation (a training step takes longer)":
            bool(numbers["cost"]["bn"]["median"] > numbers["cost"]["plain"]["median"]),
    }


def verdict(numbers):
    s, found = summarise(numbers), claims(numbers)
    text = (f"largest learning rate that trains (SGD, {numbers['steps']} steps of {numbers['batch_size']}): plain "
            f"{s['max_lr']['plain']:g}, BN {s['max_lr']['bn']:g}; BN's training loss is lower at {len(s['faster'])} of "
            f"the {len(s['both'])} learning rates where both train; with {numbers['images_seen']:,} images seen, BN's "
            "test-accuracy advantage is "
            + ", ".join(f"{s['advantage'][bs]:+.2%} at batch {bs}" for bs in numbers["batch_sizes"])
            + f". Highest loss in the first 5 steps at lr {s['lr_peak']:g}: plain {s['peak']['plain']:.3g}, BN "
            f"{s['peak']['bn']:.3g} (with BN, unit-scale features feed the unnormalised linear classifier). "
            + cost_text(numbers) + format_claims(found))
    return all(found.values()), text


def cost_text(numbers) -> str:
    """BN's cost in words: time per step, parameters and buffers, peak memory of a step."""
    plain, bn = numbers["cost"]["plain"], numbers["cost"]["bn"]
    return (f"One training step of {numbers['batch_size']} (forward, backward, SGD; median of "
            f"{len(bn['step_times'])} CPU-timed steps) takes {bn['median'] * 1e3:.2f} ms with BN against "
            f"{plain['median'] * 1e3:.2f} ms without ({bn['median'] / plain['median'] - 1:+.0%}); BN adds "
            f"{bn['params'] - plain['params']:,} parameters ({bn['params']:,} against {plain['params']:,}) and "
            f"{bn['buffers'] - plain['buffers']:,} buffer values, and the step's peak allocation is "
            f"{bn['peak_bytes'] / 1e6:.2f} MB against {plain['peak_bytes'] / 1e6:.2f} MB "
            f"({bn['peak_bytes'] / plain['peak_bytes'] - 1:+.0%}). ")


def plot(fig, data):
    lrs, lr_runs, batch_runs, batch_sizes = data["lrs"], data["lr_runs"], data["batch_runs"], data["batch_sizes"]
    fig.set_size_inches(15, 4.2)
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)
    for i, lr in enumerate(lrs):
        for kind, style in (("plain", "--"), ("bn", "-")):
            r = np.asarray([np.inf if v is None else v for v in at(lr_runs[kind], lr)["losses"]], dtype=np.float64)
            ax1.plot(moving_average(np.where(np.isfinite(r), r, np.nan), 20), style, color=f"C{i}",
                     label=f"lr {lr:g}" if kind == "bn" else None)
    ax1.set_ylim(0, 3)
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss (moving average)")
    ax1.set_title("SGD: dashed plain, solid BN")
    ax1.legend(fontsize=8)
    for kind, style, label in (("plain", "o--", "plain"), ("bn", "o-", "BN")):
        finals = [at(lr_runs[kind], lr)["final_loss"] for lr in lrs]     # inf (None in JSON): diverged
        ax2.semilogx(lrs, [5 if v is None else min(v, 5) for v in finals], style, label=label)
    ax2.axhline(THRESHOLD, color="grey", lw=0.8)
    ax2.set_xlabel("learning rate")
    ax2.set_ylabel("final training loss (capped at 5)")
    ax2.legend(fontsize=8)
    ax3.semilogx(batch_sizes, [at(batch_runs["plain"], b)["accuracy"] for b in batch_sizes], "o--", label="plain")
    ax3.semilogx(batch_sizes, [at(batch_runs["bn"], b)["accuracy"] for b in batch_sizes], "o-", label="BN")
    ax3.set_xlabel("batch size")
    ax3.set_ylabel("test accuracy (eval mode)")
    ax3.set_title(f"{data['images_seen']:,} images seen at each batch size")
    ax3.legend(fontsize=8)
    _plot_cost(ax4, data["cost"])


def _plot_cost(ax, cost):
    """Time per step and peak memory of a step, BN relative to plain (plain = 1)."""
    kinds = ("plain", "bn")
    ratio_time = [cost[k]["median"] / cost["plain"]["median"] for k in kinds]
    ratio_mem = [cost[k]["peak_bytes"] / cost["plain"]["peak_bytes"] for k in kinds]
    x = np.arange(2)
    ax.bar(x - 0.2, ratio_time, 0.4, label="CPU time per step")
    ax.bar(x + 0.2, ratio_mem, 0.4, label="peak memory of a step")
    ax.set_xticks(x, [f"plain\n{cost['plain']['median'] * 1e3:.1f} ms", f"BN\n{cost['bn']['median'] * 1e3:.1f} ms"])
    ax.set_ylabel("relative to plain")
    ax.set_title("BN's cost")
    ax.legend(fontsize=8)
