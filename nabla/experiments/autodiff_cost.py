"""autodiff-cost: reverse-mode automatic differentiation is accurate and cheap; scalar modes cost n passes.

Claims (notes, chapter 1, 自动微分 / 反向传播), translated: automatic differentiation computes exact
derivatives (no truncation error, unlike finite differences) and efficiently: one backward pass gives
the gradient with respect to every parameter at a cost of a small multiple of the forward pass
("vector mode"), whereas differentiating one parameter at a time ("scalar mode") costs a pass per
parameter.

Measured on a one-hidden-layer tanh MLP, 8 inputs -> h hidden -> 1 output, MSE on a batch of 64 (float64),
with h setting the number of parameters n = 10 h + 1 from about 10 to 100,000 (quick: to 1,000).  At
each n we time (best of several repeats, to be robust to other load on the machine):
(a) the forward pass (the loss);
(b) the gradient: forward plus one reverse pass (``loss.backward()``) for all n parameters;
(c) central finite differences, 2n forward passes, one coordinate at a time;
(d) scalar (forward) mode: one directional derivative per parameter, ``nabla.autograd.functional.jvp``
    with a one-hot direction (n Jacobian-vector products).
(c) and (d) are timed over every coordinate while n <= FULL_UP_TO; above it over a random sample of
SAMPLE coordinates and EXTRAPOLATED linearly to n (time per coordinate x n) -- those points are marked
``extrapolated`` in the table, drawn dashed, and left out of the growth fits.  Accuracy: the
reverse-mode gradient against the full central-difference gradient (eps 1e-6) and against the n
one-hot JVPs, max |difference| / max |gradient|, for every n <= FULL_UP_TO.
The reverse pass alone is also timed against the forward that recorded its graph (the forward a
training step runs).  Supported when the reverse pass costs under 5 such forwards at every n, the
measured cost of (c) and (d) relative to the plain forward grows as n^1 (fitted exponent of log cost
against log n between 0.75 and 1.25) while (b)/(a) does not grow (exponent below 0.2), and the gradients
agree with central differences to 1e-6.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from ..autograd.functional import jvp
from .base import register_experiment
from .common import format_claims

CLAIM = ("automatic differentiation is accurate and efficient: one reverse pass gives all n partial derivatives "
         "for a small multiple of the forward's cost, while finite differences and one pass per parameter grow "
         "linearly in n")
D_IN, BATCH, FULL_UP_TO, SAMPLE, RATIO_LIMIT = 8, 64, 1100, 24, 5.0


def make_problem(hidden: int, seed: int = 0):
    """(loss(W1, b1, W2, b2), parameter arrays): the MLP's MSE on a fixed batch, float64."""
    rng = np.random.default_rng(seed)
    x, y = nb.tensor(rng.normal(size=(BATCH, D_IN))), nb.tensor(rng.normal(size=(BATCH, 1)))
    params = [rng.normal(size=(D_IN, hidden)) / np.sqrt(D_IN), 0.1 * rng.normal(size=hidden),
              rng.normal(size=(hidden, 1)) / np.sqrt(hidden), 0.1 * rng.normal(size=1)]

    def loss(W1, b1, W2, b2):
        return ((nb.tanh(x @ W1 + b1) @ W2 + b2 - y) ** 2).mean()
    return loss, params


