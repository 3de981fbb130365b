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
from .base import Result, register_experiment

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


@register_experiment("local-minima", "gradient descent from many starts ends in different local minima")
def run(quick: bool = False) -> Result:
    k = 15 if quick else 40
    lr, steps = 0.1, 400 if quick else 1500
    g = np.linspace(-BOX, BOX, k)
    starts = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    ends = descend(starts, lr, steps).data

    # the global minimum, independently of the runs: the lowest point of a dense grid, refined by descent
    fine = np.linspace(-BOX, BOX, 401)
    X, Y = np.meshgrid(fine, fine)
    F = f_numpy(X, Y)
    i = np.argmin(F)
    global_min = descend([[X.flat[i], Y.flat[i]]], 0.05, 2000).data[0]
    f_global = float(f_numpy(global_min[:1], global_min[1:])[0])

    minima, labels = _merge(ends, 0.05)
    rows, all_true_minima = [], True
    for j, m in enumerate(minima):
        p = nb.tensor(m[None], dtype=np.float64, requires_grad=True)
        (gm,) = grad(objective(p).sum(), [p])
        h = hessian(lambda q: objective(q.reshape(1, 2)).sum(), nb.tensor(m, dtype=np.float64)).data
        eig = np.linalg.eigvalsh(h)
        is_min = bool(np.linalg.norm(gm.data) < 1e-4 and eig.min() > 0)
        all_true_minima &= is_min
        f_m = float(f_numpy(m[:1], m[1:])[0])
        rows.append({"minimum": j, "x": float(m[0]), "y": float(m[1]), "f": f_m,
                     "|grad f|": float(np.linalg.norm(gm.data)), "Hessian eigenvalues": f"{eig[0]:.3g}, {eig[1]:.3g}",
                     "local minimum": is_min, "global": bool(np.linalg.norm(m - global_min) < 0.05),
                     "fraction of starts": float((labels == j).mean())})
    rows.sort(key=lambda r: r["f"])
    reached = np.linalg.norm(ends - global_min, axis=1) < 0.05
    frac_global = float(reached.mean())
    supported = bool(len(minima) >= 2 and all_true_minima and frac_global < 1)
    verdict = (f"{len(starts)} runs of gradient descent ended in {len(minima)} distinct points, "
               f"{'all' if all_true_minima else 'NOT all'} of them local minima (gradient ~ 0, Hessian positive "
               f"definite); only {frac_global:.1%} of the starts reached the global minimum f = {f_global:.3f} at "
               f"({global_min[0]:.2f}, {global_min[1]:.2f}); the others stopped in local minima with f up to "
               f"{max(r['f'] for r in rows):.3f}")

    def plot(fig):
        ax1, ax2 = fig.subplots(1, 2)
        ax1.contourf(X, Y, F, levels=30, cmap="viridis")
        for j in range(len(minima)):
            sel = labels == j
            ax1.scatter(starts[sel, 0], starts[sel, 1], s=6 if not quick else 12, color=f"C{j % 10}",
                        alpha=0.8, marker="s", linewidths=0)
        ax1.scatter(minima[:, 0], minima[:, 1], s=60, facecolors="none", edgecolors="w", label="local minima")
        ax1.plot(*global_min, "r*", ms=16, label="global minimum")
        ax1.set_title("start points coloured by where descent ended")
        ax1.legend(fontsize=8, loc="upper right")
        ax1.set_aspect("equal")
        order = sorted(range(len(minima)), key=lambda j: rows[[r["minimum"] for r in rows].index(j)]["f"])
        fr = [float((labels == j).mean()) for j in order]
        fv = [rows[[r["minimum"] for r in rows].index(j)]["f"] for j in order]
        ax2.bar(range(len(order)), fr, color=[f"C{j % 10}" for j in order])
        ax2.set_xticks(range(len(order)), [f"f={v:.2f}" + (" (global)" if np.isclose(v, f_global, atol=1e-6)
                                                              else "") for v in fv], rotation=20, fontsize=8)
        ax2.set_ylabel("fraction of starts ending here")
        ax2.set_title("where gradient descent ends")

    return Result(claim=CLAIM, supported=supported, verdict=verdict, table=rows,
                  data={"starts": starts, "ends": ends, "labels": labels, "minima": minima,
                        "global_minimum": global_min, "f_global": f_global, "fraction_global": frac_global,
                        "lr": lr, "steps": steps},
                  plot=plot)
