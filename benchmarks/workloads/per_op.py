"""Per-op overhead (issue 2, workload a): what one recorded op costs when the arrays are tiny."""
from __future__ import annotations

import numpy as np

from . import Workload, framework, register
from ._data import linear_params

ADDS_PER_STEP = 10  # unrolled, so the timing loop's own cost is a tenth of the figure


# ---------------------------------------------------------------- a1: 1-element add, no grad
def _add(fw):
    x = fw.tensor(np.array([1.5], dtype=np.float32))
    y = fw.tensor(np.array([2.5], dtype=np.float32))

    def step():
        x + y; x + y; x + y; x + y; x + y  # noqa: E702
        x + y; x + y; x + y; x + y  # noqa: E702
        return x + y
    return step


register(Workload(
    "add_1elem", goal=2.0, source="issue 2 (a)",
    description="x + y on two 1-element float32 tensors, no grad (time per add)",
    nabla=lambda cfg: _add(framework("nabla")), torch=lambda cfg: _add(framework("torch")),
    per=(ADDS_PER_STEP, "add")))


# ---------------------------------------------------------------- a2: 10 tiny Linear-like layers
LAYERS, WIDTH = 10, 16


def _tiny_data():
    params = linear_params([WIDTH] * (LAYERS + 1), seed=0)
    x = np.random.default_rng(1).standard_normal((1, WIDTH), dtype=np.float32)
    return params, x


def _linear10(fw):
    params, x_np = _tiny_data()
    layers = [(fw.tensor(w, requires_grad=True), fw.tensor(b, requires_grad=True)) for w, b in params]
    leaves = [p for wb in layers for p in wb]
    x = fw.tensor(x_np)

    def step():
        for p in leaves:
            p.grad = None
        h = x
        for w, b in layers:
            h = h @ w + b
        loss = h.sum()
        loss.backward()
        return loss
    return step


register(Workload(
    "linear10_b1", goal=1.05, source="issue 2 (a)",
    description="forward+backward through 10 steps h = h @ W_i + b_i (16x16, batch 1), .sum(), backward",
    nabla=lambda cfg: _linear10(framework("nabla")), torch=lambda cfg: _linear10(framework("torch"))))
