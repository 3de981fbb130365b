"""An LSTM whose pre-activations can be normalised: none, batch norm per time step, or layer norm.

The cell (the form of Cooijmans et al. 2016, "Recurrent batch normalization", and of Ba et al. 2016's
layer-normalised LSTM), gates [i, f, g, o]:

    a_t = N_x(W_x x_t) + N_h(W_h h_{t-1}) + b                     (B, 4H)
    i, f, o = sigmoid(a_i, a_f, a_o),   g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(N_c(c_t))

with N one of

* ``"none"``: the identity (a plain LSTM, computed step by step like the others so their costs compare);
* ``"batch"``: ``nn.BatchNorm1d`` over the features of each term.  In training every time step is
  normalised with the mean and variance **over the batch at that step**; one BatchNorm1d module per term
  serves all steps, so its running mean and variance (momentum 0.1, updated once per step) average the
  statistics of every step -- the naive way to put BN into a recurrence.  In eval mode those shared
  running statistics replace the batch's.  (Cooijmans et al. keep separate statistics per time step, up
  to the longest training length; Laurent et al. 2016 normalise only the input term ``W_x x_t``.)
* ``"layer"``: ``nn.LayerNorm`` over the features of each term, per sample and per step: no batch
  statistics, so training and eval compute the same function at any batch size and length.

Each N has its own gain and bias (initialised to 1 and 0); ``b`` is added after the normalisation (the
forget gate's part starts at 1, the rest at 0), so the variants differ only in the normalisers' gains
and biases.
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from .. import nn
from ..ops.loss import cross_entropy

NORMS = ("none", "batch", "layer")


def _norm(kind: str, features: int):
    if kind == "batch":
        return nn.BatchNorm1d(features)
    if kind == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()


class NormLSTMCell(nn.Module):
    """One step of the LSTM above: ``forward(x_proj (B, 4H), (h, c)) -> (h', c')``, where ``x_proj`` is
    ``W_x x_t`` (``project`` computes it for every step at once)."""

    def __init__(self, input_size: int, hidden_size: int, norm: str = "none"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"NormLSTMCell: norm must be one of {NORMS}, got {norm!r}")
        self.hidden_size, self.norm = hidden_size, norm
        self.weight_x = nn.Linear(input_size, 4 * hidden_size, bias=False)
        self.weight_h = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        bias = np.zeros(4 * hidden_size, dtype=nb.get_default_dtype())
        bias[hidden_size:2 * hidden_size] = 1.0     # forget gate open at the start (Gers et al. 2000)
        self.bias = nn.Parameter(bias)
        self.norm_x, self.norm_h, self.norm_c = (_norm(norm, 4 * hidden_size), _norm(norm, 4 * hidden_size),
                                                 _norm(norm, hidden_size))

    def project(self, x):
        """W_x x for a whole (T, B, F) sequence: one product."""
        return self.weight_x(x)

    def forward(self, x_proj, state):
        h, c = state
        a = self.norm_x(x_proj) + self.norm_h(self.weight_h(h)) + self.bias
        i, f, g, o = nb.chunk(a, 4, dim=1)
        c = nb.sigmoid(f) * c + nb.sigmoid(i) * nb.tanh(g)
        return nb.sigmoid(o) * nb.tanh(self.norm_c(c)), c


class NormLSTMLM(nn.Module):
    """Embedding -> NormLSTMCell over the steps -> Linear: a character language model.

    ``loss(x (B, T), y (B, T), state=None) -> (mean cross-entropy in nats, None)``.  Not stateful: every
    window starts from zero state (so the first steps of every window look alike, which is where shared
    running statistics are tested hardest)."""

    stateful = False

    def __init__(self, vocab_size: int, norm: str = "none", embed_dim: int = 32, hidden_size: int = 128):
        super().__init__()
        self.vocab_size, self.norm = vocab_size, norm
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.cell = NormLSTMCell(embed_dim, hidden_size, norm)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def hidden(self, x, state=None):
        """The hidden states (T, B, H) of the batch ``x`` (B, T), and the last (h, c)."""
        B, T = x.shape
        xp = self.cell.project(self.embedding(x.transpose(0, 1)))            # (T, B, 4H)
        if state is None:
            zero = nb.zeros(B, self.cell.hidden_size)
            state = (zero, zero)
        hs = []
        for t in range(T):                  # the recurrence: one step after another
            state = self.cell(xp[t], state)
            hs.append(state[0])
        return nb.stack(hs, 0), state

    def token_losses(self, x, y, state=None):
        """Per-token cross-entropies (T, B) in nats, and the last state."""
        hs, state = self.hidden(x, state)
        T, B, H = hs.shape
        logits = self.decoder(hs.reshape(T * B, H))
        return cross_entropy(logits, y.transpose(0, 1).reshape(-1), reduction="none").reshape(T, B), state

    def loss(self, x, y, state=None):
        """Mean next-token cross-entropy (nats), and None: no state is carried to the next window."""
        return self.token_losses(x, y, state)[0].mean(), None
