"""aux-heads: GoogLeNet with and without its auxiliary classifiers: the gradient reaching the first layers.

Claim (notes, GoogLeNet in "经典卷积神经网络模型的设计理念", 现代深度学习架构), translated: "GoogLeNet also
uses auxiliary classifiers to mitigate the vanishing-gradient problem": the heads' losses reach the
middle of the network directly, so more gradient should arrive at the early layers.  Szegedy et al.
(2015) attach two small classifiers to the outputs of inception 4a and 4d and train with
loss = loss(main) + 0.3 (loss(aux1) + loss(aux2)); the heads are dropped at inference.

The networks: ``nabla.models.googlenet.googlenet_small`` (3x3 stride-1 stem, nine inception modules, batch
norm in every convolution) at width 0.25, with ``aux_logits=True`` (trained with ``googlenet_loss``, weight
0.3) and without.  Both start from the same trunk weights (the heads' model gets the other's trunk copied
in), see the same batches and train for the same CPU time.

The gradient share of layer l: ||dL/dW_l|| / sqrt(sum_k ||dL/dW_k||^2), over the weights of the trunk's
convolutions and its final full layer (the heads' own weights are left out, so both networks share the
same set of layers and the share does not depend on the loss's overall scale).  The first layer is the
stem convolution ``conv1``.  Measured at initialisation (one batch of 256 training images, training mode,
the weights restored afterwards) and after every backward pass in training (its mean over the steps);
test accuracy in eval mode (heads dropped) at the end.  The training loss plotted is the main head's
cross-entropy in both (the heads' total loss adds the auxiliary terms).

Full: Fashion-MNIST, a 10,000-image training subset and 2,000 test images; Adam (lr 1e-3), batches of
64, 190 seconds of this process's CPU time each (evaluation excluded).  Quick: width 0.0625, MNIST-5k
(256 training, 200 test images), batches of 32, 0.75 CPU-seconds each, at least one epoch.

**Supported** when (1) the first layer's gradient share is larger with the heads, at initialisation or on
average over training, and (2) the heads cost no accuracy: their test accuracy is at least the other's
minus one standard error of the difference of two accuracies, sqrt(2 p (1 - p) / n) on n test images (p
the mean of the two).
Both parts of (1) are reported.  A caveat the numbers carry: the paper's GoogLeNet had no batch norm;
this one, as torchvision's, has it after every convolution.  A convolution followed by batch norm gets a
weight gradient that scales as 1/||W||, and deep batch-normalised nets tend to explode at initialisation
rather than vanish (Yang et al. 2019), so there may be no vanishing gradient left for the heads to cure
(the verdict prints the stem's share against the median layer's).
"""
from __future__ import annotations

import math

import numpy as np

import nabla as nb
from .. import nn
from ..models.googlenet import googlenet_loss, googlenet_small
from .base import register_experiment
from .common import (CpuBudget, GradientRecorder, evaluate, format_claims, load_images, moving_average, say,
                     tail_mean, train_classifier)

CLAIM = ("GoogLeNet's auxiliary classifiers help the gradient reach the early layers (a larger share at the first "
         "layer) without costing accuracy")

KINDS = {"without heads": False, "with heads": True}


def trunk_layers(model) -> list:
    """(name, module) of the trunk's convolutions and full layers, input side first (heads left out)."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))
            and not n.startswith(("aux1", "aux2"))]


def layer_grad_norms(layers) -> np.ndarray:
    """||dL/dW|| of each layer's weight."""
    return np.array([float(np.linalg.norm(m.weight.grad.data)) for _, m in layers])


def shares(norms) -> np.ndarray:
    """Each layer's gradient norm over the norm of all of them: ||g_l|| / sqrt(sum_k ||g_k||^2)."""
    norms = np.asarray(norms, dtype=np.float64)
    return norms / np.sqrt((norms ** 2).sum(axis=-1, keepdims=True))


def main_cross_entropy(scores, targets) -> float:
    """The main head's cross-entropy, from its logits (a training metric comparable with and without heads)."""
    z = scores - scores.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(targets)), targets.astype(np.int64)].mean())


