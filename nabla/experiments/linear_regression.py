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
from .base import Result, register_experiment


def hand_gradient(w, b, x, y):
    """The notes' formulas."""
    r = y - (w * x + b)
    return -2.0 / len(x) * np.sum(x * r), -2.0 / len(x) * np.sum(r)


def mse(w, b, x, y):
    return ((y - (w * x + b)) ** 2).mean()


@register_experiment("linear-regression", "gradient descent with the notes' gradients recovers w and b")
def run(quick: bool = False) -> Result:
    rng = np.random.default_rng(0)
    n = 200 if quick else 1000
    true_w, true_b = 2.5, -1.0
    x = rng.uniform(-2, 2, n)
    y = true_w * x + true_b + rng.normal(0, 0.3, n)

    # gradient descent with the hand-derived gradients
    w, b, alpha, steps = 0.0, 0.0, 0.1, 300 if quick else 1000
    losses = []
    for _ in range(steps):
        gw, gb = hand_gradient(w, b, x, y)
        w, b = w - alpha * gw, b - alpha * gb
        losses.append(float(np.mean((y - (w * x + b)) ** 2)))

    # closed form: minimise ||A [w, b]^T - y||^2
    A = np.stack([x, np.ones_like(x)], axis=1)
    (ls_w, ls_b), *_ = np.linalg.lstsq(A, y, rcond=None)

    # the gradient three ways at one point, in float64
    w0, b0 = 0.7, 0.3
    xt, yt = nb.tensor(x, dtype=np.float64), nb.tensor(y, dtype=np.float64)
    t0 = time.perf_counter()
    g_hand = np.array(hand_gradient(w0, b0, x, y))
    t_hand = time.perf_counter() - t0
    wt = nb.tensor(w0, dtype=np.float64, requires_grad=True)
    bt = nb.tensor(b0, dtype=np.float64, requires_grad=True)
    t0 = time.perf_counter()
    loss = mse(wt, bt, xt, yt)
    loss.backward()
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
    agree = abs(w - ls_w) < 1e-3 and abs(b - ls_b) < 1e-3
    grads_ok = rows[0]["max error vs autodiff"] < 1e-9 and rows[2]["max error vs autodiff"] < 1e-6
    verdict = (f"gradient descent reached w={w:.4f}, b={b:.4f}; least squares gives w={ls_w:.4f}, b={ls_b:.4f} "
               f"(true {true_w}, {true_b}); hand-derived and autodiff gradients agree to "
               f"{rows[0]['max error vs autodiff']:.1e}, central differences to {rows[2]['max error vs autodiff']:.1e}")

    def plot(fig):
        ax1, ax2 = fig.subplots(1, 2)
        ax1.scatter(x, y, s=4, alpha=0.4, label="data")
        xs = np.linspace(-2, 2, 50)
        ax1.plot(xs, w * xs + b, "r", label=f"GD: {w:.2f}x{b:+.2f}")
        ax1.plot(xs, ls_w * xs + ls_b, "k--", label="least squares")
        ax1.legend()
        ax1.set_title("fit")
        ax2.semilogy(losses)
        ax2.set_xlabel("step")
        ax2.set_ylabel("MSE")
        ax2.set_title("objective during gradient descent")

    return Result(claim="gradient descent on the MSE with the hand-derived gradients finds the minimising w, b",
                  supported=bool(agree and grads_ok), verdict=verdict, table=rows,
                  data={"w": w, "b": b, "least_squares": [ls_w, ls_b], "true": [true_w, true_b],
                        "losses": losses}, plot=plot)
