"""small-kernels: a stack of small (3x3) convolutions against one large one (5x5, 7x7).

Claim (notes, "小尺寸核的优势" in 现代深度学习架构), translated:

* "Parameter sharing: small kernels have fewer parameters in the convolution ... which reduces the
  number of model parameters and the risk of over-fitting."
* "Local receptive field: small kernels capture the local features of the input better, improving the
  model's recognition of local patterns."
* "Computational efficiency: small kernels are usually more efficient, since they need fewer
  multiplications and additions."

(and of VGG: "it uses small convolution kernels ... to increase the depth and reduce the number of
parameters").  The comparison that makes this precise is VGG's: two 3x3 convolutions see the same 5x5
window as one 5x5 convolution, three 3x3 the same 7x7 window, with C channels in and out:

    parameters  2 * 9 C^2 = 18 C^2  <  25 C^2          3 * 9 C^2 = 27 C^2  <  49 C^2
    MACs        the same ratios times H*W (padding keeps the map size)
    receptive field  1 + sum(k_i - 1): 5 and 7 for both members of each pair

Measured here: parameters and multiply-accumulates of each block by ``nabla.utils.summary``; the
receptive field from the gradient of one output pixel with respect to the input (the rows and columns
where it is non-zero), next to the formula; and test accuracy of the same network built with each block
(stem 3x3 conv, block, 2x2 max-pool, block, 2x2 max-pool, linear), all trained with the same optimizer
(Adam, lr 1e-3) on the same batches for the same number of steps.  Full: width 16, 300 steps of 64 on
MNIST (all 60,000 training images available; 10,000 test).  Quick: width 4, 12 steps on MNIST-5k.

Supported when each stack of 3x3s has fewer parameters and MACs than the large kernel it replaces,
the same receptive field, and a test accuracy no more than 1 point below it.
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import nn
from ..utils import summary
from .base import register_experiment
from .common import evaluate, format_claims, load_images, moving_average, say, tail_mean, train_classifier

CLAIM = ("small kernels have fewer parameters, need fewer multiplications and additions, and capture local "
         "features well: two 3x3 convolutions (three 3x3) replace one 5x5 (one 7x7)")

TOLERANCE = 0.01   # accuracy may be at most 1 point lower for "not worse"


def conv_block(in_ch: int, out_ch: int, kernels) -> nn.Sequential:
    """Convolutions of the given kernel sizes, 'same' padding, each followed by ReLU."""
    layers = []
    for i, k in enumerate(kernels):
        layers += [nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, k, padding=k // 2), nn.ReLU()]
    return nn.Sequential(*layers)


def kernel_net(kernels, width: int, num_classes: int = 10) -> nn.Sequential:
    """stem 3x3 -> block -> max-pool 2 -> block -> max-pool 2 -> linear (28x28 input)."""
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
                         conv_block(width, width, kernels), nn.MaxPool2d(2),
                         conv_block(width, width, kernels), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(width * 7 * 7, num_classes))


def measured_receptive_field(block: nn.Module, channels: int, size: int = 21) -> int:
    """Width of the input region on which one centre output pixel depends: the extent of the non-zero
    gradient d out[centre] / d input (float64, random input and weights)."""
    x = nb.tensor(np.random.default_rng(0).standard_normal((1, channels, size, size)), requires_grad=True)
    out = block.double()(x)
    out[0, :, size // 2, size // 2].sum().backward()
    g = np.abs(x.grad.data).sum(axis=(0, 1))
    rows, cols = np.nonzero(g.sum(axis=1))[0], np.nonzero(g.sum(axis=0))[0]
    return int(max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1))


PAIRS = [("5x5", (5,), "2 x 3x3", (3, 3)), ("7x7", (7,), "3 x 3x3", (3, 3, 3))]


def _measure(name, kernels, width, train, test, steps, batch, echo) -> dict:
    """Parameters, MACs and receptive field of one block; test accuracy of the network built with it."""
    nb.manual_seed(0)
    block = conv_block(width, width, kernels)
    s = summary(block, (width, 28, 28), print_fn=None)
    rf = measured_receptive_field(conv_block(width, width, kernels), width)
    nb.manual_seed(0)
    model = kernel_net(kernels, width)
    fit = train_classifier(model, train, steps, batch_size=batch, seed=0, echo=echo, label=f"small-kernels: {name}")
    ev = evaluate(model, test)
    say(echo, "small-kernels", name, len(fit["losses"]), tail_mean(fit["losses"]), fit["time"],
        f", test accuracy {ev['accuracy']:.2%}")
    return {"kernels": list(kernels), "params": s.total_params, "macs": s.total_macs, "receptive_field": rf,
            "receptive_field_formula": 1 + sum(k - 1 for k in kernels), "net_params": model.num_parameters(),
            "losses": fit["losses"], "time_per_step": fit["time_per_step"], **ev}


CHAPTER = "modern-architectures"
NOTES = ("参数共享：小尺寸核在卷积操作中具有更少的参数，因此能够更好地利用参数共享的特性。这有助于减少模型的参"
         "数量，降低过拟合的风险。 … 局部感受野：小尺寸核能够更好地捕捉输入数据的局部特征，从而提高了模型对局"
         "部模式的识别能力。 … 计算效率：小尺寸核在计算上通常更高效，因为它们需要更少的乘法和加法操作。",
         "Parameter sharing: small kernels have fewer parameters in the convolution, so they make better use of "
         "parameter sharing; this helps reduce the number of model parameters and the risk of over-fitting. ... "
         "Local receptive field: small kernels capture the local features of the input better, improving the "
         "model's recognition of local patterns. ... Computational efficiency: small kernels are usually more "
         "efficient to compute, because they need fewer multiplications and additions.")


@register_experiment("small-kernels", "two 3x3 convs vs one 5x5, three 3x3 vs 7x7: parameters, MACs, "
                     "receptive field, accuracy")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    if quick:
        width, steps, batch = 4, 12, 32
        train, test = load_images("mnist-5k", n_test=500, download=download)
        data_name = "MNIST-5k (500 test images)"
    else:
        width, steps, batch = 16, 300, 64
        train, test = load_images("mnist", download=download)
        data_name = "MNIST"
    runs = {name: _measure(name, kernels, width, train, test, steps, batch, echo)
            for big_name, big, small_name, small in PAIRS for name, kernels in ((big_name, big), (small_name, small))}
    rows = [{"block": name, "params": r["params"], "MACs (28x28)": r["macs"], "receptive field": r["receptive_field"],
             "formula": r["receptive_field_formula"], "net params": r["net_params"], "s/step": r["time_per_step"],
             "final train loss": tail_mean(r["losses"]), "test acc": r["accuracy"]} for name, r in runs.items()]
    return {"table": rows, "width": width, "steps": steps, "batch_size": batch, "dataset": data_name, "runs": runs}


def claims(numbers) -> dict:
    runs, out = numbers["runs"], {}
    for big_name, _, small_name, _ in PAIRS:
        b, sm = runs[big_name], runs[small_name]
        out[f"{small_name} has fewer parameters than {big_name}"] = sm["params"] < b["params"]
        out[f"{small_name} needs fewer MACs than {big_name}"] = sm["macs"] < b["macs"]
        out[f"{small_name} sees the same window as {big_name}"] = (
            sm["receptive_field"] == b["receptive_field"] == sm["receptive_field_formula"])
        out[f"{small_name} accuracy not worse than {big_name}"] = sm["accuracy"] >= b["accuracy"] - TOLERANCE
    return {k: bool(v) for k, v in out.items()}


def verdict(numbers):
    runs, width, found = numbers["runs"], numbers["width"], claims(numbers)
    parts = []
    for big_name, _, small_name, _ in PAIRS:
        b, sm = runs[big_name], runs[small_name]
        parts.append(f"{small_name} vs {big_name} (C={width}): parameters {sm['params']:,} vs {b['params']:,} "
                     f"({sm['params'] / b['params']:.2f}x), MACs {sm['macs'] / b['macs']:.2f}x, receptive field "
                     f"{sm['receptive_field']} vs {b['receptive_field']}, test accuracy {sm['accuracy']:.2%} vs "
                     f"{b['accuracy']:.2%}")
    return all(found.values()), ("; ".join(parts) + f" ({numbers['steps']} Adam steps of {numbers['batch_size']} on "
                                 f"{numbers['dataset']}). " + format_claims(found))


def plot(fig, data):
    runs, width = data["runs"], data["width"]
    ax1, ax2, ax3 = fig.subplots(1, 3)
    names = list(runs)
    xs = np.arange(len(names))
    ax1.bar(xs - 0.2, [runs[n]["params"] for n in names], 0.4, label="parameters")
    ax1.bar(xs + 0.2, [runs[n]["macs"] / (28 * 28) for n in names], 0.4, label="MACs / pixel")
    ax1.set_xticks(xs, names)
    ax1.set_title(f"one block, {width} channels in and out")
    ax1.legend(fontsize=8)
    ax2.bar(xs, [runs[n]["accuracy"] for n in names], color=[f"C{i}" for i in range(len(names))])
    ax2.set_xticks(xs, names)
    lo = min(runs[n]["accuracy"] for n in names)
    ax2.set_ylim(max(0.0, lo - 0.05), 1.0)
    ax2.set_title("test accuracy, equal budget")
    for i, n in enumerate(names):
        ax3.plot(moving_average(runs[n]["losses"], 30), color=f"C{i}", label=n)
    ax3.set_xlabel("step")
    ax3.set_ylabel("training loss (moving average)")
    ax3.legend(fontsize=8)