def _pair(width) -> dict:
    """The two networks from the same trunk weights."""
    nb.manual_seed(0)
    plain = googlenet_small(10, 1, width=width, aux_logits=False)
    nb.manual_seed(0)
    heads = googlenet_small(10, 1, width=width, aux_logits=True)
    missing, unexpected = heads.load_state_dict(plain.state_dict(), strict=False)
    if unexpected or not all(k.startswith(("aux1.", "aux2.")) for k in missing):
        raise RuntimeError(f"aux-heads: the two GoogLeNets' trunks differ: missing {missing}, unexpected {unexpected}")
    return {"without heads": plain, "with heads": heads}


def init_shares(model, x, y) -> np.ndarray:
    """Per-layer gradient shares on one batch at initialisation; the weights and statistics are put back."""
    saved = {k: np.array(v.data, copy=True) for k, v in model.state_dict().items()}
    nb.manual_seed(1)                         # the same dropout masks in the trunk
    model.train()
    model.zero_grad()
    googlenet_loss(model(x), y).backward()
    out = shares(layer_grad_norms(trunk_layers(model)))
    model.zero_grad()
    model.load_state_dict(saved)
    return out


def _train_one(kind, model, train, test, probe, budget, batch, echo) -> dict:
    layers = trunk_layers(model)
    at_init = init_shares(model, *probe)
    grads = GradientRecorder(lambda: layer_grad_norms(layers))
    clock = CpuBudget(budget, min_epochs=1)
    fit = train_classifier(model, train, epochs=10_000, batch_size=batch, seed=0, loss_fn=googlenet_loss,
                           callbacks=[clock, grads], metrics=(main_cross_entropy,), echo=echo,
                           label=f"aux-heads: {kind}")
    during = shares(np.array(grads.values))
    ev = evaluate(model, test)
    main_losses = np.asarray(fit["trainer"].step_history["main_cross_entropy"], dtype=np.float64)
    say(echo, "aux-heads", kind, len(fit["losses"]), tail_mean(main_losses),
        fit["time"], f", first-layer share {float(during[:, 0].mean()):.3g}, test accuracy {ev['accuracy']:.2%}")
    return {"params": model.num_parameters(), "steps": len(fit["losses"]), "cpu": clock.cpu(),
            "epochs": len(fit["losses"]) * batch / len(train), "layers": [n for n, _ in layers],
            "init_shares": at_init, "first_share_init": float(at_init[0]), "first_share_steps": during[:, 0],
            "first_share_mean": float(during[:, 0].mean()), "mean_shares": during.mean(axis=0),
            "main_losses": main_losses, "losses": fit["losses"], "diverged": fit["diverged"], **ev}


CHAPTER = "modern-architectures"
NOTES = ("此外，GoogLeNet还使用了全局平均池化层来减少参数数量，并采用了辅助分类器来缓解梯度消失问题。",
         "Moreover, GoogLeNet uses a global average pooling layer to reduce the number of parameters, and "
         "auxiliary classifiers to mitigate the vanishing-gradient problem.")


@register_experiment("aux-heads", "GoogLeNet-small with and without auxiliary classifiers: first-layer gradient "
                     "share and accuracy")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    if quick:
        width, budget, batch = 0.0625, 0.75, 32
        train, test = load_images("mnist-5k", n_train=256, n_test=200, download=download)
        data_name = "MNIST-5k (256 training / 200 test images)"
    else:
        width, budget, batch = 0.25, 190.0, 64
        train, test = load_images("fashion-mnist", n_train=10_000, n_test=2_000, download=download)
        data_name = "Fashion-MNIST (10,000 training / 2,000 test images)"
    probe = tuple(nb.from_numpy(a) for a in train.get_batch(np.arange(64 if quick else 256)))
    runs = {kind: _train_one(kind, model, train, test, probe, budget, batch, echo)
            for kind, model in _pair(width).items()}
    rows = [{"network": k, "params": r["params"], "steps": r["steps"], "epochs": r["epochs"],
             "first-layer share at init": r["first_share_init"],
             "first-layer share (training mean)": r["first_share_mean"], "test acc": r["accuracy"]}
            for k, r in runs.items()]
    return {"table": rows, "width": width, "budget": budget, "batch_size": batch, "dataset": data_name,
            "n_test": len(test), "runs": runs}


