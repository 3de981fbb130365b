"""Sequence classifiers for text, the three families the notes compare: convolution, recurrence, attention.

Each reads ``forward(tokens (B, T) int64 padded with 0, lengths (B,)) -> logits (B, num_classes)`` and
ignores the padding: the same verse gives the same logits whatever padding the batch adds (eval mode).

* ``TextCNN`` (Kim 2014): ``e = Embedding(tokens)``; for each width w in ``widths``,
  ``c_w[t] = ReLU(W_w * e[t : t+w] + b_w)`` (Conv1d, ``num_filters`` maps), pooled by the maximum over
  the windows that lie inside the sequence, ``p_w = max_{t <= L-w} c_w[t]`` (a sequence shorter than w
  keeps its one window, padded with the zero ``<pad>`` vector); ``logits = Linear(Dropout([p_3; p_4; p_5]))``.
* ``TextLSTM``: ``h = (Bi)LSTM(e, lengths)`` (padding never reaches the states); the verse is the mean of
  ``h_t`` over its L steps (``pool="mean"``) or the last valid state of each direction (``pool="last"``:
  the forward LSTM at step L, the backward one at step 1); ``logits = Linear(Dropout(.))``.
* ``TextTransformer``: ``x = sqrt(d) E[tokens] + PE`` (sinusoidal), a ``TransformerEncoder`` (pre-norm)
  whose self-attention ignores the padding keys (``src_key_padding_mask``), then the mean of the L valid
  outputs (``pool="mean"``) or the output at a learned class token put in front (``pool="cls"``, BERT's
  [CLS]); ``logits = Linear(Dropout(LayerNorm(.)))``.

Registered as ``text-cnn``, ``text-lstm``, ``text-transformer`` (task "text-classification", trained on
``kjv-books`` by default); the builder's ``in_shape`` is ``(vocabulary size,)``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd.tensor import Tensor, from_numpy
from ..nn.utils.rnn import sequence_mask
from ..ops.shape import cat
from .registry import Option, register_model

__all__ = ["TextCNN", "TextLSTM", "TextTransformer", "padding_mask", "masked_mean", "TRAINING"]

PAD = 0  # the vocabularies' <pad> id (nabla.data.text.vocab)


def _lengths(tokens, lengths) -> np.ndarray:
    """Lengths as an int64 array (B,): given, or counted as the non-padding tokens."""
    if lengths is None:
        return (np.asarray(tokens.data) != PAD).sum(1).astype(np.int64)
    return np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths, dtype=np.int64).reshape(-1)


def padding_mask(lengths: np.ndarray, T: int) -> np.ndarray:
    """(B, T) bool, True at padding positions (t >= length): PyTorch's key_padding_mask convention."""
    return ~sequence_mask(lengths, T).data


def masked_mean(h, lengths: np.ndarray):
    """The mean of ``h`` (B, T, F) over each row's first ``lengths`` steps: sum(h_t * m_t) / L."""
    keep = ~padding_mask(lengths, h.shape[1])
    weights = (keep / np.maximum(lengths, 1)[:, None]).astype(h.dtype)
    return (h * from_numpy(weights[:, :, None])).sum(1)


def _check_tokens(who, tokens, lengths):
    if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
        raise ValueError(f"{who}: expected tokens of shape (B, T) and an integer dtype, got shape "
                         f"{tuple(tokens.shape)} and dtype {tokens.dtype}")
    if lengths.shape != (tokens.shape[0],) or (lengths < 1).any() or (lengths > tokens.shape[1]).any():
        raise ValueError(f"{who}: expected lengths (B,) = ({tokens.shape[0]},) in [1, {tokens.shape[1]}], got "
                         f"shape {lengths.shape} and values in [{lengths.min(initial=0)}, {lengths.max(initial=0)}]")


class TextCNN(nn.Module):
    """Kim (2014): embedding, parallel Conv1d of ``widths`` with ReLU, max over time inside each verse,
    dropout, linear.  See the module docstring."""

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128, num_filters: int = 100,
                 widths=(3, 4, 5), dropout: float = 0.5):
        super().__init__()
        self.widths = tuple(int(w) for w in widths)
        if not self.widths or min(self.widths) < 1:
            raise ValueError(f"TextCNN: widths must be positive integers, got {widths!r}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.convs = nn.ModuleList([nn.Conv1d(embed_dim, num_filters, w) for w in self.widths])
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(self.widths), num_classes)

    def forward(self, tokens, lengths=None):
        n = _lengths(tokens, lengths)
        _check_tokens(self._short_repr(), tokens, n)
        T = tokens.shape[1]
        if T < max(self.widths):  # every verse needs one window of each width: pad the batch to the widest
            pad = np.full((tokens.shape[0], max(self.widths) - T), PAD, dtype=np.asarray(tokens.data).dtype)
            tokens = from_numpy(np.concatenate([np.asarray(tokens.data), pad], 1))
        e = self.embedding(tokens).transpose(1, 2)                   # (B, E, T): channels first for Conv1d
        pooled = []
        for w, conv in zip(self.widths, self.convs):
            c = conv(e).relu()                                       # (B, F, T - w + 1)
            # windows t <= L - w lie inside the verse; a shorter verse keeps window 0
            outside = np.arange(c.shape[2])[None, :] >= np.maximum(n - w + 1, 1)[:, None]
            pooled.append(c.masked_fill(from_numpy(outside[:, None, :]), -math.inf).amax(2))
        return self.fc(self.dropout(cat(pooled, 1)))

    def extra_repr(self) -> str:
        return f"widths={self.widths}"


