"""architectures: LeNet-5, AlexNet, VGG, GoogLeNet and ResNet (28x28 variants) at an equal training budget.

Claims (notes, "经典卷积神经网络模型的设计理念" in 现代深度学习架构), translated:

* AlexNet: "several convolution and pooling layers extract the image features; ReLU speeds up training;
  dropout reduces over-fitting."
* VGG: "improves performance by increasing the depth ... small convolution kernels and small strides, to
  increase the depth and reduce the number of parameters."
* GoogLeNet: "Inception modules: parallel kernels and pooling capture features at several scales; global
  average pooling reduces the number of parameters."
* ResNet: "residual connections ... make very deep networks easier to train."

Measured for each model of the zoo registered for `nabla train` (``lenet5``, ``alexnet-small``,
``vgg-small``, ``googlenet-small``, ``resnet-small``, default options): parameters and multiply-accumulates
of one 1x28x28 forward pass (``nabla.utils.summary``), training time per step and per epoch (the measured
time per step times the steps of one 60,000-image epoch), and Fashion-MNIST test accuracy after the same
budget: Adam (lr 1e-3), the same batches, the same number of steps.  Full: 80 steps of 32 images from a
12,000-image training subset, 2,000 test images (the budget of a shared 2-core CPU: 2,560 images, about
a twentieth of an epoch, so the accuracies are those of the start of training, not of convergence).  Quick: the same five designs at
reduced width (``width`` option), 3 steps of 16 on MNIST-5k.

Supported when (1) the two networks that end in global average pooling (GoogLeNet, ResNet) have fewer
parameters than the two with large fully connected heads (AlexNet, VGG), and (2) the deepest network,
ResNet-small (18 layers), trains to at least LeNet-5's and AlexNet's accuracy at the same budget.
"""
from __future__ import annotations

import math

import nabla as nb
from .. import nn
from ..models import build_model, get_model_entry
from ..utils import summary
from .base import register_experiment
from .common import evaluate, format_claims, load_images, moving_average, say, tail_mean, train_classifier

CLAIM = ("the classic designs: global average pooling (GoogLeNet, ResNet) cuts the parameters of AlexNet/VGG-style "
         "fully connected heads, and residual connections let the deepest network train at least as well")

MODELS = ["lenet5", "alexnet-small", "vgg-small", "googlenet-small", "resnet-small"]
LABELS = {"lenet5": "LeNet-5", "alexnet-small": "AlexNet-small", "vgg-small": "VGG-small",
          "googlenet-small": "GoogLeNet-small", "resnet-small": "ResNet-small"}
QUICK_OPTIONS = {"lenet5": {}, "alexnet-small": {"width": 8, "hidden": 64}, "vgg-small": {"width": 4, "hidden": 64},
                 "googlenet-small": {"width": 0.0625}, "resnet-small": {"width": 4}}
EPOCH = 60_000


def _measure(name, options, train, test, steps, batch, echo) -> dict:
    nb.manual_seed(0)
    model = build_model(name, (1, 28, 28), 10, **options)
    s = summary(model, (1, 28, 28), print_fn=None)
    fit = train_classifier(model, train, steps, batch_size=batch, seed=0,   # GoogLeNet: aux heads trained too
                           loss_fn=get_model_entry(name).training_loss(nn.CrossEntropyLoss()),
                           echo=echo, label=f"architectures: {LABELS[name]}")
    ev = evaluate(model, test)
    say(echo, "architectures", LABELS[name], len(fit["losses"]), tail_mean(fit["losses"]), fit["time"],
        f", test accuracy {ev['accuracy']:.2%}")
    return {"options": options, "params": s.total_params, "macs": s.total_macs, "time_per_step": fit["time_per_step"],
            "epoch_time": fit["time_per_step"] * math.ceil(EPOCH / batch), "losses": fit["losses"],
            "final_loss": tail_mean(fit["losses"]), **ev}


CHAPTER = "modern-architectures"
NOTES = ("此外，GoogLeNet还使用了全局平均池化层来减少参数数量，并采用了辅助分类器来缓解梯度消失问题。 … ResNet"
         "采用了残差连接的设计，允许网络学习残差映射，从而可以更轻松地训练非常深的网络。",
         "Moreover, GoogLeNet uses a global average pooling layer to reduce the number of parameters, and "
         "auxiliary classifiers to mitigate vanishing gradients. ... ResNet uses residual connections, which let "
         "the network learn residual mappings, so that very deep networks can be trained more easily.")


@register_experiment("architectures", "LeNet, AlexNet, VGG, GoogLeNet, ResNet (small) at equal budget: "
                     "parameters, MACs, time, accuracy")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    if quick:
        steps, batch = 3, 16
        train, test = load_images("mnist-5k", n_test=200, download=download)
        data_name = "MNIST-5k (200 test images)"
    else:
        steps, batch = 80, 32
        train, test = load_images("fashion-mnist", n_train=12_000, n_test=2_000, download=download)
        data_name = "Fashion-MNIST (12,000 training / 2,000 test images)"
    runs = {name: _measure(name, QUICK_OPTIONS[name] if quick else {}, train, test, steps, batch, echo)
            for name in MODELS}
    rows = [{"model": LABELS[n], "params": r["params"], "MACs": r["macs"], "s/step": r["time_per_step"],
             "s/epoch (60k)": r["epoch_time"], "final train loss": r["final_loss"], "test acc": r["accuracy"]}
            for n, r in runs.items()]
    return {"table": rows, "steps": steps, "batch_size": batch, "dataset": data_name, "runs": runs}


def claims(numbers) -> dict:
    p = {n: r["params"] for n, r in numbers["runs"].items()}
    acc = {n: r["accuracy"] for n, r in numbers["runs"].items()}
    return {
        "GoogLeNet and ResNet (global average pooling) have fewer parameters than AlexNet and VGG":
            bool(max(p["googlenet-small"], p["resnet-small"]) < min(p["alexnet-small"], p["vgg-small"])),
        "ResNet-small (18 layers) is at least as accurate as LeNet-5 and AlexNet-small":
            bool(acc["resnet-small"] >= max(acc["lenet5"], acc["alexnet-small"])),
    }


def verdict(numbers):
    runs, found = numbers["runs"], claims(numbers)
    text = (f"{numbers['steps']} Adam steps of {numbers['batch_size']} on {numbers['dataset']}: "
            + "; ".join(f"{LABELS[n]} {r['params']:,} params, {r['macs'] / 1e6:.1f}M MACs, "
                        f"{r['epoch_time']:.0f} s/epoch, {r['accuracy']:.2%}" for n, r in runs.items())
            + ". " + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, (n, r) in enumerate(data["runs"].items()):
        ax1.scatter(r["params"], r["accuracy"], color=f"C{i}", label=LABELS[n])
        ax2.scatter(r["macs"], r["epoch_time"], color=f"C{i}", label=LABELS[n])
        ax3.plot(moving_average(r["losses"], 20), color=f"C{i}", label=LABELS[n])
    ax1.set_xscale("log")
    ax1.set_xlabel("parameters")
    ax1.set_ylabel("test accuracy")
    ax1.legend(fontsize=8)
    ax2.set_xscale("log")
    ax2.set_xlabel("MACs per image")
    ax2.set_ylabel("seconds per 60,000-image epoch")
    ax3.set_xlabel("step")
    ax3.set_ylabel("training loss (moving average)")
    ax3.set_title("equal budget")
