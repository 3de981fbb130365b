"""attention-cost: self-attention is costly on long sequences, and harder to train than a recurrent network.

Claims (notes, chapter 4, attention and the Transformer; paraphrased): every position attends to every
other, so the time and memory of self-attention grow with the square of the sequence length L, where a
recurrent layer's grow linearly; and Transformers are harder to train (they are sensitive to the learning
rate).

Part A, cost: one self-attention layer (``nn.MultiheadAttention``, width 64, 4 heads, the fused
attention a Transformer layer runs) against one recurrent layer of the same width (``nn.LSTM``, 64 ->
64), batch 1, for L = 64, 128, ..., 4096 (quick: to 512).  For each: the CPU time of a forward and a
backward pass (``out.sum().backward()``, the input's gradient included; the fastest of a few repeats,
this process's CPU seconds, one BLAS thread) and the peak memory allocated during it (``tracemalloc``,
which sees NumPy's arrays).  Fitted: the exponent p of time ~ L^p (least squares on log-log) over the
whole range and over the longest lengths (the last three, 1024 to 4096), the quadratic time = a L^2 + b L
(least squares), the same for memory, and the crossover: the length at which attention becomes slower
than the LSTM (measured: between which lengths; fitted: where the two fits meet).

Part B, training: the adding problem of ``long_term_dependency`` (lag ``T`` = 20, short enough for the
LSTM to learn it comfortably: remember two marked values over the sequence and output their sum;
answering 1 gives MSE 1/6) learned by a 2-layer Transformer
encoder (Post-LN, as in Vaswani et al. and PyTorch's default; sinusoidal positions; width 32; read out
at the last position) and by an LSTM with a similar number of parameters, each with Adam (gradients
clipped at norm 1, no warm-up) at a grid of learning rates half a decade apart, for the same number of
steps and batches.  A learning rate *works* when the test MSE on fresh sequences falls below a tenth of
the baseline (``long_term_dependency``'s "learned") for every seed; the usable range is reported as the
share of the grid that works and its width in decades (half a decade per grid point that works).  One
caveat the numbers carry: the answer is a sum over two marked positions, which attention can read in
one step from anywhere, while the LSTM must carry the first value through the lag; a task that needs
order or counting might treat attention less kindly.

Supported, for cost, when attention's time exponent over the longest lengths is at least 1.7 and the
LSTM's lies between 0.8 and 1.2; for training, when the Transformer's usable range is narrower (fewer
working grid points) than the LSTM's.  Each claim is reported on its own; the verdict needs both.
"""
from __future__ import annotations

import time
import tracemalloc

import numpy as np

import nabla as nb
from .. import nn, optim
from ..train import RegressionStep, Trainer, TrainingDiverged
from .base import register_experiment
from .common import Heartbeat, format_claims, say
from .long_term_dependency import BASELINE_MSE, AddingBatches, Regressor, adding_batch

CLAIM = ("self-attention's time and memory grow with the square of the sequence length (a recurrent layer's "
         "linearly), and attention is harder to train (a narrower range of usable learning rates)")
WIDTH, HEADS = 64, 4
LONG_POINTS = 3                 # the exponent "at long lengths" is fitted over the last three lengths
QUADRATIC, LINEAR = 1.7, (0.8, 1.2)
TARGET = 0.1 * BASELINE_MSE     # a run "trains" when its test MSE falls below this


# ------------------------------------------------------------------ part A: cost
def cost_layers(width: int = WIDTH, heads: int = HEADS) -> dict:
    """The two layers compared, each as fn(x (1, L, width)) -> output (1, L, width)."""
    attention = nn.MultiheadAttention(width, heads, batch_first=True)
    lstm = nn.LSTM(width, width, batch_first=True)
    return {"attention": lambda x: attention(x, x, x, need_weights=False)[0], "LSTM": lambda x: lstm(x)[0]}


def forward_backward(layer, L: int, width: int = WIDTH) -> None:
    """One forward and one backward pass through ``layer`` of a random (1, L, width) input."""
    x = nb.randn(1, L, width).requires_grad_()
    layer(x).sum().backward()


