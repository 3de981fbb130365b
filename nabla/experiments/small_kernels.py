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

The helpers ``load_images``, ``fit_steps`` and ``evaluate`` are shared by the other CNN experiments.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import nn, optim
from ..data import DataLoader, Subset
from ..data.datasets import MNIST, MNIST5k, FashionMNIST
from ..data.transforms import Normalize
from ..utils import summary
from .base import Result, register_experiment

CLAIM = ("small kernels have fewer parameters, need fewer multiplications and additions, and capture local "
         "features well: two 3x3 convolutions (three 3x3) replace one 5x5 (one 7x7)")

TOLERANCE = 0.01   # accuracy may be at most 1 point lower for "not worse"
_DATASETS = {"mnist": MNIST, "mnist-5k": MNIST5k, "fashion-mnist": FashionMNIST}


# ------------------------------------------------------------------ shared by the CNN experiments
def load_images(name: str, n_train: int | None = None, n_test: int | None = None, seed: int = 0):
    """(train, test) of an image data set, standardised by the training pixels' mean and std, each cut to
    a random subset of n_train / n_test images when given."""
    cls = _DATASETS[name]
    train, test = cls(train=True), cls(train=False)
    pixels = train.data.data
    mean, std = float(pixels.mean()) / train.max_value, float(pixels.std()) / train.max_value
    train.transform = test.transform = Normalize([mean], [std])
    rng = np.random.default_rng(seed)
    if n_train is not None and n_train < len(train):
        train = Subset(train, np.sort(rng.permutation(len(train))[:n_train]))
    if n_test is not None and n_test < len(test):
        test = Subset(test, np.sort(rng.permutation(len(test))[:n_test]))
    return train, test


def fit_steps(model, train, steps: int, batch_size: int = 64, lr: float = 1e-3, optimizer: str = "adam",
              momentum: float = 0.9, seed: int = 0, on_backward=None, loss_fn=None) -> dict:
    """Train for exactly ``steps`` mini-batches (reshuffling each pass over the data).

    ``loss_fn`` (default cross-entropy) takes the model's training output: a registry model with
    auxiliary heads (GoogLeNet) passes its entry's ``training_loss(nn.CrossEntropyLoss())``.
    ``on_backward(step, model)`` runs after each backward pass, before the update (to read gradients).
    Stops early, with ``diverged=True``, when the loss stops being finite.  Returns the per-step losses,
    the wall time and the time per step."""
    if optimizer == "adam":
        opt = optim.Adam(model.parameters(), lr=lr)
    else:
        opt = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed, drop_last=len(train) > batch_size)
    losses, diverged, step = [], False, 0
    model.train()
    start = time.perf_counter()
    while step < steps and not diverged:
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            value = loss.item()
            losses.append(value)
            if not np.isfinite(value):
                diverged = True
                break
            loss.backward()
            if on_backward is not None:
                on_backward(step, model)
            opt.step()
            step += 1
            if step >= steps:
                break
    elapsed = time.perf_counter() - start
    return {"losses": np.array(losses), "time": elapsed, "time_per_step": elapsed / max(1, len(losses)),
            "diverged": diverged}


def evaluate(model, test, batch_size: int = 500) -> dict:
    """Accuracy and mean cross-entropy on ``test`` in eval mode."""
    model.eval()
    correct, total, loss_sum = 0, 0, 0.0
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    with nb.no_grad():
        for x, y in DataLoader(test, batch_size=batch_size):
            out = model(x)
            loss_sum += float(loss_fn(out, y).item())
            correct += int((out.data.argmax(axis=1) == y.data).sum())
            total += len(y.data)
    model.train()
    return {"accuracy": correct / total, "loss": loss_sum / total}


def tail_mean(losses, fraction: float = 0.1) -> float:
    """Mean of the last ``fraction`` of a loss curve (inf when it diverged)."""
    losses = np.asarray(losses, dtype=np.float64)
    if len(losses) == 0 or not np.isfinite(losses).all():
        return float("inf")
    return float(losses[-max(1, int(len(losses) * fraction)):].mean())