class TextLSTM(nn.Module):
    """Embedding, a (bidirectional) LSTM over the valid steps only, mean or last-state pooling, dropout,
    linear.  See the module docstring."""

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128, hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = True, pool: str = "mean", dropout: float = 0.3):
        super().__init__()
        if pool not in ("mean", "last"):
            raise ValueError(f"TextLSTM: pool must be 'mean' or 'last', got {pool!r}")
        self.pool, self.bidirectional = pool, bool(bidirectional)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=PAD)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def forward(self, tokens, lengths=None):
        n = _lengths(tokens, lengths)
        _check_tokens(self._short_repr(), tokens, n)
        out, (h_n, _) = self.lstm(self.embedding(tokens), lengths=n)  # out (B, T, dirs*H), zero past each end
        if self.pool == "mean":
            feat = masked_mean(out, n)
        elif self.bidirectional:  # the last layer's forward state (at step L) and backward state (at step 1)
            feat = cat([h_n[-2], h_n[-1]], 1)
        else:
            feat = h_n[-1]
        return self.fc(self.dropout(feat))

    def extra_repr(self) -> str:
        return f"pool={self.pool!r}"


class TextTransformer(nn.Module):
    """Embedding + sinusoidal positions, a pre-norm TransformerEncoder that ignores padding keys, mean or
    class-token pooling, dropout, linear.  See the module docstring."""

    def __init__(self, vocab_size: int, num_classes: int, d_model: int = 128, num_layers: int = 2,
                 num_heads: int = 4, dim_feedforward: int = 256, dropout: float = 0.1, pool: str = "mean",
                 max_len: int = 512):
        super().__init__()
        if pool not in ("mean", "cls"):
            raise ValueError(f"TextTransformer: pool must be 'mean' or 'cls', got {pool!r}")
        if d_model % num_heads:
            raise ValueError(f"TextTransformer: d_model={d_model} is not divisible by num_heads={num_heads}")
        self.pool, self.d_model, self.max_len = pool, d_model, max_len
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        nn.init.normal_(self.embedding.weight, 0.0, d_model ** -0.5)  # scaled by sqrt(d) below: unit size
        self.embedding.weight.data[PAD] = 0
        self.positions = nn.SinusoidalPositionalEncoding(d_model, dropout=dropout, max_len=max_len, batch_first=True)
        if pool == "cls":
            self.cls_token = nn.Parameter(np.zeros((1, 1, d_model), dtype=self.embedding.weight.dtype))
            nn.init.normal_(self.cls_token, 0.0, 0.02)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout=dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model),
                                             enable_nested_tensor=False)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(d_model, num_classes)

    def forward(self, tokens, lengths=None):
        n = _lengths(tokens, lengths)
        _check_tokens(self._short_repr(), tokens, n)
        B, T = tokens.shape
        extra = int(self.pool == "cls")
        if T + extra > self.max_len:
            raise ValueError(f"TextTransformer: a sequence of {T} tokens exceeds max_len={self.max_len}")
        x = self.embedding(tokens) * math.sqrt(self.d_model)
        if extra:  # the class token goes first; it is never padding, and the verse moves one step right
            x = cat([self.cls_token.expand(B, 1, self.d_model), x], 1)
            n = n + 1
        h = self.encoder(self.positions(x), src_key_padding_mask=from_numpy(padding_mask(n, T + extra)))
        feat = h[:, 0] if extra else masked_mean(h, n)
        return self.fc(self.dropout(feat))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, pool={self.pool!r}"


def _widths(text: str) -> tuple:
    try:
        widths = tuple(int(w) for w in str(text).replace(" ", "").split(",") if w)
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise ValueError(f"text-cnn option 'widths' expects comma-separated positive integers such as '3,4,5', "
                         f"got {text!r}")
    return widths


# budgets in CPU seconds: `nabla train text-cnn` ends within ~5 CPU-minutes on one thread, evaluation included
TRAINING = {"optimizer": "adam", "batch_size": 64, "epochs": 30, "time_budget": 240, "budget_clock": "cpu",
            "scheduler": "warmup-cosine", "warmup": 100, "min_lr_ratio": 0.05}
_TASK = {"task": "text-classification", "default_dataset": "kjv-books"}


@register_model("text-cnn", "Kim's (2014) CNN for sentence classification: embedding, Conv1d of widths 3/4/5 with "
                "ReLU, max over time, dropout, linear", **_TASK, training={**TRAINING, "lr": 1e-3},
                embed_dim=128, num_filters=100, widths=Option("3,4,5", str, help="comma-separated filter widths"),
                dropout=0.5)
def text_cnn(in_shape, num_classes, embed_dim=128, num_filters=100, widths="3,4,5", dropout=0.5):
    return TextCNN(in_shape[0], num_classes, embed_dim, num_filters, _widths(widths), dropout)


@register_model("text-lstm", "LSTM sentence classifier: embedding, bidirectional LSTM over the valid steps, masked "
                "mean (or last-state) pooling, dropout, linear", **_TASK,
                training={**TRAINING, "lr": 2e-3, "clip": 1.0}, embed_dim=128, hidden_size=128, num_layers=1,
                bidirectional=True, pool=Option("mean", str, ("mean", "last")), dropout=0.3)
def text_lstm(in_shape, num_classes, **options):
    return TextLSTM(in_shape[0], num_classes, **options)


@register_model("text-transformer", "Transformer-encoder sentence classifier: embedding + sinusoidal positions, "
                "pre-norm encoder with a key padding mask, masked mean (or class-token) pooling, linear", **_TASK,
                training={**TRAINING, "lr": 5e-4, "clip": 1.0, "warmup": 300}, d_model=128, num_layers=2,
                num_heads=4, dim_feedforward=256, dropout=0.1, pool=Option("mean", str, ("mean", "cls")),
                max_len=512)
def text_transformer(in_shape, num_classes, **options):
    return TextTransformer(in_shape[0], num_classes, **options)