def best_time(fn, repeats: int) -> float:
    """The fastest of ``repeats`` calls (seconds): the least disturbed by other work on the machine."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def reverse_gradient(loss, arrays):
    """(loss value, gradient as one flat array): forward, then one reverse pass."""
    ts = [nb.tensor(a, requires_grad=True) for a in arrays]
    out = loss(*ts)
    out.backward()
    return float(out.item()), np.concatenate([t.grad.data.ravel() for t in ts])


def _unflat(arrays, flat_index):
    """(array number, index within it) of coordinate ``flat_index`` of the concatenated parameters."""
    sizes = np.cumsum([a.size for a in arrays])
    k = int(np.searchsorted(sizes, flat_index, side="right"))
    return k, np.unravel_index(flat_index - (sizes[k - 1] if k else 0), arrays[k].shape)


def central_difference(loss, arrays, coords, eps: float = 1e-6) -> np.ndarray:
    """d loss / d theta_i for each flat coordinate i in ``coords``:
    (f(theta + eps e_i) - f(theta - eps e_i)) / 2 eps."""
    ts, out = [nb.tensor(a) for a in arrays], np.empty(len(coords))
    with nb.no_grad():
        for j, i in enumerate(coords):
            k, idx = _unflat(arrays, i)
            v = ts[k].data[idx]
            ts[k].data[idx] = v + eps
            up = float(loss(*ts).item())
            ts[k].data[idx] = v - eps
            down = float(loss(*ts).item())
            ts[k].data[idx] = v
            out[j] = (up - down) / (2 * eps)
    return out


def scalar_mode(loss, arrays, coords) -> np.ndarray:
    """d loss / d theta_i for each i in ``coords``, one forward-mode product J e_i (a one-hot jvp) per coordinate."""
    ts, out = [nb.tensor(a) for a in arrays], np.empty(len(coords))
    for j, i in enumerate(coords):
        k, idx = _unflat(arrays, i)
        onehot = [np.zeros_like(a) for a in arrays]
        onehot[k][idx] = 1.0
        out[j] = float(jvp(loss, ts, [nb.tensor(v) for v in onehot])[1].item())
    return out


def time_reverse(loss, arrays, repeats: int):
    """(forward recording the graph, the reverse pass alone): the fastest of ``repeats`` each, in seconds."""
    forward, backward = [], []
    for _ in range(repeats):
        ts = [nb.tensor(a, requires_grad=True) for a in arrays]
        start = time.perf_counter()
        out = loss(*ts)
        middle = time.perf_counter()
        out.backward()
        backward.append(time.perf_counter() - middle)
        forward.append(middle - start)
    return min(forward), min(backward)


def time_coordinates(method, loss, arrays, coords, repeats: int):
    """(the partial derivatives at ``coords`` by ``method``, the seconds it would take for all n coordinates):
    the fastest of ``repeats`` passes over ``coords``, scaled by n / len(coords)."""
    n, best = sum(a.size for a in arrays), np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        values = method(loss, arrays, coords)
        best = min(best, time.perf_counter() - start)
    return values, best * n / len(coords)


def measure(hidden: int, repeats: int, seed: int = 0) -> dict:
    """One row: the timings (per full gradient) and the accuracy of the gradient on the coordinates done."""
    loss, arrays = make_problem(hidden, seed)
    ts, n = [nb.tensor(a) for a in arrays], sum(a.size for a in arrays)
    reverse_gradient(loss, arrays)                              # warm up
    with nb.no_grad():
        t_forward = best_time(lambda: loss(*ts), repeats)
    t_gradient = best_time(lambda: reverse_gradient(loss, arrays), repeats)
    t_recording, t_backward = time_reverse(loss, arrays, repeats)
    _, g = reverse_gradient(loss, arrays)
    full = n <= FULL_UP_TO
    coords = np.arange(n) if full else np.sort(np.random.default_rng(seed).choice(n, SAMPLE, replace=False))
    g_fd, t_fd = time_coordinates(central_difference, loss, arrays, coords, 3)
    g_fm, t_fm = time_coordinates(scalar_mode, loss, arrays, coords, 2)
    scale = np.abs(g[coords]).max()
    return {"n parameters": int(n), "hidden": hidden, "forward (ms)": 1e3 * t_forward,
            "forward recording the graph (ms)": 1e3 * t_recording, "reverse pass (ms)": 1e3 * t_backward,
            "reverse / forward": t_backward / t_recording,
            "gradient: forward + 1 reverse pass (ms)": 1e3 * t_gradient, "gradient / forward": t_gradient / t_forward,
            "finite differences, 2n forwards (ms)": 1e3 * t_fd, "finite differences / forward": t_fd / t_forward,
            "scalar mode, n jvps (ms)": 1e3 * t_fm, "scalar mode / forward": t_fm / t_forward,
            "extrapolated": not full, "coordinates timed": int(len(coords)),
            "max rel. error vs finite differences": float(np.abs(g[coords] - g_fd).max() / scale),
            "max rel. error vs scalar mode": float(np.abs(g[coords] - g_fm).max() / scale)}


def slope(rows, key, measured_only: bool) -> float:
    """The exponent p of key ~ n^p: a least-squares line through log key against log n (over the rows whose
    finite differences and jvps were timed on every coordinate, when ``measured_only``)."""
    pts = [(r["n parameters"], r[key]) for r in rows if not (measured_only and r["extrapolated"])]
    n, v = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return float(np.polyfit(n, v, 1)[0])


CHAPTER = "batch-optimization"
NOTES = ("通过在参数空间中进行微小的有限差分来近似梯度。这种方法简单直观，但计算量大且精度依赖于差分的大小。 …"
         " 自动微分结合了解析法和数值法的优点，既准确又高效，广泛应用于复杂模型的训练。 … 在标量模式下，需要对"
         "每个参数分别计算偏导数，并且这些计算是串行进行的，不能同时进行。因此，标量模式的计算效率通常较低",
         "(Numerical method:) approximate the gradient by small finite differences in parameter space. This "
         "method is simple and intuitive, but its computation is large and its accuracy depends on the size of "
         "the difference. ... Automatic differentiation combines the advantages of the analytical and the "
         "numerical methods: it is both accurate and efficient, and is widely used to train complex models. ... "
         "In scalar mode the partial derivative of every parameter must be computed separately, and these "
         "computations run one after another, not at the same time; so scalar mode is usually less efficient.")


@register_experiment("autodiff-cost", "the cost of a gradient against n: one reverse pass vs finite differences "
                     "vs one pass per parameter")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    hiddens = [1, 3, 10, 32, 100] if quick else [1, 3, 10, 32, 100, 316, 1000, 3162, 10000]
    rows = []
    for h in hiddens:
        start = time.perf_counter()
        rows.append(measure(h, repeats=5 if quick else 20))
        r = rows[-1]
        if echo is not None:
            echo(f"autodiff-cost: n = {r['n parameters']}, reverse / forward {r['reverse / forward']:.2f}, "
                 f"gradient / forward {r['gradient / forward']:.2f}, "
                 f"finite differences / forward {r['finite differences / forward']:.0f}"
                 f"{' (extrapolated)' if r['extrapolated'] else ''}, {time.perf_counter() - start:.1f} s")
    exponents = {key: slope(rows, key, measured_only=key.startswith(("finite", "scalar"))) for key in
                 ("reverse / forward", "gradient / forward", "finite differences / forward", "scalar mode / forward",
                  "forward (ms)", "gradient: forward + 1 reverse pass (ms)")}
    return {"table": rows, "points": rows, "exponents": exponents, "full_up_to": FULL_UP_TO, "sample": SAMPLE,
            "ratio_limit": RATIO_LIMIT}


def claims(numbers):
    rows, e = numbers["table"], numbers["exponents"]
    measured = [r for r in rows if not r["extrapolated"]]
    return {f"one reverse pass costs < {RATIO_LIMIT:g} forwards at every n":
                all(r["reverse / forward"] < RATIO_LIMIT for r in rows),
            "gradient / forward does not grow with n (fitted exponent < 0.2)": e["gradient / forward"] < 0.2,
            "finite differences / forward grows as n^1 (exponent 0.75 to 1.25)":
                0.75 <= e["finite differences / forward"] <= 1.25,
            "scalar mode / forward grows as n^1 (exponent 0.75 to 1.25)": 0.75 <= e["scalar mode / forward"] <= 1.25,
            "reverse-mode gradients match finite differences to 1e-6":
                all(r["max rel. error vs finite differences"] < 1e-6 for r in measured)}


def verdict(numbers):
    rows, e, found = numbers["table"], numbers["exponents"], claims(numbers)
    measured = [r for r in rows if not r["extrapolated"]]
    big = rows[-1]
    how = f"extrapolated from {big['coordinates timed']} coordinates" if big["extrapolated"] else "measured"
    text = (f"for n = {rows[0]['n parameters']} to {big['n parameters']} parameters, one reverse pass costs "
            f"{min(r['reverse / forward'] for r in rows):.2f} to {max(r['reverse / forward'] for r in rows):.2f} times "
            f"the forward that recorded its graph (fitted exponent in n {e['reverse / forward']:+.2f}), "
            f"and the whole gradient "
            f"(forward + reverse) {min(r['gradient / forward'] for r in rows):.2f} to "
            f"{max(r['gradient / forward'] for r in rows):.2f} plain forward passes (exponent "
            f"{e['gradient / forward']:+.2f}); measured up to n = "
            f"{measured[-1]['n parameters']}, central differences cost n^{e['finite differences / forward']:.2f} "
            f"forwards and one jvp per parameter n^{e['scalar mode / forward']:.2f} forwards; at n = "
            f"{big['n parameters']} ({how}) "
            f"the gradient takes {big['gradient: forward + 1 reverse pass (ms)']:.2f} ms against "
            f"{big['finite differences, 2n forwards (ms)'] / 1e3:.1f} s by finite differences and "
            f"{big['scalar mode, n jvps (ms)'] / 1e3:.1f} s in scalar mode; the reverse-mode gradient agrees with "
            f"central differences to {max(r['max rel. error vs finite differences'] for r in measured):.1e} and with "
            f"the jvps to {max(r['max rel. error vs scalar mode'] for r in measured):.1e} (float64). "
            + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2 = fig.subplots(1, 2)
    rows = data["points"]                     # the table's rows (the table itself is not part of the data)
    n = np.array([r["n parameters"] for r in rows])
    ext = np.array([bool(r["extrapolated"]) for r in rows])
    series = {"forward": "forward (ms)", "gradient (1 reverse pass)": "gradient: forward + 1 reverse pass (ms)",
              "finite differences (2n forwards)": "finite differences, 2n forwards (ms)",
              "scalar mode (n jvps)": "scalar mode, n jvps (ms)"}
    for i, (label, key) in enumerate(series.items()):
        t = np.array([r[key] for r in rows]) / 1e3
        if i < 2:   # the forward and the gradient are measured at every n
            ax1.plot(n, t, "o-", color=f"C{i}", label=label)
            continue
        ax1.plot(n[~ext], t[~ext], "o-", color=f"C{i}", label=label)
        if ext.any():
            j = np.flatnonzero(ext)
            j = np.concatenate([[j[0] - 1], j]) if j[0] > 0 else j
            ax1.plot(n[j], t[j], "o--", color=f"C{i}", mfc="none")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("number of parameters n")
    ax1.set_ylabel("seconds per full gradient")
    ax1.set_title("cost of the gradient (dashed: extrapolated)")
    ax1.legend(fontsize=7)
    for i, key in enumerate(("gradient / forward", "finite differences / forward", "scalar mode / forward")):
        ax2.plot(n, [r[key] for r in rows], "o-", color=f"C{i + 1}", label=key)
    ax2.plot(n, [r["reverse / forward"] for r in rows], "s:", color="C4", label="reverse pass / forward (recording)")
    ax2.axhline(data["ratio_limit"], color="k", ls=":", lw=0.8)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("number of parameters n")
    ax2.set_ylabel("cost in forward passes")
    ax2.set_title("relative to one forward pass")
    ax2.legend(fontsize=7)