# ------------------------------------------------------------------ this experiment
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


@register_experiment("small-kernels", "two 3x3 convs vs one 5x5, three 3x3 vs 7x7: parameters, MACs, "
                     "receptive field, accuracy")
def run(quick: bool = False) -> Result:
    if quick:
        width, steps, batch = 4, 12, 32
        train, test = load_images("mnist-5k", n_test=500)
        data_name = "MNIST-5k (500 test images)"
    else:
        width, steps, batch = 16, 300, 64
        train, test = load_images("mnist")
        data_name = "MNIST"
    rows, runs, claims = [], {}, {}
    for big_name, big, small_name, small in PAIRS:
        for name, kernels in ((big_name, big), (small_name, small)):
            nb.manual_seed(0)
            block = conv_block(width, width, kernels)
            s = summary(block, (width, 28, 28), print_fn=None)
            rf_formula = 1 + sum(k - 1 for k in kernels)
            rf = measured_receptive_field(conv_block(width, width, kernels), width)
            nb.manual_seed(0)
            model = kernel_net(kernels, width)
            fit = fit_steps(model, train, steps, batch_size=batch, lr=1e-3, seed=0)
            ev = evaluate(model, test)
            runs[name] = {"kernels": list(kernels), "params": s.total_params, "macs": s.total_macs,
                          "receptive_field": rf, "receptive_field_formula": rf_formula,
                          "net_params": model.num_parameters(), "losses": fit["losses"],
                          "time_per_step": fit["time_per_step"], **ev}
            rows.append({"block": name, "params": s.total_params, "MACs (28x28)": s.total_macs,
                         "receptive field": rf, "formula": rf_formula, "net params": model.num_parameters(),
                         "s/step": fit["time_per_step"], "final train loss": tail_mean(fit["losses"]),
                         "test acc": ev["accuracy"]})
        b, sm = runs[big_name], runs[small_name]
        claims[f"{small_name} has fewer parameters than {big_name}"] = sm["params"] < b["params"]
        claims[f"{small_name} needs fewer MACs than {big_name}"] = sm["macs"] < b["macs"]
        claims[f"{small_name} sees the same window as {big_name}"] = (
            sm["receptive_field"] == b["receptive_field"] == sm["receptive_field_formula"])
        claims[f"{small_name} accuracy not worse than {big_name}"] = sm["accuracy"] >= b["accuracy"] - TOLERANCE
    claims = {k: bool(v) for k, v in claims.items()}
    supported = all(claims.values())
    parts = []
    for big_name, _, small_name, _ in PAIRS:
        b, sm = runs[big_name], runs[small_name]
        parts.append(f"{small_name} vs {big_name} (C={width}): parameters {sm['params']:,} vs {b['params']:,} "
                     f"({sm['params'] / b['params']:.2f}x), MACs {sm['macs'] / b['macs']:.2f}x, receptive field "
                     f"{sm['receptive_field']} vs {b['receptive_field']}, test accuracy {sm['accuracy']:.2%} vs "
                     f"{b['accuracy']:.2%}")
    verdict = ("; ".join(parts) + f" ({steps} Adam steps of {batch} on {data_name}). Claims: "
               + "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in claims.items()))

    def plot(fig):
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
            r = runs[n]["losses"]
            k = max(1, len(r) // 30)
            ax3.plot(np.convolve(r, np.ones(k) / k, mode="valid"), color=f"C{i}", label=n)
        ax3.set_xlabel("step")
        ax3.set_ylabel("training loss (moving average)")
        ax3.legend(fontsize=8)

    return Result(claim=CLAIM, supported=supported, verdict=verdict, table=rows,
                  data={"claims": claims, "width": width, "steps": steps, "batch_size": batch,
                        "dataset": data_name, "runs": runs}, plot=plot)
