"""linear-regression: the notes' worked example of minimising an objective by gradient descent.

Claim (notes, 优化例子): for y_hat = w x + b with MSE = 1/n sum (y_i - (w x_i + b))^2, gradient descent
with dMSE/dw = -2/n sum x_i (y_i - (w x_i + b)) and dMSE/db = -2/n sum (y_i - (w x_i + b)),
w <- w - alpha dMSE/dw, b <- b - alpha dMSE/db, finds the w and b that minimise the MSE.
We check it against the closed-form least-squares answer, and compute the same gradient three
ways: the hand-derived formulas, finite differences, and reverse-mode autodiff.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from ..autograd import numerical_grad
from .base import register_experiment

CLAIM = "gradient descent on the MSE with the hand-derived gradients finds the minimising w, b"


def hand_gradient(w, b, x, y):
    """The notes' formulas."""
    r = y - (w * x + b)
    return -2.0 / len(x) * np.sum(x * r), -2.0 / len(x) * np.sum(r)


def mse(w, b, x, y):
    return ((y - (w * x + b)) ** 2).mean()


def gradient_descent(x, y, alpha: float, steps: int):
    """The notes' loop, by hand: w <- w - alpha dMSE/dw, b <- b - alpha dMSE/db (the loop is the lesson)."""
    w, b, losses = 0.0, 0.0, []
    for _ in range(steps):
        gw, gb = hand_gradient(w, b, x, y)
        w, b = w - alpha * gw, b - alpha * gb
        losses.append(float(np.mean((y - (w * x + b)) ** 2)))
    return w, b, losses


def gradient_three_ways(x, y, w0: float = 0.7, b0: float = 0.3) -> list:
    """The gradient at (w0, b0), in float64: the hand-derived formulas, finite differences, reverse-mode autodiff."""
    xt, yt = nb.tensor(x, dtype=np.float64), nb.tensor(y, dtype=np.float64)
    t0 = time.perf_counter()
    g_hand = np.array(hand_gradient(w0, b0, x, y))
    t_hand = time.perf_counter() - t0
    wt = nb.tensor(w0, dtype=np.float64, requires_grad=True)
    bt = nb.tensor(b0, dtype=np.float64, requires_grad=True)
    t0 = time.perf_counter()
    mse(wt, bt, xt, yt).backward()
    g_auto = np.array([wt.grad.item(), bt.grad.item()])
    t_auto = time.perf_counter() - t0
    rows = [{"method": "hand-derived (notes)", "dMSE/dw": g_hand[0], "dMSE/db": g_hand[1],
             "max error vs autodiff": float(np.abs(g_hand - g_auto).max()), "time (us)": t_hand * 1e6}]
    for method, eps in (("forward difference", 1e-6), ("central difference", 1e-6)):
        t0 = time.perf_counter()
        g = numerical_grad(lambda a, c: mse(a, c, xt, yt), (wt.detach(), bt.detach()), eps=eps,
                           method=method.split()[0])
        t_num = time.perf_counter() - t0
        g = np.array([float(g[0]), float(g[1])])
        rows.append({"method": method, "dMSE/dw": g[0], "dMSE/db": g[1],
                     "max error vs autodiff": float(np.abs(g - g_auto).max()), "time (us)": t_num * 1e6})
    rows.append({"method": "autodiff (reverse mode)", "dMSE/dw": g_auto[0], "dMSE/db": g_auto[1],
                 "max error vs autodiff": 0.0, "time (us)": t_auto * 1e6})
    return rows


CHAPTER = "loss-optimization"
NOTES = ("我们以一个简单的线性回归模型为例，展示如何通过最小化均方误差（MSE）来找到模型参数。 … 我们可以通过梯"
         "度下降法来找到使 MSE 最小的参数 \\( w \\) 和 \\( b \\)。",
         "We take a simple linear regression model as the example and show how the model's parameters are found "
         "by minimising the mean squared error (MSE). ... We can find the parameters w and b that minimise the "
         "MSE by gradient descent.")


@register_experiment("linear-regression", "gradient descent with the notes' gradients recovers w and b")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    rng = np.random.default_rng(0)
    n = 200 if quick else 1000
    true_w, true_b = 2.5, -1.0
    x = rng.uniform(-2, 2, n)
    y = true_w * x + true_b + rng.normal(0, 0.3, n)
    steps = 300 if quick else 1000
    w, b, losses = gradient_descent(x, y, 0.1, steps)
    if echo is not None:
        echo(f"linear-regression: gradient descent {steps} steps, MSE {losses[-1]:.4g}")
    A = np.stack([x, np.ones_like(x)], axis=1)            # closed form: minimise ||A [w, b]^T - y||^2
    (ls_w, ls_b), *_ = np.linalg.lstsq(A, y, rcond=None)
    return {"table": gradient_three_ways(x, y), "w": w, "b": b, "least_squares": [float(ls_w), float(ls_b)],
            "true": [true_w, true_b], "losses": losses, "x": x, "y": y}


def verdict(numbers):
    w, b, (ls_w, ls_b), rows = numbers["w"], numbers["b"], numbers["least_squares"], numbers["table"]
    true_w, true_b = numbers["true"]
    agree = abs(w - ls_w) < 1e-3 and abs(b - ls_b) < 1e-3
    grads_ok = rows[0]["max error vs autodiff"] < 1e-9 and rows[2]["max error vs autodiff"] < 1e-6
    text = (f"gradient descent reached w={w:.4f}, b={b:.4f}; least squares gives w={ls_w:.4f}, b={ls_b:.4f} "
            f"(true {true_w}, {true_b}); hand-derived and autodiff gradients agree to "
            f"{rows[0]['max error vs autodiff']:.1e}, central differences to {rows[2]['max error vs autodiff']:.1e}")
    return bool(agree and grads_ok), text


def plot(fig, data):
    w, b, (ls_w, ls_b) = data["w"], data["b"], data["least_squares"]
    ax1, ax2 = fig.subplots(1, 2)
    ax1.scatter(data["x"], data["y"], s=4, alpha=0.4, label="data")
    xs = np.linspace(-2, 2, 50)
    ax1.plot(xs, w * xs + b, "r", label=f"GD: {w:.2f}x{b:+.2f}")
    ax1.plot(xs, ls_w * xs + ls_b, "k--", label="least squares")
    ax1.legend()
    ax1.set_title("fit")
    ax2.semilogy(data["losses"])
    ax2.set_xlabel("step")
    ax2.set_ylabel("MSE")
    ax2.set_title("objective during gradient descent")
