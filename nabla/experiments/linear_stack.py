"""linear-stack: a stack of linear layers without activations is still one linear (affine) map.

Claim (notes, chapter 2, 激活函数), translated: without a non-linear activation, however many layers a
network has, its output is a linear function of its input, so it is no more expressive than a single
linear layer; the activation is what lets a network fit a non-linear function.

Measured on a non-linear regression task, y = sin(2x) + 0.1 N(0, 1), x ~ U(-3, 3) (seeded: 256 training
and 256 test points).  Three models train with nabla autograd and Adam on the full batch, at one
learning rate for the same number of steps: (a) a deep MLP 1-32-32-32-1 with identity activations,
(b) one Linear layer (linear regression), (c) the same deep MLP with ReLU.  The closed-form
least-squares line (``np.linalg.lstsq``) is the best any affine map can do on the training points.
Then (a)'s layers are folded into one matrix and one bias, A = W4 W3 W2 W1, c = W4(W3(W2 b1 + b2) + b3) + b4,
and A x + c is compared with (a)'s predictions.  Supported when (a)'s test MSE is no better than (b)'s
(within 2% relative), (c)'s is lower than both, and the folded map reproduces (a) to 1e-4 (relative).
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import nn, optim
from .base import register_experiment
from .common import format_claims, say

CLAIM = ("a stack of linear layers without activations is still linear: it fits a non-linear task no better than "
         "linear regression, and its weights multiply out to one matrix")
TOLERANCE = 0.02           # relative: "no better than linear regression"
WIDTH, DEPTH = 32, 4


def make_data(n: int = 256, seed: int = 0):
    """(x, y) of the non-linear task, float64 (n, 1) each."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 1))
    return x, np.sin(2 * x) + 0.1 * rng.normal(size=(n, 1))


def deep_mlp(activation=None):
    """1-32-32-32-1: DEPTH Linear layers, with ``activation`` (a Module class) between them or none at all."""
    sizes, layers = [1] + [WIDTH] * (DEPTH - 1) + [1], []
    for i in range(DEPTH):
        layers.append(nn.Linear(sizes[i], sizes[i + 1], dtype=np.float64))
        if activation is not None and i < DEPTH - 1:
            layers.append(activation())
    return nn.Sequential(*layers)


def collapse(model):
    """(A, c) with model(x) = x A^T + c, folding each Linear layer's W, b: A <- W A, c <- W c + b."""
    linears = [m for m in model.children() if isinstance(m, nn.Linear)]
    A, c = np.eye(linears[0].in_features), np.zeros(linears[0].in_features)
    for layer in linears:
        W, b = layer.weight.data, layer.bias.data
        A, c = W @ A, W @ c + b
    return A, c


