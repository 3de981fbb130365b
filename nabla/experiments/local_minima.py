"""local-minima: gradient descent from many starting points ends in different local minima.

Claim (notes, 局部最小 Local Minimum), translated: "A local minimum is a point where, within some
region, the objective is smaller than at all the points around it.  A local minimum is not
necessarily the global minimum, but within its neighbourhood it is the lowest point."  (Local
minimum: the value near the point is smaller than at the other points nearby; global minimum: the
smallest value over the whole domain.)  The notes also say batch gradient descent "can guarantee the
global optimum on convex problems"; this objective is not convex.

The objective is a bowl with five Gaussian wells of different depths and widths,

    f(p) = 0.05 |p|^2 - sum_k a_k exp(-|p - c_k|^2 / (2 s_k^2)),   p in R^2,

whose deepest well (the global minimum) is also the narrowest.  Plain gradient descent (nabla.optim.SGD,
gradients by autodiff) starts from a grid of points, all of them updated at once as one (N, 2) tensor.
Each end point is checked to be a local minimum (gradient ~ 0 and a positive-definite Hessian, both
by autodiff); the global minimum is found independently, from a dense grid of f refined by descent.
The measurement supports the claim when descent ends in at least two distinct local minima, each a
true minimum, and some of the runs end in a minimum that is not the global one.
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import optim
from ..autograd import grad, hessian
from .base import register_experiment

CLAIM = ("a local minimum is the lowest point of its neighbourhood but not necessarily the global minimum: "
         "gradient descent started in different places ends in different minima")

CENTERS = np.array([[-2.2, -1.8], [1.8, 1.6], [1.6, -2.0], [-1.6, 2.0], [0.0, 0.0]])
DEPTHS = np.array([2.2, 1.5, 1.2, 1.0, 0.9])
WIDTHS = np.array([0.45, 0.9, 0.8, 0.9, 1.0])
BOX = 4.0


def objective(p):
    """f at each row of p (N, 2) -> (N,), with nabla ops (works on Tensors)."""
    c = nb.tensor(CENTERS, dtype=p.dtype)
    d2 = ((p.unsqueeze(1) - c) ** 2).sum(-1)                        # (N, K)
    wells = nb.tensor(DEPTHS, dtype=p.dtype) * nb.exp(-d2 / nb.tensor(2 * WIDTHS ** 2, dtype=p.dtype))
    return 0.05 * (p * p).sum(-1) - wells.sum(-1)


def f_numpy(x, y):
    with nb.no_grad():
        p = nb.tensor(np.stack([x.ravel(), y.ravel()], 1))
        return objective(p).data.reshape(x.shape)


def descend(points, lr, steps):
    p = nb.tensor(np.array(points, dtype=np.float64), requires_grad=True)
    opt = optim.SGD([p], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        objective(p).sum().backward()      # rows are independent: the sum's gradient is each row's own
        opt.step()
    return p.detach()


def _merge(points, tol):
    """Group end points closer than tol; returns the representatives and each point's group."""
    reps, labels = [], np.empty(len(points), np.int64)
    for i, q in enumerate(points):
        for j, r in enumerate(reps):
            if np.linalg.norm(q - r) < tol:
                labels[i] = j
                break
        else:
            labels[i] = len(reps)
            reps.append(q)
    return np.array(reps), labels


def global_minimum():
    """The global minimum, independently of the runs: the lowest point of a dense grid, refined by descent."""
    fine = np.linspace(-BOX, BOX, 401)
    X, Y = np.meshgrid(fine, fine)
    F = f_numpy(X, Y)
    i = np.argmin(F)
    return descend([[X.flat[i], Y.flat[i]]], 0.05, 2000).data[0]


def check_minimum(m) -> dict:
    """|grad f| and the Hessian's eigenvalues at m (autodiff); a local minimum when ~0 and positive definite."""
    p = nb.tensor(m[None], dtype=np.float64, requires_grad=True)
    (gm,) = grad(objective(p).sum(), [p])
    h = hessian(lambda q: objective(q.reshape(1, 2)).sum(), nb.tensor(m, dtype=np.float64)).data
    eig = np.linalg.eigvalsh(h)
    g = float(np.linalg.norm(gm.data))
    return {"grad": g, "eig": eig, "is_min": bool(g < 1e-4 and eig.min() > 0)}


