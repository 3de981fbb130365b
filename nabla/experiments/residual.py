"""residual: plain against residual networks at two depths: training loss and the gradient at the first layer.

Claim (notes, "残差连接的作用" in 现代深度学习架构), translated:

* "Eliminates the vanishing-gradient problem: residual connections let the gradient propagate more easily
  to the shallower layers, which mitigates vanishing gradients."
* "Improves overall performance: residual connections let the network learn deeper feature
  representations, so they usually improve overall performance, including accuracy and convergence speed."
* (ResNet's design idea) "learning residual mappings makes very deep networks easier to train."

He et al. (2016) name the symptom of the plain network the *degradation problem*: the deeper plain net
has the *higher training loss*; the residual net does not degrade.

Setup: the CIFAR-style networks of ``nabla.models.resnet`` (``CifarResNet``: 3x3 convolutions, batch norm,
three stages; option-A shortcuts) and their plain twins (the same layers and parameters, no shortcuts),
at 20 and 56 layers, on Fashion-MNIST, all trained with SGD (momentum 0.9, lr 0.05) on the same batches
from the same seed.  The full configuration is scaled down to fit about ten minutes on a 2-core CPU:
**width 4** (channels 4/8/16 instead of 16/32/64), a **10,000-image subset** of the training set,
**100 steps of 64** (0.64 epoch of the subset), test accuracy on 2,000 test images.  Quick: 8 and 14
layers, width 4, 12 steps of 32 on MNIST-5k.

Measured for each network: the training-loss curve; the norm of the loss gradient at the first
convolution (``conv1.weight``) and at the output layer (``fc.weight``) at every step; and, at
initialisation, the gradient norm of every convolution from input to output.

The notes' claim is supported when, at the larger depth, (1) the residual network's first layer receives
a larger share of the gradient (|dW_conv1| / |dW_fc|) both at initialisation (on the same 256 images)
and during training (the median over the steps), than the plain one's, and
(2) the residual network ends training with the lower training loss.  Whether the plain network degrades
(the deeper plain net's loss is higher than the shallower one's) is reported beside it, and so is whether
the plain net's first-layer gradient vanishes or explodes (with batch norm in every layer, deep plain nets
tend to explode at initialisation rather than vanish: Yang et al. 2019).
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import nn
from ..models.resnet import CifarResNet
from .base import register_experiment
from .common import (GradientRecorder, evaluate, format_claims, load_images, make_optimizer, moving_average, say,
                     tail_mean, train_classifier)

CLAIM = ("residual connections let the gradient reach the shallow layers (no vanishing gradient) and make deep "
         "networks train better and faster than their plain counterparts")


def _scale(ratio: float) -> str:
    """Words for a first-layer / output-layer gradient ratio."""
    if ratio < 0.01:
        return f"vanishes ({ratio:.2g}x the output layer's)"
    if ratio > 10:
        return f"explodes ({ratio:.3g}x the output layer's)"
    return f"neither vanishes nor explodes ({ratio:.2g}x the output layer's)"


def _conv_grad_norms(model) -> np.ndarray:
    return np.array([float(np.linalg.norm(m.weight.grad.data)) for m in model.modules() if isinstance(m, nn.Conv2d)])


def _norm(p) -> float:
    return float(np.linalg.norm(p.grad.data))


def init_gradients(model, x, y):
    """Per-convolution gradient norms on one batch at initialisation, and conv1's over fc's."""
    model.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    norms = _conv_grad_norms(model)
    ratio = float(norms[0] / _norm(model.fc.weight))
    model.zero_grad()
    return norms, ratio


def _train_one(depth, shortcut, width, train, test, steps, batch, lr, probe, echo, name) -> dict:
    nb.manual_seed(0)
    model = CifarResNet(depth, num_classes=10, in_channels=1, shortcut=shortcut, width=width)
    init_norms, init_ratio = init_gradients(model, *probe)
    first = GradientRecorder(lambda: _norm(model.conv1.weight))
    last = GradientRecorder(lambda: _norm(model.fc.weight))
    fit = train_classifier(model, train, steps, batch_size=batch, optimizer=make_optimizer(model, "sgd", lr),
                           seed=0, callbacks=[first, last], echo=echo, label=f"residual: {name}")
    ev = evaluate(model, test)
    g_first, g_last = np.array(first.values), np.array(last.values)
    say(echo, "residual", name, len(fit["losses"]), tail_mean(fit["losses"]), fit["time"],
        f", test accuracy {ev['accuracy']:.2%}")
    return {"depth": depth, "shortcut": shortcut, "losses": fit["losses"], "grad_first": g_first, "grad_last": g_last,
            "grad_ratio": float(np.median(g_first / g_last)), "init_ratio": init_ratio,
            "init_conv_grad_norms": init_norms, "final_loss": tail_mean(fit["losses"]), "time": fit["time"],
            "diverged": fit["diverged"], **ev}


CHAPTER = "modern-architectures"
NOTES = ("消除梯度消失问题：残差连接使得梯度可以更轻松地传播到较浅的层，从而减轻了梯度消失问题。 … 提升整体性"
         "能：残差连接允许网络更深地学习特征表示，因此通常可以提升整体性能，包括准确率和收敛速度。",
         "Eliminates the vanishing-gradient problem: residual connections let the gradient propagate more easily "
         "to the shallower layers, which mitigates vanishing gradients. ... Improves overall performance: "
         "residual connections let the network learn deeper feature representations, so they usually improve "
         "overall performance, including accuracy and convergence speed.")


@register_experiment("residual", "plain vs residual networks at two depths: degradation and first-layer gradients")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    if quick:
        depths, width, steps, batch, lr = (8, 14), 4, 5, 16, 0.05
        train, test = load_images("mnist-5k", n_test=500, download=download)
        data_name = "MNIST-5k (500 test images)"
    else:
        depths, width, steps, batch, lr = (20, 56), 4, 100, 64, 0.05
        train, test = load_images("fashion-mnist", n_train=10_000, n_test=2_000, download=download)
        data_name = "Fashion-MNIST (10,000 training / 2,000 test images)"
    # the gradient per convolution at initialisation, on the same first images for every network
    probe = tuple(nb.from_numpy(a) for a in train.get_batch(np.arange(64 if quick else 256)))
    runs = {f"{kind}-{depth}": _train_one(depth, shortcut, width, train, test, steps, batch, lr, probe, echo,
                                          f"{kind}-{depth}")
            for depth in depths for kind, shortcut in (("plain", None), ("resnet", "A"))}
    rows = [{"network": n, "final train loss": r["final_loss"], "test acc": r["accuracy"],
             "|dW_conv1| / |dW_fc| at init": r["init_ratio"],
             "|dW_conv1| / |dW_fc| (training median)": r["grad_ratio"],
             "|dW_conv1| (training median)": float(np.median(r["grad_first"])),
             "|dW_conv1| at init": float(r["init_conv_grad_norms"][0]), "time (s)": r["time"]}
            for n, r in runs.items()]
    return {"table": rows, "degradation": degradation(runs, depths), "depths": list(depths), "width": width,
            "steps": steps, "batch_size": batch, "lr": lr, "dataset": data_name, "runs": runs}


def degradation(runs, depths) -> dict:
    """Does the deeper net of each kind end with the higher training loss?"""
    shallow, deep = depths
    return {f"{kind} degrades": bool(runs[f"{kind}-{deep}"]["final_loss"] > runs[f"{kind}-{shallow}"]["final_loss"])
            for kind in ("plain", "resnet")}


def claims(numbers) -> dict:
    deep = numbers["depths"][1]
    p, r = numbers["runs"][f"plain-{deep}"], numbers["runs"][f"resnet-{deep}"]
    return {
        f"at {deep} layers the residual net's first layer gets a larger share of the gradient at initialisation":
            bool(r["init_ratio"] > p["init_ratio"]),
        f"at {deep} layers the residual net's first layer gets a larger share of the gradient during training":
            bool(r["grad_ratio"] > p["grad_ratio"]),
        f"at {deep} layers the residual net reaches the lower training loss": bool(r["final_loss"] < p["final_loss"]),
    }


def verdict(numbers):
    runs, (shallow, deep) = numbers["runs"], numbers["depths"]
    p_deep, r_deep = runs[f"plain-{deep}"], runs[f"resnet-{deep}"]
    p_shallow, r_shallow = runs[f"plain-{shallow}"], runs[f"resnet-{shallow}"]
    found, degrades = claims(numbers), degradation(runs, numbers["depths"])
    text = (f"{numbers['steps']} SGD steps of {numbers['batch_size']} on {numbers['dataset']}, width "
            f"{numbers['width']}: final training loss plain-{shallow} {p_shallow['final_loss']:.3f}, plain-{deep} "
            f"{p_deep['final_loss']:.3f}, resnet-{shallow} {r_shallow['final_loss']:.3f}, resnet-{deep} "
            f"{r_deep['final_loss']:.3f} (the plain net "
            f"{'degrades' if degrades['plain degrades'] else 'does not degrade'} with depth, the residual net "
            f"{'degrades' if degrades['resnet degrades'] else 'does not'}); first-layer / output-layer gradient "
            f"norm at {deep} layers, at initialisation: plain {p_deep['init_ratio']:.3g}, residual "
            f"{r_deep['init_ratio']:.3g}; median over the training steps: plain {p_deep['grad_ratio']:.3g}, residual "
            f"{r_deep['grad_ratio']:.3g} (at initialisation the plain net's first-layer gradient "
            f"{_scale(p_deep['init_ratio'])}, the residual net's {_scale(r_deep['init_ratio'])}). "
            + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    shallow = data["depths"][0]
    for n, r in data["runs"].items():
        style = "--" if r["shortcut"] is None else "-"
        color = "C0" if r["depth"] == shallow else "C3"
        ax1.plot(moving_average(r["losses"], 20), style, color=color, label=n)
        ax2.semilogy(r["grad_first"], style, color=color, label=n)
        g = r["init_conv_grad_norms"]
        ax3.semilogy(np.arange(1, len(g) + 1), g, style, color=color, label=n)
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss (moving average)")
    ax1.set_title("training loss: dashed plain, solid residual")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("step")
    ax2.set_ylabel("||dL/dW|| of the first convolution")
    ax2.set_title("gradient reaching the first layer")
    ax3.set_xlabel("convolution (1 = input side)")
    ax3.set_ylabel("||dL/dW|| at initialisation")
    ax3.set_title("gradient per layer at initialisation")
