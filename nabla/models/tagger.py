"""A bidirectional LSTM tagger for sequence labelling (one tag per token; Graves & Schmidhuber 2005,
Huang, Xu & Yu 2015 without the CRF):

    e_t = Embedding(x_t)
    h_t^fwd = LSTM^fwd(e_t, h_{t-1}^fwd),   h_t^bwd = LSTM^bwd(e_t, h_{t+1}^bwd)   (the reverse LSTM reads
                                                                                 each sequence from its end)
    logits_t = W [h_t^fwd ; h_t^bwd] + b,   p(y_t | x_1..x_T) = softmax(logits_t)

so the tag of token ``t`` sees the whole sequence, before and after it.  With ``lengths`` the padding
never reaches the states (``nn.LSTM(lengths=)``): the outputs at real positions do not depend on how
much padding follows.  Registered as ``bilstm-tagger`` (word segmentation of King James text,
``kjv-segment``: characters in, "begins a word" tags out).
"""
from __future__ import annotations

from .. import nn
from ..autograd.tensor import Tensor, from_numpy
from .registry import Option, register_model

__all__ = ["BiLSTMTagger"]


class BiLSTMTagger(nn.Module):
    """Embedding(vocab, embed_dim, padding_idx=0) -> LSTM(embed_dim, hidden_size, num_layers,
    bidirectional) -> Dropout -> Linear(num_directions * hidden_size, num_tags).

    ``forward(tokens (B, T) int64, lengths (B,) or None) -> logits (B, T, num_tags)``; the logits at
    padding positions are the head's bias (score them with ``ignore_index``)."""

    def __init__(self, vocab_size: int, num_tags: int, embed_dim: int = 32, hidden_size: int = 64,
                 num_layers: int = 2, bidirectional: bool = True, dropout: float = 0.1, padding_idx: int = 0):
        super().__init__()
        if num_tags < 2:
            raise ValueError(f"BiLSTMTagger: num_tags must be at least 2, got {num_tags}")
        self.vocab_size, self.num_tags = int(vocab_size), int(num_tags)
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        # time-major inside: the fused recurrent layers run (T, B, F)
        self.lstm = nn.LSTM(embed_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0,
                            bidirectional=bidirectional)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size * (2 if bidirectional else 1), num_tags)

    def forward(self, tokens, lengths=None):
        if tokens.ndim != 2:
            raise ValueError(f"BiLSTMTagger: expected tokens of shape (B, T), got {tuple(tokens.shape)}")
        if lengths is not None and not isinstance(lengths, Tensor):
            lengths = from_numpy(lengths)
        out, _ = self.lstm(self.embedding(tokens.transpose(0, 1)), lengths=lengths)   # (T, B, D*H)
        return self.head(self.dropout(out)).transpose(0, 1)                            # (B, T, num_tags)

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, num_tags={self.num_tags}"


@register_model("bilstm-tagger", "bidirectional LSTM tagger (embedding, BiLSTM, linear head per token); word "
                "segmentation of King James text without spaces (kjv-segment)", task="tagging",
                default_dataset="kjv-segment",
                training={"optimizer": "adam", "lr": 3e-3, "batch_size": 32, "epochs": 20.0, "time_budget": 240.0,
                          "budget_clock": "cpu", "scheduler": "warmup-cosine", "warmup": 50, "min_lr_ratio": 0.05,
                          "clip": 1.0, "eval_every": 1000},
                embed_dim=Option(32, int, help="character embedding size"),
                hidden_size=Option(64, int, help="LSTM units per direction"),
                num_layers=Option(2, int, help="stacked LSTM layers"),
                bidirectional=Option(True, bool, help="read the sequence both ways (False: left to right only)"),
                dropout=Option(0.1, float, help="dropout before the head (and between LSTM layers)"))
def _bilstm_tagger(in_shape, num_classes, **options):
    return BiLSTMTagger(int(in_shape[0]), num_classes, **options)