def cpu_time(fn, repeats: int) -> float:
    """The fewest CPU seconds of ``repeats`` calls (this process's, so other jobs on the machine do not count)."""
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def peak_bytes(fn) -> int:
    """The peak of the memory allocated while ``fn`` runs (tracemalloc, NumPy's buffers included)."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return int(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()


def exponent(lengths, values) -> float:
    """p in value ~ L^p: the slope of a least-squares line through (log L, log value)."""
    return float(np.polyfit(np.log(lengths), np.log(values), 1)[0])


def quadratic_fit(lengths, values) -> tuple:
    """(a, b) of value = a L^2 + b L, least squares weighted by 1 / value (relative errors, so the short
    lengths count as much as the long ones)."""
    L, v = np.asarray(lengths, dtype=np.float64), np.asarray(values, dtype=np.float64)
    A = np.stack([L ** 2, L], 1) / v[:, None]
    (a, b), *_ = np.linalg.lstsq(A, np.ones_like(v), rcond=None)
    return float(a), float(b)


def crossover(lengths, slow, fast):
    """The first measured length at which ``slow`` exceeds ``fast``, and the one before it (None when never)."""
    above = np.flatnonzero(np.asarray(slow) > np.asarray(fast))
    if len(above) == 0:
        return None
    k = int(above[0])
    return [int(lengths[k - 1]) if k else None, int(lengths[k])]


def fitted_crossover(fit_a, fit_b):
    """Where a1 L^2 + b1 L = a2 L^2 + b2 L (L > 0), or None."""
    da, db = fit_a[0] - fit_b[0], fit_b[1] - fit_a[1]
    return float(db / da) if da != 0 and db / da > 0 else None


def measure_costs(lengths, repeats, echo) -> dict:
    """Time and peak memory of each layer at each length."""
    nb.manual_seed(0)
    layers = cost_layers()
    out = {name: {"time": [], "memory": []} for name in layers}
    for L in lengths:
        start = time.perf_counter()
        for name, layer in layers.items():
            forward_backward(layer, L)                                        # warm up
            out[name]["time"].append(cpu_time(lambda: forward_backward(layer, L), repeats(L)))
            out[name]["memory"].append(peak_bytes(lambda: forward_backward(layer, L)))
        if echo is not None:
            echo(f"attention-cost: L = {L}: attention {1e3 * out['attention']['time'][-1]:.1f} ms, "
                 f"{out['attention']['memory'][-1] / 2**20:.1f} MiB; LSTM {1e3 * out['LSTM']['time'][-1]:.1f} ms, "
                 f"{out['LSTM']['memory'][-1] / 2**20:.1f} MiB, {time.perf_counter() - start:.1f} s")
    return out


def summarise_costs(lengths, costs) -> dict:
    """Exponents, quadratic fits and crossovers of the measured times and memories."""
    s = {}
    for name, c in costs.items():
        for what in ("time", "memory"):
            v = c[what]
            s[f"{name} {what}"] = {"exponent": exponent(lengths, v),
                                   "exponent at long lengths": exponent(lengths[-LONG_POINTS:], v[-LONG_POINTS:]),
                                   "quadratic fit (a, b)": quadratic_fit(lengths, v)}
    fa, fr = s["attention time"]["quadratic fit (a, b)"], s["LSTM time"]["quadratic fit (a, b)"]
    s["crossover"] = {"measured": crossover(lengths, costs["attention"]["time"], costs["LSTM"]["time"]),
                      "fitted": fitted_crossover(fa, fr)}
    return s


# ------------------------------------------------------------------ part B: training
class TransformerRegressor(nn.Module):
    """Linear(2 -> d) + sinusoidal positions -> Transformer encoder (Post-LN, ReLU) -> Linear(d -> 1) on the
    last position: the adding problem's answer, read where the LSTM's is."""

    def __init__(self, d_model: int = 32, num_layers: int = 2, nhead: int = 4, max_len: int = 1024):
        super().__init__()
        self.embed = nn.Linear(2, d_model)
        self.pos = nn.SinusoidalPositionalEncoding(d_model, dropout=0.0, max_len=max_len, batch_first=True)
        layer = nn.TransformerEncoderLayer(d_model, nhead, 2 * d_model, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x):
        return self.head(self.encoder(self.pos(self.embed(x)))[:, -1])


def trainers(quick: bool) -> dict:
    """The two models of part B, each a builder; sizes chosen for similar parameter counts."""
    if quick:
        return {"Transformer": lambda: TransformerRegressor(16, 1, 2), "LSTM": lambda: Regressor("LSTM", 16)}
    return {"Transformer": lambda: TransformerRegressor(32, 2, 4), "LSTM": lambda: Regressor("LSTM", 64)}


def train_at(build, lr, seed, cfg, test, label, echo) -> dict:
    """One model at one learning rate: Adam (clipped at 1, no warm-up) on the same batches, then the test MSE."""
    nb.manual_seed(seed)
    model = build()
    trainer = Trainer(RegressionStep(model, optim.Adam(model.parameters(), lr=lr)), clip_grad_norm=1.0,
                      callbacks=[Heartbeat(echo, f"attention-cost: {label}")], progress=False)
    start, diverged = time.process_time(), False
    try:
        trainer.fit(AddingBatches(seed, cfg["batch"], cfg["T"], cfg["steps"]), epochs=1)
    except TrainingDiverged:
        diverged = True
    seconds = time.process_time() - start
    mse = float("inf")
    if not diverged:
        with nb.no_grad():
            pred = model(nb.tensor(test[0])).data
        mse = float(np.mean((pred - test[1]) ** 2))
    losses = trainer.step_history.get("loss", [])
    say(echo, "attention-cost", label, len(losses), mse, seconds, " (test MSE)" + (", diverged" if diverged else ""))
    return {"mse": mse if np.isfinite(mse) else None, "diverged": diverged, "cpu_seconds": seconds,
            "trains": bool(np.isfinite(mse) and mse < TARGET), "params": model.num_parameters()}


def lr_sweep(cfg, echo) -> dict:
    """Every model at every learning rate and seed."""
    test = adding_batch(np.random.default_rng(1234), 512, cfg["T"])
    out = {}
    for name, build in trainers(cfg["quick"]).items():
        runs = out[name] = {}
        for lr in cfg["lrs"]:
            runs[lr] = [train_at(build, lr, seed, cfg, test, f"{name} lr {lr:g} seed {seed}", echo)
                        for seed in cfg["seeds"]]
    return out


def usable(sweep_runs: dict) -> list:
    """The learning rates at which every seed trains."""
    return [float(lr) for lr, runs in sweep_runs.items() if all(r["trains"] for r in runs)]


# ------------------------------------------------------------------ the experiment
def _config(quick: bool) -> dict:
    if quick:
        return dict(quick=True, lengths=[64, 128, 256, 512], repeats=lambda L: 2, T=10, steps=40, batch=16,
                    lrs=[1e-3, 1e-2, 1e-1], seeds=[0])
    return dict(quick=False, lengths=[64, 128, 256, 512, 1024, 2048, 4096], repeats=lambda L: 5 if L <= 1024 else 3,
                T=20, steps=1000, batch=32, lrs=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1], seeds=[0, 1, 2])


def _rows(lengths, costs, sweep, lrs) -> list:
    rows = [{"part": "A: cost", "L or lr": L,
             "attention ms": 1e3 * costs["attention"]["time"][i], "LSTM ms": 1e3 * costs["LSTM"]["time"][i],
             "attention MiB": costs["attention"]["memory"][i] / 2**20, "LSTM MiB": costs["LSTM"]["memory"][i] / 2**20}
            for i, L in enumerate(lengths)]
    for lr in lrs:
        row = {"part": "B: training", "L or lr": lr}
        for name, runs in sweep.items():
            mses = [r["mse"] for r in runs[lr]]
            row[f"{name} test MSE (worst seed)"] = max(m if m is not None else np.inf for m in mses)
            row[f"{name} trains"] = all(r["trains"] for r in runs[lr])
        rows.append(row)
    for r in rows[len(lengths):]:   # a diverged run's MSE is not a number: say so in words
        for k, v in list(r.items()):
            if isinstance(v, float) and not np.isfinite(v):
                r[k] = "diverged"
    return rows


CHAPTER = "modern-architectures"
NOTES = ("缺点：注意力机制的计算复杂度较高，特别是在处理长序列或大型模型时，可能会导致计算资源消耗过多；另外，"
         "注意力机制可能会增加模型的训练难度和优化问题。",
         "Disadvantages: the computational complexity of attention is high; especially on long sequences or with "
         "large models it may consume too many computing resources; moreover, attention may make the model harder "
         "to train and to optimise. (The quadratic growth in the sequence length is nabla's reading of 'high "
         "complexity'.)")


@register_experiment("attention-cost", "self-attention vs LSTM: time and memory against length 64-4096 (fitted "
                     "exponents, crossover), and the range of learning rates each trains at")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    cfg = _config(quick)
    lengths = cfg["lengths"]
    costs = measure_costs(lengths, cfg["repeats"], echo)
    sweep = lr_sweep(cfg, echo)
    return {"table": _rows(lengths, costs, sweep, cfg["lrs"]), "lengths": lengths, "width": WIDTH, "heads": HEADS,
            "costs": costs, "fits": summarise_costs(lengths, costs), "lrs": cfg["lrs"], "seeds": cfg["seeds"],
            "T": cfg["T"], "steps": cfg["steps"], "batch": cfg["batch"], "target_mse": TARGET, "sweep": sweep,
            "usable": {name: usable(runs) for name, runs in sweep.items()},
            "params": {name: runs[cfg["lrs"][0]][0]["params"] for name, runs in sweep.items()}}


def _width(numbers, name) -> float:
    """The usable range in decades: half a decade for each grid point that works."""
    return 0.5 * len(numbers["usable"][name])


def claims(numbers) -> dict:
    f = numbers["fits"]
    att, rnn = f["attention time"]["exponent at long lengths"], f["LSTM time"]["exponent at long lengths"]
    longest = numbers["lengths"][-LONG_POINTS:]
    span = f"{longest[0]}-{longest[-1]}"
    return {f"attention's time grows as L^p with p >= {QUADRATIC} over L = {span}": att >= QUADRATIC,
            f"the LSTM's time grows as L^p with {LINEAR[0]} <= p <= {LINEAR[1]} over L = {span}":
                LINEAR[0] <= rnn <= LINEAR[1],
            "the Transformer trains at fewer learning rates of the grid than the LSTM":
                len(numbers["usable"]["Transformer"]) < len(numbers["usable"]["LSTM"])}


def _usable_text(numbers) -> str:
    """'Transformer at 5/8 (2.5 decades, 0.0001 to 0.01); LSTM at ...'."""
    parts = []
    for name, u in numbers["usable"].items():
        span = f", {min(u):g} to {max(u):g}" if u else ""
        parts.append(f"{name} at {len(u)}/{len(numbers['lrs'])} ({_width(numbers, name):.1f} decades{span})")
    return "; ".join(parts)


def verdict(numbers):
    f, found, L = numbers["fits"], claims(numbers), numbers["lengths"]
    cross = f["crossover"]
    measured = ("attention is faster at every length" if cross["measured"] is None
                else f"attention becomes slower between L = {cross['measured'][0]} and {cross['measured'][1]}")
    fitted = f"{cross['fitted']:.0f}" if cross["fitted"] else "none"
    p = {k: f[k]["exponent at long lengths"] for k in ("attention time", "LSTM time", "attention memory",
                                                          "LSTM memory")}
    text = (f"part A (width {numbers['width']}, batch 1, forward + backward, L = {L[0]} to {L[-1]}): time exponent "
            f"over the longest lengths attention {p['attention time']:.2f}, LSTM {p['LSTM time']:.2f} (whole range "
            f"{f['attention time']['exponent']:.2f} and {f['LSTM time']['exponent']:.2f}); peak memory exponent "
            f"attention {p['attention memory']:.2f}, LSTM {p['LSTM memory']:.2f}; {measured} (fitted a L^2 + b L "
            f"curves cross at L = {fitted}). Part B (adding problem, lag {numbers['T']}, {numbers['steps']} Adam steps "
            f"of {numbers['batch']}, {len(numbers['seeds'])} seed(s), target test MSE < {numbers['target_mse']:.4f}): "
            f"usable learning rates {_usable_text(numbers)}. " + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    ax1, ax2, ax3 = fig.subplots(1, 3)
    L = np.asarray(data["lengths"], dtype=np.float64)
    grid = np.geomspace(L[0], L[-1], 100)
    for i, name in enumerate(("attention", "LSTM")):
        a, b = data["fits"][f"{name} time"]["quadratic fit (a, b)"]
        ax1.loglog(L, data["costs"][name]["time"], "o", color=f"C{i}",
                   label=f"{name} (p = {data['fits'][f'{name} time']['exponent at long lengths']:.2f} at long L)")
        ax1.loglog(grid, a * grid ** 2 + b * grid, "-", color=f"C{i}", lw=0.8)
        ax2.loglog(L, np.asarray(data["costs"][name]["memory"]) / 2**20, "o-", color=f"C{i}",
                   label=f"{name} (p = {data['fits'][f'{name} memory']['exponent at long lengths']:.2f})")
    for ax in (ax1, ax2):
        ax.minorticks_off()
        ax.set_xticks(L, [f"{int(v)}" for v in L], fontsize=7)
    ax1.set_xlabel("sequence length L")
    ax1.set_ylabel("CPU seconds, forward + backward")
    ax1.set_title("time (lines: a L^2 + b L fits)")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("sequence length L")
    ax2.set_ylabel("peak memory allocated (MiB)")
    ax2.set_title("memory")
    ax2.legend(fontsize=8)
    lrs = np.asarray(data["lrs"], dtype=np.float64)
    for i, (name, runs) in enumerate(data["sweep"].items()):
        worst = [max(r["mse"] if r["mse"] is not None else np.inf for r in runs[k]) for k in runs]
        ax3.loglog(lrs, np.minimum(worst, 1.0), "o-", color=f"C{i + 2}", label=name)
    ax3.axhline(data["target_mse"], color="k", ls=":", lw=0.8, label="target")
    ax3.axhline(BASELINE_MSE, color="gray", ls="--", lw=0.8, label="answer 1")
    ax3.minorticks_off()
    ax3.set_xticks(lrs, [f"{v:g}" for v in lrs], fontsize=7, rotation=45)
    ax3.set_xlabel("learning rate (Adam)")
    ax3.set_ylabel("test MSE, worst seed (diverged: 1)")
    ax3.set_title(f"adding problem, lag {data['T']}")
    ax3.legend(fontsize=8)
