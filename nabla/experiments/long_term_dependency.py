"""long-term-dependency: vanilla RNNs struggle with long-range dependencies; LSTM and GRU help.

Claim (notes, recurrent networks): a plain RNN's gradient through time is a product of one Jacobian per
step, so the signal from early steps vanishes (or explodes) as the lag grows, and the network cannot
learn dependencies that span many steps; the LSTM's additive cell state (and the GRU's gated update)
give the gradient a path that does not shrink step by step, so they learn much longer dependencies.

Task: the adding problem (Hochreiter & Schmidhuber 1997).  Each step carries two numbers: a value
drawn from U(0, 1) and a marker, 1 at exactly two steps and 0 elsewhere; the target, read from the
last step's state, is the sum of the two marked values.  The first marker lies in the first tenth of
the sequence, the second in its last half, so the network must remember a value for about ``T``
steps; ``T`` (the lag) grows.  Always answering 1 gives MSE 1/6 = 0.167; a prediction is counted
correct when within 0.04 of the target (the original paper's criterion).

Measured, for RNN (tanh), LSTM and GRU of the same hidden size, at every lag:

1. MSE and accuracy on fresh sequences after the same number of Adam steps;
2. the gradient reaching the input: ``||dL/dx_t||`` per step t (mean over a batch), and the ratio of the
   first step's to the last step's, at initialisation and after training: how much of the loss's
   gradient reaches the early steps.

Supported when the gated cells learn the task (MSE below a tenth of answering 1) at a longer lag than the
RNN, the RNN's first-step gradient shrinks as the lag grows, and at the longest lag at least ten times more
gradient reaches the first step in the LSTM than in the RNN at initialisation (a smaller margin is a tie
between numbers near the float32 underflow).
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from .. import nn, optim
from ..train import RegressionStep, Trainer
from .base import register_experiment
from .common import Heartbeat, at, format_claims, say, tail_mean

CLAIM = ("a vanilla RNN struggles to learn long-range dependencies (its gradient vanishes over the lag); LSTM "
         "and GRU learn them")
CELLS = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
BASELINE_MSE = 1.0 / 6.0   # always answering 1: Var(u1 + u2) for u ~ U(0, 1)
TOLERANCE = 0.04
GRADIENT_MARGIN = 10.0  # "more gradient reaches the first step": by at least this factor, not a tie


def adding_batch(rng, batch: int, T: int):
    """(x (B, T, 2) float32, y (B, 1)): values and markers; the target is the sum of the two marked values."""
    values = rng.random((batch, T))
    first = rng.integers(0, max(1, T // 10), batch)
    second = rng.integers(T // 2, T, batch)
    second = np.where(second == first, T - 1, second)
    marks = np.zeros((batch, T))
    marks[np.arange(batch), first] = 1.0
    marks[np.arange(batch), second] = 1.0
    x = np.stack([values, marks], axis=2).astype(np.float32)
    y = (values[np.arange(batch), first] + values[np.arange(batch), second]).astype(np.float32)[:, None]
    return x, y


class AddingBatches:
    """``steps`` fresh training batches of the adding problem, drawn from a generator seeded with ``seed`` (the
    same batches for every model)."""

    def __init__(self, seed: int, batch: int, T: int, steps: int):
        self.seed, self.batch, self.T, self.steps = seed, batch, T, steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        for _ in range(self.steps):
            yield tuple(nb.from_numpy(a) for a in adding_batch(rng, self.batch, self.T))


class Regressor(nn.Module):
    """cell(2 -> hidden) over the sequence, a linear read-out of the last state."""

    def __init__(self, cell: str, hidden: int):
        super().__init__()
        self.rnn = CELLS[cell](2, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def input_gradient_norms(model, x, y) -> np.ndarray:
    """||dL/dx_t|| for every step t, averaged over the batch (L = MSE)."""
    xt = nb.tensor(x).requires_grad_()
    loss = nn.functional.mse_loss(model(xt), nb.tensor(y))
    model.zero_grad()
    loss.backward()
    return np.linalg.norm(xt.grad.data, axis=2).mean(axis=0)


def _evaluate(model, x, y):
    with nb.no_grad():
        pred = model(nb.tensor(x)).data
    err = pred - y
    return float(np.mean(err ** 2)), float(np.mean(np.abs(err) < TOLERANCE))


def _ratio(g):
    return float(g[0] / max(g[-1], 1e-30))


def _train_one(cell, T, hidden, steps, batch, lr, test, echo) -> dict:
    """One cell at one lag: input gradients at initialisation, Adam with clipping, test MSE, trained gradients."""
    x_test, y_test = test
    x_probe, y_probe = x_test[:128], y_test[:128]
    nb.manual_seed(0)
    model = Regressor(cell, hidden)
    g_init = input_gradient_norms(model, x_probe, y_probe)
    trainer = Trainer(RegressionStep(model, optim.Adam(model.parameters(), lr=lr)), clip_grad_norm=1.0,
                      callbacks=[Heartbeat(echo, f"long-term-dependency: {cell} lag {T}")], progress=False)
    t0 = time.perf_counter()
    trainer.fit(AddingBatches(T, batch, T, steps), epochs=1)
    losses = np.array(trainer.step_history["loss"])
    mse, acc = _evaluate(model, x_test, y_test)
    say(echo, "long-term-dependency", f"{cell} lag {T}", len(losses), tail_mean(losses), time.perf_counter() - t0,
        f", test MSE {mse:.4f}")
    return {"mse": mse, "accuracy": acc, "grad_init": g_init,
            "grad_trained": input_gradient_norms(model, x_probe, y_probe), "losses": losses}


CHAPTER = "modern-architectures"
NOTES = ("长期依赖问题：递归神经网络在处理长序列时，往往会面临长期依赖问题，即难以捕捉序列中长距离的依赖关系。"
         " … 梯度消失问题：RNN在反向传播过程中容易出现梯度消失或梯度爆炸的问题，导致训练困难和性能下降。 … 递"
         "归神经网络及其变体（如长短期记忆网络、门控循环单元等）是序列数据建模中最常见的模型之一",
         "Long-term dependencies: a recurrent network processing long sequences often meets the long-term "
         "dependency problem, i.e. it has difficulty capturing dependencies over long distances in the sequence. "
         "... Vanishing gradients: in backpropagation an RNN easily suffers vanishing or exploding gradients, "
         "making training hard and performance worse. ... Recurrent networks and their variants (long short-term "
         "memory networks, gated recurrent units, ...) are among the most common models for sequence modelling. "
         "(That LSTM and GRU overcome the problem is nabla's reading.)")


@register_experiment("long-term-dependency", "adding problem at growing lags: RNN vs LSTM vs GRU, accuracy and "
                     "the gradient reaching early steps")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    if quick:
        lags, hidden, steps, batch, lr = [5, 15], 16, 80, 32, 1e-2
    else:
        lags, hidden, steps, batch, lr = [10, 25, 50, 100], 64, 1200, 64, 3e-3
    test_rng = np.random.default_rng(1234)
    out, rows = {}, []
    for T in lags:
        test = adding_batch(test_rng, 512, T)
        for cell in CELLS:
            r = out.setdefault(cell, {})[T] = _train_one(cell, T, hidden, steps, batch, lr, test, echo)
            rows.append({"lag T": T, "model": cell, "test MSE": r["mse"], "accuracy (|err| < 0.04)": r["accuracy"],
                         "learned (MSE < 0.1 x baseline)": bool(r["mse"] < 0.1 * BASELINE_MSE),
                         "|dL/dx_1| / |dL/dx_T| init": _ratio(r["grad_init"]),
                         "|dL/dx_1| / |dL/dx_T| trained": _ratio(r["grad_trained"])})
    return {"table": rows, "lags": lags, "hidden": hidden, "steps": steps, "batch": batch, "lr": lr, "runs": out,
            "baseline_mse": BASELINE_MSE}


def _ratios_at_init(numbers) -> dict:
    return {c: {T: _ratio(numbers["runs"][c][T]["grad_init"]) for T in numbers["lags"]} for c in CELLS}


def claims(numbers) -> dict:
    lags = numbers["lags"]
    longest = lags[-1]
    learned = longest_learned(numbers)
    ratio_init = _ratios_at_init(numbers)
    return {
        "LSTM and GRU learn the task (MSE < 0.1 x answering 1) at a longer lag than the RNN":
            bool(learned["LSTM"] > learned["RNN"] and learned["GRU"] > learned["RNN"]),
        "the RNN's gradient at the first step shrinks as the lag grows (at initialisation)":
            bool(ratio_init["RNN"][longest] < ratio_init["RNN"][lags[0]]),
        f"at the longest lag at least {GRADIENT_MARGIN:g}x more gradient reaches the first step in the LSTM than in "
        "the RNN (at initialisation)":
            bool(ratio_init["LSTM"][longest] > GRADIENT_MARGIN * ratio_init["RNN"][longest]),
    }


def longest_learned(numbers) -> dict:
    """The longest lag at which each cell learned the task (MSE below a tenth of answering 1; 0: none)."""
    return {c: max([T for T in numbers["lags"] if numbers["runs"][c][T]["mse"] < 0.1 * BASELINE_MSE], default=0)
            for c in CELLS}


def verdict(numbers):
    lags, found = numbers["lags"], claims(numbers)
    longest, ratio_init = lags[-1], _ratios_at_init(numbers)
    text = (f"adding problem, hidden {numbers['hidden']}, {numbers['steps']} Adam steps of {numbers['batch']}: test "
            f"MSE at lag {longest}: " + ", ".join(f"{c} {numbers['runs'][c][longest]['mse']:.4f}" for c in CELLS)
            + f" (answering 1: {BASELINE_MSE:.3f}); the longest lag each learned: "
            + ", ".join(f"{c} {T}" for c, T in longest_learned(numbers).items())
            + "; first/last-step input-gradient ratio at initialisation, shortest "
            "-> longest lag: "
            + ", ".join(f"{c} {ratio_init[c][lags[0]]:.2g} -> {ratio_init[c][longest]:.2g}" for c in CELLS)
            + ". " + format_claims(found))
    return all(found.values()), text


def plot(fig, data):
    lags, out = data["lags"], data["runs"]
    longest = lags[-1]
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, c in enumerate(CELLS):
        ax1.plot(lags, [at(out[c], T)["mse"] for T in lags], "o-", color=f"C{i}", label=c)
        ax2.plot(lags, [at(out[c], T)["accuracy"] for T in lags], "o-", color=f"C{i}", label=c)
        for key, style, when in (("grad_init", "-", "init"), ("grad_trained", "--", "trained")):
            g = at(out[c], longest)[key]
            ax3.semilogy(np.arange(1, len(g) + 1), g, style, color=f"C{i}", label=f"{c} ({when})")
    ax1.axhline(BASELINE_MSE, color="gray", ls=":", label="answer 1")
    ax1.set_xlabel("lag T (sequence length)")
    ax1.set_ylabel("test MSE")
    ax1.set_title("adding problem: error vs lag")
    ax1.legend(fontsize=8)
    ax2.set_xlabel("lag T")
    ax2.set_ylabel(f"accuracy (|error| < {TOLERANCE})")
    ax2.set_title("accuracy vs lag")
    ax3.set_xlabel("time step t")
    ax3.set_ylabel("||dL/dx_t|| (batch mean)")
    ax3.set_title(f"gradient reaching each step, T = {longest}")
    ax3.legend(fontsize=7)
