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

import numpy as np

import nabla as nb
from .. import optim
from ..data import DataLoader
from ..models import MLP
from .base import register_experiment
from .common import evaluate, load_dataset, moving_average, say, train_classifier

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


# ------------------------------------------------------------------ (a) the MLP, through the Trainer
def updates_to_threshold(losses, threshold: float):
    """The first update after which the smoothed training loss (EMA 0.95) is below ``threshold``, or None."""
    ema = None
    for i, value in enumerate(losses):
        ema = value if ema is None else 0.95 * ema + 0.05 * value
        if ema < threshold:
            return i + 1
    return None


def _mlp_run(name, train, test, epochs, width, batch_size, threshold, echo) -> dict:
    cls, options = OPTIMIZERS[name]
    nb.manual_seed(0)                                    # same weights, same batches for everyone
    model = MLP(784, 10, depth=2, width=width)
    fit = train_classifier(model, train, epochs=epochs, batch_size=batch_size, seed=0, drop_last=False,
                           optimizer=cls(model.parameters(), **options), echo=echo, label=f"optimizers: MLP {name}")
    losses = fit["losses"]
    per_epoch = len(DataLoader(train, batch_size=batch_size))
    ev = evaluate(model, test, batch_size=len(test))
    out = {"losses": losses, "updates_to_threshold": updates_to_threshold(losses, threshold), "time_s": fit["time"],
           "final_train_loss": float(np.mean(losses[-per_epoch // 4:])),   # last quarter epoch
           "test_loss": ev["loss"], "test_accuracy": ev["accuracy"]}
    say(echo, "optimizers", f"MLP {name}", len(losses), out["final_train_loss"], fit["time"],
        f", test accuracy {ev['accuracy']:.2%}")
    return out


def _mlp_runs(quick: bool, download: bool, echo):
    name = "mnist-5k" if quick else "mnist"
    train, test = load_dataset(name, True, download), load_dataset(name, False, download)
    epochs, width, batch_size, threshold = (1, 64, 32, 0.5) if quick else (2, 256, 128, 0.2)
    out = {k: _mlp_run(k, train, test, epochs, width, batch_size, threshold, echo) for k in OPTIMIZERS}
    return out, {"train_samples": len(train), "test_samples": len(test), "epochs": epochs, "width": width,
                 "batch_size": batch_size, "threshold": threshold, "dataset": type(train).__name__}


# ------------------------------------------------------------------ (b) Rosenbrock: the descent is the lesson
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


CHAPTER = "loss-optimization"
NOTES = ("高级优化算法：如 Adam、RMSprop、AdaGrad 等，它们能够更有效地处理大规模和复杂的模型。",
         "Advanced optimisation algorithms, such as Adam, RMSprop and AdaGrad, can handle large-scale and complex "
         "models more effectively.")


@register_experiment("optimizers", "SGD, momentum, AdaGrad, RMSprop, Adam on an MNIST MLP and on Rosenbrock")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    mlp, mlp_cfg = _mlp_runs(quick, download, echo)
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
    return {"table": rows, "mlp_config": mlp_cfg, "rosenbrock_config": ros_cfg, "mlp": mlp, "rosenbrock": ros}


def verdict(numbers):
    mlp, ros = numbers["mlp"], numbers["rosenbrock"]
    mlp_cfg, ros_cfg = numbers["mlp_config"], numbers["rosenbrock_config"]
    mlp_wins = [a for a in ADAPTIVE if mlp[a]["final_train_loss"] < mlp["SGD"]["final_train_loss"]]
    ros_wins = [a for a in ADAPTIVE if ros[a]["final_f"] < ros["SGD"]["final_f"]]
    best_mlp = min(OPTIMIZERS, key=lambda k: mlp[k]["final_train_loss"])
    best_ros = min(OPTIMIZERS, key=lambda k: ros[k]["final_f"])
    text = (f"MLP on {mlp_cfg['dataset']} ({mlp_cfg['epochs']} epoch(s)): {len(mlp_wins)} of 3 adaptive methods "
            f"({', '.join(mlp_wins) or 'none'}) end with a lower training loss than SGD "
            f"({mlp['SGD']['final_train_loss']:.3f}); best {best_mlp} ({mlp[best_mlp]['final_train_loss']:.3f}, "
            f"test accuracy {mlp[best_mlp]['test_accuracy']:.2%}). Rosenbrock ({ros_cfg['steps']} steps, best "
            f"lr each): {len(ros_wins)} of 3 ({', '.join(ros_wins) or 'none'}) end lower than SGD "
            f"(f = {ros['SGD']['final_f']:.2e}); best {best_ros} (f = {ros[best_ros]['final_f']:.2e})")
    return len(mlp_wins) >= 2 and len(ros_wins) >= 2, text


def _plot_rosenbrock_paths(ax, ros):
    xs, ys = np.linspace(-2, 2, 300), np.linspace(-1, 3, 300)
    X, Y = np.meshgrid(xs, ys)
    ax.contour(X, Y, np.log10(rosenbrock(X, Y) + 1e-3), levels=25, cmap="Greys", linewidths=0.6)
    for i, name in enumerate(OPTIMIZERS):
        p = np.asarray(ros[name]["path"])
        ax.plot(p[:, 0], p[:, 1], color=f"C{i}", lw=1, label=name)
    ax.plot(*START, "ko", ms=4)
    ax.plot(1, 1, "r*", ms=12, label="minimum (1, 1)")
    ax.set_xlim(-2, 2)
    ax.set_ylim(-1, 3)
    ax.set_title("Rosenbrock: trajectories")
    ax.legend(fontsize=7, loc="lower left")


def plot(fig, data):
    mlp, ros = data["mlp"], data["rosenbrock"]
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, name in enumerate(OPTIMIZERS):
        smooth = moving_average(mlp[name]["losses"], 50)
        k = len(mlp[name]["losses"]) - len(smooth) + 1
        ax1.plot(np.arange(len(smooth)) + k, smooth, color=f"C{i}", label=name)
        ax3.semilogy(np.maximum(ros[name]["values"], 1e-16), color=f"C{i}", label=f"{name} (lr {ros[name]['lr']:g})")
    ax1.set_yscale("log")
    ax1.set_xlabel("update")
    ax1.set_ylabel("training loss (moving average)")
    ax1.set_title(f"MLP on {data['mlp_config']['dataset']}")
    ax1.legend(fontsize=8)
    _plot_rosenbrock_paths(ax2, ros)
    ax3.set_xlabel("step")
    ax3.set_ylabel("f(x, y)")
    ax3.set_title("Rosenbrock: objective")
    ax3.legend(fontsize=7)
