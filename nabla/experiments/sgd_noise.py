"""sgd-noise: the noise of stochastic gradient descent helps it escape local minima.

Claim (notes, chapter 1, 随机梯度下降 (SGD)), translated: SGD "uses one sample per iteration ... it
introduces noise, so the update direction is unstable"; among its advantages, it "helps to jump out of
local optima".

The landscape is the ``local-minima`` experiment's (``local_minima.objective``: a bowl with five Gaussian
wells, the deepest also the narrowest), made a finite sum of n = 100 per-sample terms

    f_i(p) = f(p) + u_i . p,    u_i ~ N(0, 4^2 I) drawn once (seed 0), then centred: sum_i u_i = 0,

so that the full loss (1/n) sum_i f_i = f exactly (full-gradient descent on it IS descent on f), while a
mini-batch B of terms has the loss f(p) + u_B . p, u_B the mean tilt of the B sampled terms: its gradient
is grad f(p) + u_B, zero-mean noise of variance S^2 (n - B) / (B n) per coordinate (sampling without
replacement; S^2 the tilts' sample variance).  The batch size sets the noise scale, as in real SGD.
From the same starts (300 points uniform in [-4, 4]^2, seeded) and at the same step size (0.1) and number
of steps (8,000), ``nabla.optim.SGD`` runs, every start on its own:

* full-gradient descent (GD);
* mini-batch SGD: each start draws its own B of the n terms at every step, B = 1, 2, 3, 4, 6, 8, 16, 32;
* Gaussian gradient noise: grad f(p) + sigma xi, xi ~ N(0, I) fresh at each step (the idealised model of
  SGD's noise), sigma constant (0.5 to 4) or annealed linearly to 0 over the run (2 to 6).

Every run (GD included) then takes 500 full-gradient steps, so that it settles in the minimum of the basin
it is in; a run "reaches the global minimum" when it ends within 0.05 of it (as in ``local-minima``).  The
share of starts that do, with its 95 % Wilson interval, is measured against the noise scale (for
mini-batches, the effective sigma above), with the final losses' distribution.  Why a sweet spot is
expected: with step lr and noise sigma, the iterates sample roughly exp(-f / T), T = lr sigma^2 / 2
(Langevin); the deep global well dominates that distribution for T below ~0.2 (sigma ~ 2), but leaving a
well of depth dE takes ~exp(dE / T) steps, so too little noise never escapes and too much spreads over
the bowl.

Rule: supported when mini-batch SGD at some batch size reaches the global minimum from at least 10
percentage points more of the starts than GD, AND the lower end of that share's 95 % Wilson interval
lies above GD's share.  The same test on the Gaussian-noise runs is reported as separate claims (they
model SGD's noise; the verdict rests on the real mini-batch sampling).
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import optim
from . import local_minima
from .base import register_experiment
from .common import format_claims, say

CLAIM = ("SGD's noise helps escape local minima: from the same starts, stochastic gradients end in the global "
         "minimum more often than full-gradient descent")
N_TERMS, TILT = 100, 4.0           # per-sample terms of the finite sum, and the std of their tilts
LR, MARGIN, HIT = 0.1, 0.10, 0.05  # step size; the margin over GD the rule asks; "reached" distance
FAMILIES = ("GD (full gradient)", "mini-batch SGD", "Gaussian noise", "Gaussian noise, annealed")


def tilts(n: int = N_TERMS, scale: float = TILT, seed: int = 0) -> np.ndarray:
    """The per-sample tilts u_i (n, 2), centred so that they sum to zero (the full loss is then exactly f)."""
    u = np.random.default_rng(seed).normal(0.0, scale, (n, 2))
    return u - u.mean(0)


def batch_sigma(u: np.ndarray, batch: int) -> float:
    """Per-coordinate std of the mean of ``batch`` tilts drawn without replacement: S sqrt((n - B) / (B n))."""
    n = len(u)
    return float(np.sqrt(u.var(0, ddof=1).mean() * (n - batch) / (batch * n)))


def batch_tilt(u: np.ndarray, batch: int, rows: int, rng) -> np.ndarray:
    """For each of ``rows`` runs, the mean tilt of its own ``batch`` terms, drawn without replacement."""
    idx = np.argpartition(rng.random((rows, len(u))), batch - 1, axis=1)[:, :batch]
    return u[idx].mean(1)


def wilson(k: int, n: int, z: float = 1.96) -> tuple:
    """The Wilson score interval of a binomial share k / n."""
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def descend(starts, steps, polish, sigma=0.0, anneal=False, u=None, batch=None, seed=1, keep=()):
    """SGD at LR from every start at once (rows independent): ``steps`` noisy steps, then ``polish`` full-gradient
    steps.  The noise is a tilt of the loss, t . p, fresh each step: the mean of ``batch`` sampled terms' tilts
    (mini-batch) or sigma xi (Gaussian; linearly to 0 when ``anneal``).  Returns the end points and the paths of
    the rows in ``keep`` (every steps / 200 steps)."""
    p = nb.tensor(np.array(starts, dtype=np.float64), requires_grad=True)
    opt, rng, keep = optim.SGD([p], lr=LR), np.random.default_rng(seed), list(keep)
    every, paths = max(1, steps // 200), [p.data[keep].copy()]
    for t in range(steps + polish):
        opt.zero_grad()
        loss = local_minima.objective(p).sum()          # rows are independent: each row's gradient is its own
        if t < steps and batch is not None:
            loss = loss + (nb.tensor(batch_tilt(u, batch, len(starts), rng)) * p).sum()
        elif t < steps and sigma > 0:
            scale = sigma * (1 - t / steps) if anneal else sigma
            loss = loss + (nb.tensor(scale * rng.standard_normal(p.shape)) * p).sum()
        loss.backward()
        opt.step()
        if keep and (t % every == 0 or t == steps + polish - 1):
            paths.append(p.data[keep].copy())
    return p.detach().data, np.stack(paths, 1)


def configurations(quick: bool, u: np.ndarray) -> list:
    """(family, noise sigma, batch or None, descend keyword arguments) for every run."""
    if quick:
        sigmas, annealed, batches = (1.0, 2.0, 3.0), (3.0,), (1, 4, 16)
    else:
        sigmas, annealed = (0.5, 1.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 4.0), (2.0, 3.0, 4.0, 6.0)
        batches = (1, 2, 3, 4, 6, 8, 16, 32)
    out = [(FAMILIES[0], 0.0, None, {})]
    out += [(FAMILIES[1], batch_sigma(u, b), b, {"u": u, "batch": b}) for b in batches]
    out += [(FAMILIES[2], s, None, {"sigma": s}) for s in sigmas]
    out += [(FAMILIES[3], s, None, {"sigma": s, "anneal": True}) for s in annealed]
    return out


def _row(family, sigma, batch, ends, global_min, seconds) -> dict:
    reached = np.linalg.norm(ends - global_min, axis=1) < HIT
    k, n = int(reached.sum()), len(ends)
    low, high = wilson(k, n)
    f = local_minima.f_numpy(ends[:, 0], ends[:, 1])
    return {"method": family, "batch": batch if batch is not None else "", "sigma": float(sigma),
            "T = lr sigma^2 / 2": LR * sigma ** 2 / 2, "share global": k / n, "95% low": low, "95% high": high,
            "mean final f": float(f.mean()), "median final f": float(np.median(f)), "cpu s": seconds}


CHAPTER = "batch-optimization"
NOTES = ("随机梯度下降在每次迭代中只使用一个样本计算损失函数的梯度，并使用该梯度更新参数。 … 有助于跳出局部最"
         "优",
         "Stochastic gradient descent computes the gradient of the loss from only one sample per iteration and "
         "updates the parameters with it. ... (Advantage:) it helps to jump out of local optima.")


@register_experiment("sgd-noise", "mini-batch / noisy gradients against full-gradient descent on the local-minima "
                     "landscape: share of starts reaching the global minimum")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    n_starts, steps, polish = (60, 600, 300) if quick else (300, 8000, 500)
    starts = np.random.default_rng(0).uniform(-local_minima.BOX, local_minima.BOX, (n_starts, 2))
    global_min, u = local_minima.global_minimum(), tilts()
    rows, final_f, paths, reached = [], {}, {}, {}
    for family, sigma, batch, kwargs in configurations(quick, u):
        start = time.process_time()
        ends, path = descend(starts, steps, polish, keep=np.arange(n_starts), **kwargs)
        row = _row(family, sigma, batch, ends, global_min, time.process_time() - start)
        label = _label(row)
        say(echo, "sgd-noise", label, steps + polish, row["mean final f"], row["cpu s"],
            f" (mean final f), {row['share global']:.1%} reach the global minimum")
        rows.append(row)
        final_f[label] = local_minima.f_numpy(ends[:, 0], ends[:, 1])
        paths[label], reached[label] = path, np.linalg.norm(ends - global_min, axis=1) < HIT
    shown = [FAMILIES[0]] + [_label(_best(rows, fam)) for fam in FAMILIES[1:3]]
    picked = _pick_starts(reached[shown[0]], reached[shown[1]])
    return {"table": rows, "runs": rows, "n_starts": n_starts, "steps": steps, "polish": polish, "lr": LR,
            "n_terms": N_TERMS, "tilt_std": TILT, "margin": MARGIN, "global_minimum": global_min,
            "f_global": float(local_minima.f_numpy(global_min[:1], global_min[1:])[0]),
            "final_f": {k: final_f[k] for k in shown}, "paths": {k: paths[k][picked] for k in shown[:2]},
            "path_starts": picked}


def _pick_starts(gd_reached, sgd_reached) -> np.ndarray:
    """For the figure: among the starts where GD stops in a local minimum, the first two from which SGD reaches
    the global minimum and the first from which it does not (fewer when there are none)."""
    stuck = ~np.asarray(gd_reached)
    escaped = np.flatnonzero(stuck & sgd_reached)[:2]
    return np.sort(np.concatenate([escaped, np.flatnonzero(stuck & ~sgd_reached)[:3 - len(escaped)]]))


def _label(row) -> str:
    """'mini-batch SGD, B = 4', 'Gaussian noise, sigma 2', 'GD (full gradient)'."""
    if row["batch"] != "":
        return f"{row['method']}, B = {row['batch']}"
    return row["method"] + (f", sigma {row['sigma']:g}" if row["sigma"] else "")


def _best(rows, family) -> dict:
    """The row of ``family`` with the highest share of starts reaching the global minimum."""
    return max((r for r in rows if r["method"] == family), key=lambda r: r["share global"])


def claims(numbers) -> dict:
    rows = numbers["table"]
    gd = next(r for r in rows if r["method"] == FAMILIES[0])["share global"]
    margin = numbers["margin"]

    def helps(family):
        best = _best(rows, family)
        return bool(best["share global"] >= gd + margin - 1e-12 and best["95% low"] > gd)
    return {f"{fam} reaches the global minimum from >= {margin * 100:.0f} points more of the starts than GD, beyond "
            "the 95% interval":
            helps(fam) for fam in FAMILIES[1:]}


def verdict(numbers):
    rows, found = numbers["table"], claims(numbers)
    gd = next(r for r in rows if r["method"] == FAMILIES[0])
    best = {fam: _best(rows, fam) for fam in FAMILIES[1:]}
    mb = best[FAMILIES[1]]
    text = (f"{numbers['n_starts']} starts, {numbers['steps']:,} steps at lr {numbers['lr']:g} then "
            f"{numbers['polish']} full-gradient steps: GD reaches the global minimum (f = {numbers['f_global']:.3f}) "
            f"from {gd['share global']:.1%} of them (95% interval {gd['95% low']:.1%}-{gd['95% high']:.1%}), mean "
            f"final f {gd['mean final f']:.3f}. Best mini-batch SGD (B = {mb['batch']}, effective sigma "
            f"{mb['sigma']:.2f}): {mb['share global']:.1%} ({mb['95% low']:.1%}-{mb['95% high']:.1%}), mean final f "
            f"{mb['mean final f']:.3f}; best constant Gaussian noise (sigma {best[FAMILIES[2]]['sigma']:g}): "
            f"{best[FAMILIES[2]]['share global']:.1%}; best annealed (sigma {best[FAMILIES[3]]['sigma']:g} -> 0): "
            f"{best[FAMILIES[3]]['share global']:.1%}. Shares by noise scale: "
            + ", ".join(f"{r['sigma']:.2g}: {r['share global']:.0%}" for r in sorted(
                (r for r in rows if r["method"] == FAMILIES[1]), key=lambda r: r["sigma"]))
            + " (mini-batch, by effective sigma). " + format_claims(found))
    return found[next(k for k in found if k.startswith(FAMILIES[1]))], text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    fine = np.linspace(-local_minima.BOX, local_minima.BOX, 241)
    X, Y = np.meshgrid(fine, fine)
    ax1.contourf(X, Y, local_minima.f_numpy(X, Y), levels=30, cmap="viridis")
    for (label, path), color in zip(data["paths"].items(), ("w", "r")):
        for j, trace in enumerate(np.asarray(path, dtype=np.float64)):
            ax1.plot(trace[:, 0], trace[:, 1], color=color, lw=0.4 if color == "r" else 1.5,
                     alpha=0.45 if color == "r" else 0.9,
                     label=label if j == 0 else None)
            ax1.plot(*trace[-1], "o", color=color, ms=5, mec="k", zorder=4)
    ax1.plot(*data["global_minimum"], "y*", ms=14, zorder=3, alpha=0.8)
    ax1.set_aspect("equal")
    ax1.set_xlim(-local_minima.BOX, local_minima.BOX)
    ax1.set_ylim(-local_minima.BOX, local_minima.BOX)
    ax1.legend(fontsize=6, loc="upper right")
    ax1.set_title("paths from starts where GD stops in a local minimum\n(two where SGD escapes, one where not)",
                  fontsize=8)
    _plot_shares(ax2, data["runs"], data["margin"])
    _plot_final(ax3, data["final_f"])


def _plot_final(ax, final_f):
    """Grouped bars: the share of starts ending at each minimum (by its f), per method."""
    finals = {k: np.round(np.asarray(v, dtype=np.float64), 2) for k, v in final_f.items()}
    levels = np.unique(np.concatenate(list(finals.values())))
    width = 0.8 / len(finals)
    for i, (label, f) in enumerate(finals.items()):
        ax.bar(np.arange(len(levels)) + (i - (len(finals) - 1) / 2) * width, [(f == v).mean() for v in levels],
               width, color=f"C{7 if i == 0 else i - 1}", label=label)
    ax.set_xticks(range(len(levels)), [f"{v:.2f}" + ("\n(global)" if i == 0 else "") for i, v in enumerate(levels)],
                  fontsize=7)
    ax.set_xlabel("final f (after polishing)")
    ax.set_ylabel("share of starts")
    ax.set_title("final loss distribution", fontsize=9)
    ax.legend(fontsize=6)


def _plot_shares(ax, rows, margin):
    gd = next(r for r in rows if r["method"] == FAMILIES[0])
    ax.axhspan(gd["95% low"], gd["95% high"], color="grey", alpha=0.3, label="GD (95% interval)")
    ax.axhline(gd["share global"] + margin, color="k", ls=":", lw=0.8, label=f"GD + {margin * 100:.0f} points")
    for i, family in enumerate(FAMILIES[1:]):
        sel = sorted((r for r in rows if r["method"] == family), key=lambda r: r["sigma"])
        s = np.array([r["sigma"] for r in sel])
        share = np.array([r["share global"] for r in sel])
        err = np.array([[r["share global"] - r["95% low"] for r in sel], [r["95% high"] - r["share global"]
                                                                           for r in sel]])
        ax.errorbar(s, share, yerr=err, fmt="o-", color=f"C{i}", capsize=2, ms=4,
                    label=family + (" (effective sigma)" if family == FAMILIES[1] else ""))
    ax.set_xlabel("noise scale sigma (annealed: at the start)")
    ax.set_ylabel("share of starts ending in the global minimum")
    ax.set_title("share against noise", fontsize=9)
    ax.legend(fontsize=6)