def fit(model, x, y, steps, lr):
    """Full-batch Adam on the MSE; returns the loss per step."""
    opt, xt, yt, losses = optim.Adam(model.parameters(), lr=lr), nb.tensor(x), nb.tensor(y), []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((model(xt) - yt) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return np.array(losses)


def predict(model, x):
    with nb.no_grad():
        return model(nb.tensor(x)).data


CHAPTER = "neural-networks"
NOTES = ("保留激活函数的作用是为了引入非线性，从而使网络能够学习非线性关系。 … 这是因为如果不使用激活函数，多"
         "个线性层的组合仍然只能表示线性变换，无法捕捉到数据中的复杂模式和特征。",
         "The activation function is kept in order to introduce non-linearity, so that the network can learn "
         "non-linear relations. ... This is because without activation functions a composition of several linear "
         "layers can still only represent a linear transformation, and cannot capture the complex patterns and "
         "features in the data.")


@register_experiment("linear-stack", "a deep MLP without activations fits no better than linear regression")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    (x, y), (xt, yt) = make_data(256, 0), make_data(256, 1)
    steps, lr = (300 if quick else 3000), 1e-2
    nb.manual_seed(0)
    models = {"deep linear (4 layers, identity)": deep_mlp(),
              "linear regression (1 layer)": nn.Linear(1, 1, dtype=np.float64),
              "deep ReLU (4 layers)": deep_mlp(nn.ReLU)}
    rows, curves, fits = [], {}, {}
    grid = np.linspace(-3, 3, 200)[:, None]
    for name, model in models.items():
        start = time.perf_counter()
        curves[name] = fit(model, x, y, steps, lr)
        say(echo, "linear-stack", name, steps, curves[name][-1], time.perf_counter() - start)
        fits[name] = predict(model, grid)[:, 0]
        rows.append({"model": name, "parameters": sum(p.data.size for p in model.parameters()), "steps": steps,
                     "train MSE": float(np.mean((predict(model, x) - y) ** 2)),
                     "test MSE": float(np.mean((predict(model, xt) - yt) ** 2))})
    X1 = np.hstack([x, np.ones_like(x)])
    w_ls = np.linalg.lstsq(X1, y[:, 0], rcond=None)[0]
    rows.append({"model": "least squares (closed form)", "parameters": 2, "steps": 0,
                 "train MSE": float(np.mean((X1 @ w_ls - y[:, 0]) ** 2)),
                 "test MSE": float(np.mean((w_ls[0] * xt[:, 0] + w_ls[1] - yt[:, 0]) ** 2))})
    A, c = collapse(models["deep linear (4 layers, identity)"])
    deep = predict(models["deep linear (4 layers, identity)"], xt)
    folded = xt @ A.T + c
    return {"table": rows, "steps": steps, "lr": lr, "collapsed": {"A": A, "c": c}, "least_squares": w_ls,
            "collapse_error": float(np.abs(deep - folded).max() / np.abs(deep).max()),
            "grid": grid[:, 0], "fits": fits, "curves": curves, "train": {"x": x[:, 0], "y": y[:, 0]}}


def claims(numbers):
    rows = {r["model"]: r["test MSE"] for r in numbers["table"]}
    deep, linear, relu = (rows["deep linear (4 layers, identity)"], rows["linear regression (1 layer)"],
                          rows["deep ReLU (4 layers)"])
    return {"the deep identity MLP is no better than linear regression (2%)": deep >= linear * (1 - TOLERANCE),
            "the deep ReLU MLP beats both": relu < min(deep, linear),
            "its weights fold into one affine map (predictions to 1e-4)": numbers["collapse_error"] < 1e-4}


def verdict(numbers):
    rows, found = {r["model"]: r["test MSE"] for r in numbers["table"]}, claims(numbers)
    A, c = np.asarray(numbers["collapsed"]["A"]), np.asarray(numbers["collapsed"]["c"])
    w = numbers["least_squares"]
    text = (f"test MSE on y = sin(2x) + noise after {numbers['steps']} Adam steps: deep identity MLP "
            f"{rows['deep linear (4 layers, identity)']:.4f}, linear regression "
            f"{rows['linear regression (1 layer)']:.4f}, "
            f"the least-squares line {rows['least squares (closed form)']:.4f}, deep ReLU MLP "
            f"{rows['deep ReLU (4 layers)']:.4f}; the deep identity MLP's four layers fold into "
            f"y = {A.ravel()[0]:.4f} x "
            f"{c.ravel()[0]:+.4f} (least squares: {w[0]:.4f} x {w[1]:+.4f}), which reproduces its predictions to "
            f"{numbers['collapse_error']:.1e} (relative). " + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2 = fig.subplots(1, 2)
    ax1.scatter(data["train"]["x"], data["train"]["y"], s=6, color="0.6", label="training data")
    for i, (name, f) in enumerate(data["fits"].items()):
        ax1.plot(data["grid"], f, color=f"C{i}", lw=2 if i == 0 else 1.2, label=name)
    A, c = np.asarray(data["collapsed"]["A"]).ravel()[0], np.asarray(data["collapsed"]["c"]).ravel()[0]
    ax1.plot(data["grid"], A * np.asarray(data["grid"]) + c, "k:", lw=1.2, label="folded W4 W3 W2 W1 x + c")
    ax1.set_title("fits of y = sin(2x) + noise")
    ax1.legend(fontsize=7)
    for i, (name, loss) in enumerate(data["curves"].items()):
        ax2.plot(np.arange(1, len(loss) + 1), loss, color=f"C{i}", label=name)
    ax2.set_yscale("log")
    ax2.set_xlabel("Adam steps (full batch)")
    ax2.set_ylabel("training MSE")
    ax2.set_title("same budget, same learning rate")
    ax2.legend(fontsize=7)