def accuracy_tolerance(numbers) -> float:
    """One standard error of the difference of two test accuracies: sqrt(2 p (1 - p) / n)."""
    p = float(np.mean([r["accuracy"] for r in numbers["runs"].values()]))
    return math.sqrt(2 * p * (1 - p) / numbers["n_test"])


def claims(numbers) -> dict:
    plain, heads = numbers["runs"]["without heads"], numbers["runs"]["with heads"]
    return {
        "with the heads the first layer gets a larger gradient share (at initialisation or in training)":
            bool(heads["first_share_init"] > plain["first_share_init"]
                 or heads["first_share_mean"] > plain["first_share_mean"]),
        "the heads cost no accuracy (within one standard error)":
            bool(heads["accuracy"] >= plain["accuracy"] - accuracy_tolerance(numbers)),
    }


def verdict(numbers):
    plain, heads, found = numbers["runs"]["without heads"], numbers["runs"]["with heads"], claims(numbers)
    text = (f"GoogLeNet-small (width {numbers['width']:g}), {numbers['budget']:g} CPU-seconds of Adam (batches of "
            f"{numbers['batch_size']}) each on {numbers['dataset']}: the first layer's share of the trunk's gradient "
            f"norm at initialisation is {heads['first_share_init']:.3g} with the heads against "
            f"{plain['first_share_init']:.3g} without ({heads['first_share_init'] / plain['first_share_init']:.2f}x), "
            f"averaged over training {heads['first_share_mean']:.3g} against {plain['first_share_mean']:.3g} "
            f"({heads['first_share_mean'] / plain['first_share_mean']:.2f}x); test accuracy {heads['accuracy']:.2%} "
            f"with the heads ({heads['steps']} steps, {heads['params']:,} parameters in training) against "
            f"{plain['accuracy']:.2%} without ({plain['steps']} steps, {plain['params']:,}); one standard error "
            f"{accuracy_tolerance(numbers):.2%}. " + _profile_text(plain) + format_claims(found))
    return all(found.values()), text


def _profile_text(run_) -> str:
    """The shape of the gradient profile at initialisation: is there a vanishing gradient to cure?"""
    s = np.asarray(run_["init_shares"], dtype=np.float64)
    return (f"Without the heads the stem's share at initialisation is {s[0] / np.median(s):.3g}x the median "
            f"layer's and the output layer's {s[-1] / np.median(s):.3g}x: the gradient "
            f"{'does not vanish' if s[0] >= np.median(s) else 'shrinks'} toward the input. ")


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for (kind, r), color in zip(data["runs"].items(), ("C0", "C3")):
        ax1.semilogy(np.arange(1, len(r["init_shares"]) + 1), r["init_shares"], "--", color=color,
                     label=f"{kind}, at init")
        ax1.semilogy(np.arange(1, len(r["mean_shares"]) + 1), r["mean_shares"], "-", color=color,
                     label=f"{kind}, training mean")
        ax2.plot(moving_average(r["first_share_steps"], 20), color=color, label=kind)
        ax3.plot(moving_average(r["main_losses"], 20), color=color, label=f"{kind} (test {r['accuracy']:.1%})")
    ax1.set_xlabel("trunk layer (1 = stem convolution)")
    ax1.set_ylabel("share of the gradient norm")
    ax1.set_title("gradient share per layer")
    ax1.legend(fontsize=7)
    ax2.set_xlabel("step")
    ax2.set_ylabel("first layer's share (moving average)")
    ax2.set_title("gradient reaching the first layer")
    ax2.legend(fontsize=8)
    ax3.set_xlabel("step")
    ax3.set_ylabel("main head's training loss (moving average)")
    ax3.set_title("at an equal CPU budget")
    ax3.legend(fontsize=8)
