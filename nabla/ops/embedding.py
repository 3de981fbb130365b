"""Embedding lookup, y = W[indices], trained by scattering the gradient back into the rows used.

    forward   y[..., :] = W[idx[...], :]
    backward  dW[r, :] = sum over positions with idx == r of g[..., :]   (0 for the padding_idx row)
The backward is itself a Function (a scatter-add) whose backward is the lookup again, so gradients
of gradients work.  ``nabla.nn.functional.embedding``; ``nn.Embedding`` calls it."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor, from_numpy
from .shape import _add_rows

__all__: list = []  # reached as nabla.nn.functional.embedding, as in PyTorch


def _scatter_rows(idx: np.ndarray, g: np.ndarray, num: int, padding_idx) -> np.ndarray:
    """out[r] = sum of g's rows whose index is r (unbuffered add, repeated indices accumulate)."""
    d = g.shape[-1]
    out = _add_rows(idx.reshape(-1), g.reshape(-1, d), num)  # np.add.at semantics, vectorised faster
    if padding_idx is not None:
        out[padding_idx] = 0
    return out


class EmbeddingFunction(Function):
    """y = W[idx];  dW = scatter_add(idx, g) with the padding row zeroed."""
    save_inputs = False

    def __init__(self, indices, padding_idx, scale_grad_by_freq=False):
        self.indices, self.padding_idx, self.scale = indices, padding_idx, scale_grad_by_freq

    def forward(self, w):
        self.num = w.shape[0]
        return w[self.indices]

    def backward(self, g):
        return EmbeddingBackward.apply(g, indices=self.indices, num=self.num, padding_idx=self.padding_idx,
                                       scale_grad_by_freq=self.scale)


class EmbeddingBackward(Function):
    """dW = scatter_add(idx, g) (optionally divided by each index's frequency in the batch);
    its own backward is the lookup of the incoming gradient's rows (a linear map's adjoint)."""
    save_inputs = False

    def __init__(self, indices, num, padding_idx, scale_grad_by_freq=False):
        self.indices, self.num, self.padding_idx, self.scale = indices, num, padding_idx, scale_grad_by_freq

    def _freq(self):
        counts = np.bincount(self.indices.reshape(-1), minlength=self.num)
        return counts[self.indices][..., None]

    def forward(self, g):
        if self.scale:
            g = g / self._freq()
        return _scatter_rows(self.indices, g, self.num, self.padding_idx)

    def backward(self, gg):
        out = EmbeddingFunction.apply(gg, indices=self.indices, padding_idx=None)
        if self.padding_idx is not None:
            keep = (self.indices != self.padding_idx)[..., None].astype(gg.dtype)
            out = out * from_numpy(keep)
        if self.scale:
            out = out / from_numpy(self._freq().astype(gg.dtype))
        return out


def _check_indices(op, input, num):
    idx = input.data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an integer index tensor (int64), got dtype {idx.dtype} "
                        f"of shape {tuple(idx.shape)}")
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = idx[(idx < 0) | (idx >= num)].flat[0]
        raise IndexError(f"{op}: index {int(bad)} is out of range for {num} embeddings (expected values in "
                         f"[0, {num - 1}]); input of shape {tuple(idx.shape)}")
    return idx


def _normalize_padding_idx(padding_idx, num, op):
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(f"{op}: padding_idx {padding_idx} must be within num_embeddings ({num})")
    return padding_idx % num


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False, _who: str = "embedding"):
    """Rows of ``weight`` (num_embeddings, embedding_dim) picked by the integer ``input`` (any shape):
    output shape input.shape + (embedding_dim,).  padding_idx's row gets no gradient; with max_norm,
    the rows looked up are first rescaled in place to norm at most max_norm (PyTorch's renorm)."""
    if weight.ndim != 2:
        raise ValueError(f"{_who}: weight should be 2-d (num_embeddings, embedding_dim), got {tuple(weight.shape)}")
    num = weight.shape[0]
    idx = _check_indices(_who, input, num)
    padding_idx = _normalize_padding_idx(padding_idx, num, _who)
    if max_norm is not None:
        with no_grad():
            rows = np.unique(idx)
            w = weight.data
            norms = np.linalg.norm(w[rows], ord=norm_type, axis=1, keepdims=True) if norm_type != 2 else \
                np.sqrt((w[rows] ** 2).sum(axis=1, keepdims=True))
            scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            w[rows] = w[rows] * scale.astype(w.dtype)
            weight._bump()
    return EmbeddingFunction.apply(weight, indices=idx, padding_idx=padding_idx,
                                   scale_grad_by_freq=scale_grad_by_freq)
