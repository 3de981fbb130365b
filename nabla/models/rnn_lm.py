"""Character-level recurrent language models (Karpathy's char-rnn; Graves 2013):

    e_t = Embedding(x_t),   (h_t, c_t) = RNN(e_t, h_{t-1}, c_{t-1}),   p(x_{t+1} | x_<=t) = softmax(W h_t + b)

RNN is an Elman RNN (tanh), an LSTM or a GRU (nabla.nn's fused layers).  The state is carried from one
chunk of text to the next (truncated backpropagation through time, see nabla.train.sequence), and
``step`` advances it one token for sampling.  Registered as ``char-rnn``, ``char-lstm``, ``char-gru``.
"""
from __future__ import annotations

from .. import nn
from ..ops.loss import cross_entropy
from .registry import register_model

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class CharRNNLM(nn.Module):
    """Embedding(vocab, embed_dim) -> cell(embed_dim, hidden_size, num_layers) -> Dropout -> Linear(vocab).

    ``forward(x (B, T) int64, state=None) -> (logits (B, T, V), state)``; ``state`` is the recurrent
    state (an LSTM's ``(h, c)``), each (num_layers, B, hidden_size).  ``tie_weights`` shares the
    embedding with the output layer (needs ``embed_dim == hidden_size``)."""

    stateful = True  # the training loop carries the state across chunks (truncated BPTT)

    def __init__(self, vocab_size: int, cell: str = "lstm", embed_dim: int = 64, hidden_size: int = 512,
                 num_layers: int = 1, dropout: float = 0.0, tie_weights: bool = False):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"CharRNNLM: unknown cell {cell!r}; choose from {sorted(CELLS)}")
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(f"CharRNNLM: tie_weights needs embed_dim == hidden_size, got {embed_dim} and "
                             f"{hidden_size}")
        self.vocab_size, self.cell, self.hidden_size, self.num_layers = vocab_size, cell, hidden_size, num_layers
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        # time-major inside: the fused layers run (T, B, F), so no float transposes on the hot path
        self.rnn = CELLS[cell](embed_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.decoder = nn.Linear(hidden_size, vocab_size)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def _hidden(self, x_tb, state):
        out, state = self.rnn(self.embedding(x_tb), state)             # (T, B, H)
        T, B, H = out.shape
        return self.decoder(self.dropout(out).reshape(T * B, H)), state  # (T*B, V), time-major rows

    def forward(self, x, state=None):
        logits, state = self._hidden(x.transpose(0, 1), state)
        T, B = x.shape[1], x.shape[0]
        return logits.reshape(T, B, self.vocab_size).transpose(0, 1), state

    def loss(self, x, y, state=None):
        """Mean next-token cross-entropy (nats per token) of targets ``y`` (B, T) given ``x`` (B, T), and
        the final state.  The targets are transposed instead of the logits (integers are cheap)."""
        logits, state = self._hidden(x.transpose(0, 1), state)
        return cross_entropy(logits, y.transpose(0, 1).reshape(-1)), state

    def step(self, tokens, state=None):
        """One token per sequence (B,) -> (next-token logits (B, V), state): for decoding and sampling."""
        logits, state = self._hidden(tokens.reshape(1, -1), state)
        return logits, state

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, vocab_size={self.vocab_size}"


def _builder(cell):
    def build(in_shape, num_classes, **options):
        return CharRNNLM(num_classes, cell=cell, **options)
    return build


for _cell, _what in (("rnn", "Elman RNN (tanh)"), ("lstm", "LSTM"), ("gru", "GRU")):
    register_model(f"char-{_cell}", f"character-level {_what} language model (embedding, {_cell.upper()}, "
                   "linear head); truncated BPTT", task="lm", default_dataset="kjv",
                   training={"batch_size": 64, "lr": 2e-3, "max_steps": 800}, embed_dim=64,
                   hidden_size=512, num_layers=1, dropout=0.0, tie_weights=False)(_builder(_cell))

__all__ = ["CharRNNLM", "CELLS"]