CHAPTER = "objective"
NOTES = ("局部最小是指在某个区域内，目标函数值比周围所有点的函数值都要小的点。局部最小并不一定是全局最小，但在"
         "局部范围内它是最低点。",
         "A local minimum is a point where, within some region, the objective is smaller than at all the points "
         "around it. A local minimum is not necessarily the global minimum, but within its neighbourhood it is "
         "the lowest point.")


@register_experiment("local-minima", "gradient descent from many starts ends in different local minima")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    k = 15 if quick else 40
    lr, steps = 0.1, 400 if quick else 1500
    g = np.linspace(-BOX, BOX, k)
    starts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    ends = descend(starts, lr, steps).data
    global_min = global_minimum()
    f_global = float(f_numpy(global_min[:1], global_min[1:])[0])
    minima, labels = _merge(ends, 0.05)
    if echo is not None:
        echo(f"local-minima: {len(starts)} descents of {steps} steps ended in {len(minima)} points")
    rows = []
    for j, m in enumerate(minima):
        c = check_minimum(m)
        rows.append({"minimum": j, "x": float(m[0]), "y": float(m[1]), "f": float(f_numpy(m[:1], m[1:])[0]),
                     "|grad f|": c["grad"], "Hessian eigenvalues": f"{c['eig'][0]:.3g}, {c['eig'][1]:.3g}",
                     "local minimum": c["is_min"], "global": bool(np.linalg.norm(m - global_min) < 0.05),
                     "fraction of starts": float((labels == j).mean())})
    minima_f = [r["f"] for r in rows]
    rows.sort(key=lambda r: r["f"])
    reached = np.linalg.norm(ends - global_min, axis=1) < 0.05
    return {"table": rows, "starts": starts, "ends": ends, "labels": labels, "minima": minima, "minima_f": minima_f,
            "global_minimum": global_min, "f_global": f_global, "fraction_global": float(reached.mean()),
            "lr": lr, "steps": steps}


def verdict(numbers):
    rows, n_minima = numbers["table"], len(numbers["minima"])
    all_true_minima = all(r["local minimum"] for r in rows)
    frac_global, global_min = numbers["fraction_global"], numbers["global_minimum"]
    text = (f"{len(numbers['starts'])} runs of gradient descent ended in {n_minima} distinct points, "
            f"{'all' if all_true_minima else 'NOT all'} of them local minima (gradient ~ 0, Hessian positive "
            f"definite); only {frac_global:.1%} of the starts reached the global minimum f = {numbers['f_global']:.3f} "
            f"at ({global_min[0]:.2f}, {global_min[1]:.2f}); the others stopped in local minima with f up to "
            f"{max(r['f'] for r in rows):.3f}")
    return bool(n_minima >= 2 and all_true_minima and frac_global < 1), text


def plot(fig, data):
    starts, labels, minima = np.asarray(data["starts"]), np.asarray(data["labels"]), np.asarray(data["minima"])
    fine = np.linspace(-BOX, BOX, 401)
    X, Y = np.meshgrid(fine, fine)
    ax1, ax2 = fig.subplots(1, 2)
    ax1.contourf(X, Y, f_numpy(X, Y), levels=30, cmap="viridis")
    for j in range(len(minima)):
        sel = labels == j
        ax1.scatter(starts[sel, 0], starts[sel, 1], s=12 if len(starts) < 400 else 6, color=f"C{j % 10}",
                    alpha=0.8, marker="s", linewidths=0)
    ax1.scatter(minima[:, 0], minima[:, 1], s=60, facecolors="none", edgecolors="w", label="local minima")
    ax1.plot(*data["global_minimum"], "r*", ms=16, label="global minimum")
    ax1.set_title("start points coloured by where descent ended")
    ax1.legend(fontsize=8, loc="upper right")
    ax1.set_aspect("equal")
    order = sorted(range(len(minima)), key=lambda j: data["minima_f"][j])
    fv = [data["minima_f"][j] for j in order]
    ax2.bar(range(len(order)), [float((labels == j).mean()) for j in order], color=[f"C{j % 10}" for j in order])
    ax2.set_xticks(range(len(order)), [f"f={v:.2f}" + (" (global)" if np.isclose(v, data["f_global"], atol=1e-6)
                                                          else "") for v in fv], rotation=20, fontsize=8)
    ax2.set_ylabel("fraction of starts ending here")
    ax2.set_title("where gradient descent ends")
