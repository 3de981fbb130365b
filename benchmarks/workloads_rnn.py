"""Recurrent layers (issue 6): a 1-layer LSTM (input 64, hidden 256, sequence 32, batch 32) with a
65-class head (a character-level language model's shape), one Adam training step."""
from __future__ import annotations

import numpy as np

from .workloads import Workload, framework, register, training_step

T, B, I, H, C = 32, 32, 64, 256, 65


def _data():
    """The LSTM's weights (PyTorch layout), the head's, and a batch: the same arrays for both frameworks."""
    rng = np.random.default_rng(0)
    k = 1.0 / np.sqrt(H)
    lstm = {"weight_ih_l0": rng.uniform(-k, k, (4 * H, I)), "weight_hh_l0": rng.uniform(-k, k, (4 * H, H)),
            "bias_ih_l0": rng.uniform(-k, k, 4 * H), "bias_hh_l0": rng.uniform(-k, k, 4 * H)}
    head = {"weight": rng.uniform(-k, k, (C, H)), "bias": rng.uniform(-k, k, C)}
    lstm = {n: a.astype(np.float32) for n, a in lstm.items()}
    head = {n: a.astype(np.float32) for n, a in head.items()}
    x = rng.standard_normal((T, B, I), dtype=np.float32)
    y = rng.integers(0, C, T * B).astype(np.int64)
    return lstm, head, x, y


def _step(fw, lr=1e-3):
    nn, optim = fw.nn, fw.optim
    lstm_w, head_w, x, y = _data()
    lstm, head = nn.LSTM(I, H), nn.Linear(H, C)
    with fw.no_grad():  # identical starting weights in both frameworks
        for m, ws in ((lstm, lstm_w), (head, head_w)):
            for name, p in m.named_parameters():
                p.copy_(fw.tensor(ws[name]))
    criterion = nn.CrossEntropyLoss()
    opt = optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=lr)
    x, y = fw.tensor(x), fw.tensor(y)

    def loss():
        out, _ = lstm(x)
        return criterion(head(out.reshape(T * B, H)), y)
    return training_step(opt, loss)


register(Workload(
    "lstm_train_adam", goal=2.0, source="issue 6",
    description="1-layer LSTM (input 64, hidden 256, seq 32, batch 32) + 65-class head training step, "
                "float32: nn.LSTM/Linear/CrossEntropyLoss, optim.Adam",
    nabla=lambda cfg: _step(framework("nabla", "nn", "optim"), cfg.get("lr", 1e-3)),
    torch=lambda cfg: _step(framework("torch", "nn", "optim"), cfg.get("lr", 1e-3))))
