"""A small decoder-only Transformer language model (GPT; Radford et al. 2018, 2019):

    h_0 = E[x] + P[0..T-1]                                      token embedding + positions
    h_l = h_{l-1} + MHA(LN(h_{l-1}), causal) ;  h_l += FF(LN(h_l))   pre-norm blocks, l = 1..L
    p(x_{t+1} | x_<=t) = softmax(LN(h_L) W^T)                   W = E when the weights are tied

Each block is nabla.nn.TransformerEncoderLayer(norm_first=True) with the causal mask (position t attends
to positions <= t only).  Positions are learned (GPT) or sinusoidal (Vaswani et al.).  Registered as
``gpt`` (task "lm").
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd.tensor import from_numpy
from ..ops.attention import causal_additive_mask
from ..ops.loss import cross_entropy
from .registry import Option, register_model


class GPT(nn.Module):
    """``forward(x (B, T) int64, state=None) -> (logits (B, T, V), None)`` (``state`` is accepted so that
    recurrent and Transformer LMs share one training loop; a Transformer carries no state between
    chunks).  ``max_len`` bounds the context; longer prompts are cut to their last ``max_len`` tokens."""

    stateful = False

    def __init__(self, vocab_size: int, d_model: int = 256, num_layers: int = 4, num_heads: int = 4,
                 dim_feedforward: int | None = None, max_len: int = 256, dropout: float = 0.0,
                 positional: str = "learned", tie_weights: bool = True, activation: str = "gelu"):
        super().__init__()
        if positional not in ("learned", "sinusoidal"):
            raise ValueError(f"GPT: positional must be 'learned' or 'sinusoidal', got {positional!r}")
        if d_model % num_heads:
            raise ValueError(f"GPT: d_model={d_model} is not divisible by num_heads={num_heads}")
        self.vocab_size, self.d_model, self.max_len, self.positional = vocab_size, d_model, max_len, positional
        self.tok_embedding = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.tok_embedding.weight, 0.0, 0.02)  # GPT-2's: small next to the positions' scale
        if positional == "learned":
            self.pos_embedding = nn.LearnedPositionalEncoding(max_len, d_model, batch_first=True)
        else:
            self.pos_embedding = nn.SinusoidalPositionalEncoding(d_model, dropout=0.0, max_len=max_len,
                                                                 batch_first=True)
        # sinusoidal positions have unit scale: lift the token embeddings to match (Vaswani et al. 3.4)
        self.embed_scale = math.sqrt(d_model) if positional == "sinusoidal" else 1.0
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, num_heads, dim_feedforward or 4 * d_model, dropout=dropout,
                                           activation=activation, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers, norm=nn.LayerNorm(d_model),
                                            enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        if tie_weights:
            self.head.weight = self.tok_embedding.weight

    def _embed(self, x):
        if x.shape[1] > self.max_len:
            raise ValueError(f"GPT: a sequence of {x.shape[1]} tokens exceeds max_len={self.max_len} "
                             f"(input of shape {tuple(x.shape)})")
        h = self.tok_embedding(x)
        if self.embed_scale != 1.0:
            h = h * self.embed_scale
        return self.dropout(self.pos_embedding(h))

    def _features(self, x):
        return self.blocks(self._embed(x), is_causal=True)            # (B, T, d_model)

    def forward(self, x, state=None):
        return self.head(self._features(x)), None

    def loss(self, x, y, state=None):
        """Mean next-token cross-entropy (nats per token) of ``y`` (B, T) given ``x`` (B, T)."""
        h = self._features(x)
        logits = self.head(h.reshape(-1, self.d_model))
        return cross_entropy(logits, y.reshape(-1)), None

    def step(self, prefix, state=None):
        """The whole prefix (B, t) -> (next-token logits (B, V), None), for decoding with ``feed="prefix"``
        (no key/value cache: the prefix is re-read, cut to the last ``max_len`` tokens)."""
        if prefix.ndim == 1:
            prefix = prefix.reshape(-1, 1)
        if prefix.shape[1] > self.max_len:
            prefix = prefix[:, prefix.shape[1] - self.max_len:]
        h = self._features(prefix)
        return self.head(h[:, -1]), None

    def attention_weights(self, x):
        """Every layer's causal self-attention weights for ``x`` (B, T): a list of (B, heads, T, T) arrays
        (row t: how much position t reads from each position <= t), for plotting."""
        h = self._embed(x)
        T = x.shape[1]
        mask = from_numpy(causal_additive_mask(T, T, h.dtype))
        maps = []
        for layer in self.blocks.layers:
            a = layer.norm1(h) if layer.norm_first else h
            _, w = layer.self_attn(a, a, a, attn_mask=mask, need_weights=True, average_attn_weights=False)
            maps.append(np.asarray(w.data))
            h = layer(h, is_causal=True)
        return maps

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, d_model={self.d_model}, positional={self.positional!r}"


@register_model("gpt", "small decoder-only Transformer language model (GPT-style: causal pre-norm blocks, learned "
                "or sinusoidal positions, tied embeddings)", task="lm", default_dataset="kjv",
                training={"batch_size": 32, "lr": 1.5e-3, "max_steps": 800, "warmup": 100},
                options_from_settings={"max_len": "seq_len"},  # positions beyond the training length never train
                d_model=256, num_layers=4, num_heads=4, dim_feedforward=1024, max_len=256, dropout=0.0,
                positional=Option("learned", choices=("learned", "sinusoidal")), tie_weights=True,
                activation=Option("gelu", choices=("gelu", "relu")))
def _gpt(in_shape, num_classes, **options):
    return GPT(num_classes, **options)


__all__ = ["GPT"]
