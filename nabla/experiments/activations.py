"""activations: sigmoid, tanh, ReLU, Leaky ReLU and ELU in a deep MLP.

Claims (notes, 激活函数 in 卷积神经网络基础), translated:

* Sigmoid: "its output saturates at both ends, causing the vanishing-gradient problem, especially in
  deep networks."
* Tanh: "compared with Sigmoid, its output is closer to zero mean, so it converges faster", but it
  "still has the vanishing-gradient problem."
* ReLU: "solves the vanishing-gradient problem and in practice usually speeds up convergence", but
  "outputs zero in the negative region, which may cause neurons to die (never be activated again)."
* Leaky ReLU: "solves ReLU's dying-neuron problem, because in the negative region it has a small
  slope instead of being exactly zero."
* ELU: "has a non-zero slope in the negative region, avoiding both the dying-neuron and the
  vanishing-gradient problems."

Measured on a 10-hidden-layer MLP (``nabla.models.MLP``) on MNIST.  All five networks start from the
same weights, He-initialised (``nn.init.kaiming_normal_``, the variance-preserving initialisation for
ReLU; zero biases), so that only the activation differs.  (With the layers' default initialisation,
weights of variance 1/(3 fan_in), the gradient shrinks with depth for every activation; those ratios
are reported too.)

1. at initialisation, the norm of the loss gradient with respect to each layer's weights; the
   gradient *vanishes* when the first layer's is less than a tenth of the output layer's;
2. the fraction of dead hidden units: units whose activation has zero derivative on every image of
   a batch (so no gradient reaches their weights), at initialisation and after training;
3. short training curves, the same optimizer (SGD with momentum) for all.

Each claim above is checked separately (``data["claims"]``); the experiment supports the notes when
all of them hold.
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import nn, optim
from ..autograd import grad
from ..models import MLP
from ..models.mlp import ACTIVATIONS
from .base import register_experiment
from .common import format_claims, load_dataset, moving_average, say, tail_mean, train_classifier

CLAIM = ("sigmoid (and, less, tanh) gradients vanish in deep networks while ReLU's do not; tanh converges faster "
         "than sigmoid and ReLU faster still; ReLU units can die, Leaky ReLU and ELU units cannot")

NAMES = {"sigmoid": "sigmoid", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "Leaky ReLU", "elu": "ELU"}
DEPTH = 10
VANISHED = 0.1     # first-layer gradient below a tenth of the output layer's


def gradient_norms(model, x, y):
    """||dL/dW|| of every Linear layer, input side first."""
    model.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    return np.array([float(np.linalg.norm(m.weight.grad.data)) for m in model.modules() if isinstance(m, nn.Linear)])


def dead_fraction(model, x):
    """Per hidden layer, the fraction of units whose activation derivative is 0 on every sample of x."""
    act_types = tuple(ACTIVATIONS.values())
    fractions = []
    with nb.no_grad():
        h = x
        for layer in model.layers:
            if isinstance(layer, act_types):
                z = h.detach().requires_grad_()
                with nb.enable_grad():
                    (dphi,) = grad(layer(z).sum(), [z])        # phi'(z), elementwise
                fractions.append(float((np.abs(dphi.data).max(axis=0) == 0).mean()))
            h = layer(h)
    return np.array(fractions)


def he_init(model):
    """The same He-normal weights and zero biases for every activation (same seed, same shapes)."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def _measure(act, train, width, epochs, x_probe, y_probe, echo) -> dict:
    """Gradient norms at the default and at He initialisation, dead units before and after training."""
    nb.manual_seed(0)
    default = MLP(784, 10, depth=DEPTH, width=width, activation=act)
    norms_default = gradient_norms(default, x_probe[:256], y_probe[:256])
    nb.manual_seed(0)
    model = he_init(MLP(784, 10, depth=DEPTH, width=width, activation=act))
    norms = gradient_norms(model, x_probe[:256], y_probe[:256])
    dead_init = dead_fraction(model, x_probe)
    fit = train_classifier(model, train, epochs=epochs, batch_size=64, seed=0, drop_last=False,
                           optimizer=optim.SGD(model.parameters(), lr=0.01, momentum=0.9),
                           echo=echo, label=f"activations: {NAMES[act]}")
    losses = fit["losses"]
    say(echo, "activations", NAMES[act], len(losses), tail_mean(losses), fit["time"])
    return {"grad_norms": norms, "ratio": float(norms[0] / norms[-1]), "dead_init": dead_init,
            "grad_norms_default_init": norms_default, "ratio_default_init": float(norms_default[0] / norms_default[-1]),
            "dead_trained": dead_fraction(model, x_probe), "losses": losses,
            "final_loss": float(losses[-max(1, len(losses) // 10):].mean())}


CHAPTER = "cnn-basics"
NOTES = ("Sigmoid 函数的输出在两端饱和，导致梯度消失问题，尤其是在深层网络中。 … 相比 Sigmoid 函数，Tanh 函数"
         "的输出更接近零均值，因此收敛更快。 … 解决了梯度消失问题，在实践中通常能够加速收敛。 … ReLU 函数在负"
         "数区域输出为零，这可能导致神经元死亡（永远不会被激活） … 解决了 ReLU 函数的神经元死亡问题，因为在负"
         "数区域有一个小的斜率，不再是完全零。 … 在负数区域有一个非零斜率，避免了神经元死亡问题和梯度消失问题"
         "。",
         "The sigmoid's output saturates at both ends, causing the vanishing-gradient problem, especially in deep "
         "networks. ... Compared with the sigmoid, tanh's output is closer to zero mean, so it converges faster. "
         "... (ReLU) solves the vanishing-gradient problem and in practice usually speeds up convergence. ... "
         "ReLU outputs zero in the negative region, which may cause neurons to die (never be activated again). "
         "... (Leaky ReLU) solves ReLU's dying-neuron problem, because in the negative region it has a small "
         "slope instead of exactly zero. ... (ELU) has a non-zero slope in the negative region, avoiding both the "
         "dying-neuron and the vanishing-gradient problems.")


@register_experiment("activations", "sigmoid/tanh/ReLU/Leaky ReLU/ELU: vanishing gradients, dead units, training")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    name, width, epochs = ("mnist-5k", 64, 1) if quick else ("mnist", 128, 1)
    train = load_dataset(name, train=True, download=download)
    probe = np.random.default_rng(0).permutation(len(train))[:1000]
    x_probe, y_probe = (nb.from_numpy(a) for a in train.get_batch(probe))
    out = {act: _measure(act, train, width, epochs, x_probe, y_probe, echo) for act in NAMES}
    rows = [{"activation": NAMES[a], "|dW_1| / |dW_out|": r["ratio"], "|dW_1|": float(r["grad_norms"][0]),
             "|dW_out|": float(r["grad_norms"][-1]), "dead units (init)": float(r["dead_init"].mean()),
             "dead units (trained)": float(r["dead_trained"].mean()),
             "max dead in a layer": float(r["dead_trained"].max()), "final train loss": r["final_loss"],
             "ratio, default init": r["ratio_default_init"]}
            for a, r in out.items()]
    return {"table": rows, "depth": DEPTH, "width": width, "epochs": epochs, "dataset": type(train).__name__,
            "runs": out}


def claims(numbers) -> dict:
    out = numbers["runs"]
    vanish = {a: out[a]["ratio"] < VANISHED for a in NAMES}
    dead_max = {a: float(np.max(out[a]["dead_trained"])) for a in NAMES}
    found = {
        "sigmoid gradients vanish": vanish["sigmoid"],
        "tanh gradients still vanish": vanish["tanh"],
        "ReLU and ELU gradients do not vanish": not vanish["relu"] and not vanish["elu"],
        "tanh converges faster than sigmoid": out["tanh"]["final_loss"] < out["sigmoid"]["final_loss"],
        "ReLU converges faster than sigmoid and tanh":
            out["relu"]["final_loss"] < min(out["sigmoid"]["final_loss"], out["tanh"]["final_loss"]),
        "ReLU units can die": dead_max["relu"] > 0,
        "Leaky ReLU and ELU units do not die": dead_max["leaky_relu"] == 0 and dead_max["elu"] == 0,
    }
    return {k: bool(v) for k, v in found.items()}


def verdict(numbers):
    out, found = numbers["runs"], claims(numbers)
    dead = {a: np.asarray(out[a]["dead_trained"]) for a in NAMES}
    text = (f"{DEPTH}-layer MLP at He initialisation, first/output layer gradient norm: "
            + ", ".join(f"{NAMES[a]} {out[a]['ratio']:.2g}" for a in NAMES)
            + f"; dead units after training: ReLU {dead['relu'].mean():.1%} (up to {dead['relu'].max():.0%} in one "
            f"layer), Leaky ReLU {dead['leaky_relu'].mean():.1%}, ELU {dead['elu'].mean():.1%}; training loss after "
            f"{numbers['epochs']} epoch(s): " + ", ".join(f"{NAMES[a]} {out[a]['final_loss']:.3f}" for a in NAMES)
            + ". " + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, a in enumerate(NAMES):
        r = data["runs"][a]
        ax1.semilogy(np.arange(1, len(r["grad_norms"]) + 1), r["grad_norms"], "o-", ms=3, color=f"C{i}",
                     label=NAMES[a])
        ax2.plot(np.arange(1, DEPTH + 1), r["dead_trained"], "o-", ms=3, color=f"C{i}", label=NAMES[a])
        ax3.plot(moving_average(r["losses"], 40), color=f"C{i}", label=NAMES[a])
    ax1.set_xlabel("layer (1 = input side)")
    ax1.set_ylabel("||dL/dW|| at (He) initialisation")
    ax1.set_title("gradient norm per layer")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("hidden layer")
    ax2.set_ylabel("fraction of dead units")
    ax2.set_title("dead units after training")
    ax3.set_xlabel("update")
    ax3.set_ylabel("training loss (moving average)")
    ax3.set_title("training curves (SGD, momentum 0.9)")
