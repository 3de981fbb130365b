"""optimizers: SGD, momentum, AdaGrad, RMSprop and Adam on an MNIST MLP and on the Rosenbrock function.

Claim (notes, 复杂模型的优化), translated: "Advanced optimisation algorithms, such as Adam, RMSprop and
AdaGrad, can handle large-scale and complex models more effectively" (than plain gradient descent,
theta <- theta - alpha grad J(theta)); the notes' own MLP example is "compiled with the Adam optimiser".

Two problems:

(a) an MLP on MNIST (quick: MNIST-5k), every optimizer from the same initial weights, the same
    batches, each at its customary learning rate: final training loss, test accuracy, and the number
    of updates until the smoothed training loss first falls below a threshold;
(b) the 2-D Rosenbrock function f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 (a curved, badly conditioned
    valley; minimum f(1, 1) = 0) from (-1.2, 1), each optimizer at its best learning rate from one
    grid; the trajectories are drawn on the contour plot.

The measurement supports the claim when, on each problem, at least two of the three adaptive
methods (AdaGrad, RMSprop, Adam) end with a lower objective than plain SGD.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import nn, optim
from ..data import DataLoader
from ..data.datasets import MNIST, MNIST5k
from ..models import MLP
from ..train.metrics import accuracy
from .base import Result, register_experiment

CLAIM = ("advanced optimisers such as Adam, RMSprop and AdaGrad handle large and complex models more "
         "effectively than plain gradient descent")

# name -> (optimizer class, options); the MLP's learning rates are the customary ones for each method
OPTIMIZERS = {
    "SGD": (optim.SGD, {"lr": 0.1}),
    "momentum": (optim.SGD, {"lr": 0.01, "momentum": 0.9}),
    "AdaGrad": (optim.Adagrad, {"lr": 0.01}),
    "RMSprop": (optim.RMSprop, {"lr": 1e-3}),
    "Adam": (optim.Adam, {"lr": 1e-3}),
}
ADAPTIVE = ("AdaGrad", "RMSprop", "Adam")
START = (-1.2, 1.0)


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _mlp_runs(quick: bool):
    if quick:
        train, test = MNIST5k(train=True), MNIST5k(train=False)
        epochs, width, batch_size, threshold = 1, 64, 32, 0.5
    else:
        train, test = MNIST(train=True), MNIST(train=False)
        epochs, width, batch_size, threshold = 2, 256, 128, 0.2
    x_test, y_test = (nb.tensor(a) for a in test.get_batch(np.arange(len(test))))
    loss_fn = nn.CrossEntropyLoss()
    out = {}
    for name, (cls, options) in OPTIMIZERS.items():
        nb.manual_seed(0)                                    # same weights, same batches for everyone
        model = MLP(784, 10, depth=2, width=width)
        opt = cls(model.parameters(), **options)
        loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=0)
        losses, ema, hit = [], None, None
        t0 = time.perf_counter()
        for _ in range(epochs):
            for x, y in loader:
                opt.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                ema = losses[-1] if ema is None else 0.95 * ema + 0.05 * losses[-1]
                if hit is None and ema < threshold:
                    hit = len(losses)
        seconds = time.perf_counter() - t0
        model.eval()
        with nb.no_grad():
            logits = model(x_test)
            test_loss = loss_fn(logits, y_test).item()
        out[name] = {"losses": np.array(losses), "updates_to_threshold": hit, "time_s": seconds,
                     "final_train_loss": float(np.mean(losses[-len(loader) // 4:])),   # last quarter epoch
                     "test_loss": float(test_loss), "test_accuracy": accuracy(logits, y_test)}
    return out, {"train_samples": len(train), "test_samples": len(test), "epochs": epochs, "width": width,
                 "batch_size": batch_size, "threshold": threshold, "dataset": type(train).__name__}


def _rosenbrock_run(cls, options, steps):
    p = nb.tensor(np.array(START, dtype=np.float64), requires_grad=True)
    opt = cls([p], **options)
    path, values = [p.data.copy()], []
    for _ in range(steps):
        opt.zero_grad()
        f = rosenbrock(p[0], p[1])
        f.backward()
        opt.step()
        values.append(f.item())
        path.append(p.data.copy())
        if not np.all(np.abs(p.data) < 1e3):             # diverged: stop before it overflows
            return np.array(path), np.array(values), np.inf
    return np.array(path), np.array(values), float(rosenbrock(*p.data))


def _rosenbrock_runs(quick: bool):
    steps = 500 if quick else 5000
    lrs = (1e-3, 1e-2, 1e-1) if quick else (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)
    out = {}
    for name, (cls, options) in OPTIMIZERS.items():
        grid = {lr: _rosenbrock_run(cls, {**options, "lr": lr}, steps) for lr in lrs}
        best = min(lrs, key=lambda lr: grid[lr][2])
        path, values, final = grid[best]
        close = np.flatnonzero(np.linalg.norm(path - 1.0, axis=1) < 1e-2)
        out[name] = {"lr": best, "path": path, "values": values, "final_f": final,
                     "final_point": path[-1], "grid": {lr: g[2] for lr, g in grid.items()},
                     "steps_to_1e-2_of_min": int(close[0]) if close.size else None}
    return out, {"steps": steps, "lr_grid": lrs, "start": START}


@register_experiment("optimizers", "SGD, momentum, AdaGrad, RMSprop, Adam on an MNIST MLP and on Rosenbrock")
def run(quick: bool = False) -> Result:
    mlp, mlp_cfg = _mlp_runs(quick)
    ros, ros_cfg = _rosenbrock_runs(quick)
    rows = []
    for name in OPTIMIZERS:
        m, r = mlp[name], ros[name]
        rows.append({"optimizer": name, "MLP lr": OPTIMIZERS[name][1]["lr"],
                     "MLP train loss": m["final_train_loss"], "MLP test acc": m["test_accuracy"],
                     f"updates to loss<{mlp_cfg['threshold']}": m["updates_to_threshold"] or "-",
                     "MLP time (s)": m["time_s"], "Rosenbrock lr": r["lr"], "final f": r["final_f"],
                     "end point": f"({r['final_point'][0]:.3f}, {r['final_point'][1]:.3f})",
                     "steps to |p-(1,1)|<0.01": r["steps_to_1e-2_of_min"] or "-"})
    mlp_wins = [a for a in ADAPTIVE if mlp[a]["final_train_loss"] < mlp["SGD"]["final_train_loss"]]
    ros_wins = [a for a in ADAPTIVE if ros[a]["final_f"] < ros["SGD"]["final_f"]]
    supported = len(mlp_wins) >= 2 and len(ros_wins) >= 2
    best_mlp = min(OPTIMIZERS, key=lambda k: mlp[k]["final_train_loss"])
    best_ros = min(OPTIMIZERS, key=lambda k: ros[k]["final_f"])
    verdict = (f"MLP on {mlp_cfg['dataset']} ({mlp_cfg['epochs']} epoch(s)): {len(mlp_wins)} of 3 adaptive methods "
               f"({', '.join(mlp_wins) or 'none'}) end with a lower training loss than SGD "
               f"({mlp['SGD']['final_train_loss']:.3f}); best {best_mlp} ({mlp[best_mlp]['final_train_loss']:.3f}, "
               f"test accuracy {mlp[best_mlp]['test_accuracy']:.2%}). Rosenbrock ({ros_cfg['steps']} steps, best "
               f"lr each): {len(ros_wins)} of 3 ({', '.join(ros_wins) or 'none'}) end lower than SGD "
               f"(f = {ros['SGD']['final_f']:.2e}); best {best_ros} (f = {ros[best_ros]['final_f']:.2e})")

    def plot(fig):
        ax1, ax2, ax3 = fig.subplots(1, 3)
        for i, name in enumerate(OPTIMIZERS):
            l = mlp[name]["losses"]
            k = max(1, len(l) // 50)
            smooth = np.convolve(l, np.ones(k) / k, mode="valid")
            ax1.plot(np.arange(len(smooth)) + k, smooth, color=f"C{i}", label=name)
            ax3.semilogy(np.maximum(ros[name]["values"], 1e-16), color=f"C{i}",
                         label=f"{name} (lr {ros[name]['lr']:g})")
        ax1.set_yscale("log")
        ax1.set_xlabel("update")
        ax1.set_ylabel("training loss (moving average)")
        ax1.set_title(f"MLP on {mlp_cfg['dataset']}")
        ax1.legend(fontsize=8)
        xs, ys = np.linspace(-2, 2, 300), np.linspace(-1, 3, 300)
        X, Y = np.meshgrid(xs, ys)
        ax2.contour(X, Y, np.log10(rosenbrock(X, Y) + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
        for i, name in enumerate(OPTIMIZERS):
            p = ros[name]["path"]
            ax2.plot(p[:, 0], p[:, 1], color=f"C{i}", lw=1, label=name)
        ax2.plot(*START, "ko", ms=4)
        ax2.plot(1, 1, "r*", ms=12, label="minimum (1, 1)")
        ax2.set_xlim(-2, 2)
        ax2.set_ylim(-1, 3)
        ax2.set_title("Rosenbrock: trajectories")
        ax2.legend(fontsize=7, loc="lower left")
        ax3.set_xlabel("step")
        ax3.set_ylabel("f(x, y)")
        ax3.set_title("Rosenbrock: objective")
        ax3.legend(fontsize=7)

    data = {"mlp_config": mlp_cfg, "rosenbrock_config": ros_cfg,
            "mlp": {k: {kk: vv for kk, vv in v.items()} for k, v in mlp.items()},
            "rosenbrock": {k: {kk: vv for kk, vv in v.items()} for k, v in ros.items()}}
    return Result(claim=CLAIM, supported=bool(supported), verdict=verdict, table=rows, data=data, plot=plot)
