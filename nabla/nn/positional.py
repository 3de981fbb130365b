"""Positional encodings: attention alone is blind to order (permuting the keys permutes nothing in the
output), so each position's embedding gets a vector that says where it is.

Sinusoidal (Vaswani et al. 2017), fixed:
    PE[pos, 2i] = sin(pos / 10000^(2i/d)),   PE[pos, 2i+1] = cos(pos / 10000^(2i/d))
so PE[pos + k] is a fixed linear map (a rotation per frequency) of PE[pos], for every pos.
Learned (BERT, GPT): a trained table PE[pos] of shape (max_len, d_model).
Both compute y = dropout(x + PE[offset : offset + L]); the gradient is dx = dy (and dPE = the sum of dy
over the batch for the learned table).
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor, from_numpy
from ..ops.dropout import dropout
from ..ops.shape import reshape
from . import init
from .module import Module
from .parameter import Parameter


def sinusoidal_positional_encoding(max_len: int, d_model: int, dtype=None) -> Tensor:
    """The (max_len, d_model) table PE above (odd d_model: the last cosine column is dropped)."""
    dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
    pos = np.arange(max_len, dtype=np.float64)[:, None]
    inv_freq = np.exp(-np.log(10000.0) * np.arange(0, d_model, 2, dtype=np.float64) / d_model)
    pe = np.zeros((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(pos * inv_freq)
    pe[:, 1::2] = np.cos(pos * inv_freq)[:, :d_model // 2]
    return Tensor(pe.astype(dt))


class _PositionalEncoding(Module):
    def _table_slice(self, x, offset, table_len, d_model):
        name = self._short_repr()
        if x.ndim not in (2, 3) or x.shape[-1] != d_model:
            layout = "(N, L, d_model)" if self.batch_first else "(L, N, d_model)"
            raise ValueError(f"{name}: expected input of shape {layout} or (L, d_model) with d_model={d_model}, "
                             f"got {tuple(x.shape)}")
        length = x.shape[1] if (x.ndim == 3 and self.batch_first) else x.shape[0]
        if offset < 0 or offset + length > table_len:
            raise ValueError(f"{name}: positions {offset}..{offset + length - 1} exceed max_len={table_len} "
                             f"(input of shape {tuple(x.shape)})")
        shape = (length, d_model) if x.ndim == 2 or self.batch_first else (length, 1, d_model)
        return length, shape


class SinusoidalPositionalEncoding(_PositionalEncoding):
    """y = dropout(x + PE[offset : offset + L]) with the fixed sinusoidal table (a non-persistent buffer
    ``pe``, so state_dicts do not carry it).  Input (L, N, d_model), (N, L, d_model) with batch_first, or
    (L, d_model).  ``forward(x, offset)`` starts at position ``offset`` (incremental decoding)."""

    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000, batch_first: bool = False,
                 dtype=None):
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, got {dropout}")
        self.d_model, self.dropout, self.max_len, self.batch_first = int(d_model), dropout, int(max_len), batch_first
        self.register_buffer("pe", sinusoidal_positional_encoding(self.max_len, self.d_model, dtype),
                             persistent=False)

    def forward(self, x, offset: int = 0):
        length, shape = self._table_slice(x, offset, self.max_len, self.d_model)
        pe = self.pe.data[offset:offset + length].reshape(shape)
        if pe.dtype != x.dtype:
            pe = pe.astype(x.dtype)
        y = x + from_numpy(pe)
        return dropout(y, self.dropout, self.training) if self.dropout else y

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, dropout={self.dropout}"


PositionalEncoding = SinusoidalPositionalEncoding


class LearnedPositionalEncoding(_PositionalEncoding):
    """y = dropout(x + W[offset : offset + L]) with a trained table ``weight`` (max_len, d_model),
    initialised N(0, 0.02^2) (GPT-2's choice: small next to unit-scale token embeddings).
    Input layouts as SinusoidalPositionalEncoding."""

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0, batch_first: bool = False, dtype=None):
        super().__init__()
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 and 1, got {dropout}")
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.max_len, self.d_model, self.dropout, self.batch_first = int(max_len), int(d_model), dropout, batch_first
        self.weight = Parameter(np.empty((self.max_len, self.d_model), dtype=dt))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x, offset: int = 0):
        length, shape = self._table_slice(x, offset, self.max_len, self.d_model)
        pe = self.weight[offset:offset + length]
        if len(shape) == 3:
            pe = reshape(pe, shape)
        y = x + pe
        return dropout(y, self.dropout, self.training) if self.dropout else y

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}, dropout={self.dropout}"


__all__ = ["SinusoidalPositionalEncoding", "PositionalEncoding", "LearnedPositionalEncoding",
           "sinusoidal_positional_encoding"]
