"""Helpers shared by the op families: turning operands into tensors, normalising dims."""
from __future__ import annotations

import numpy as np

from ..autograd.broadcast import as_tensor  # noqa: F401  (ops' operand conversion lives with the engine)
from ..autograd.tensor import Tensor


def _const(a) -> Tensor:
    """A graph-free tensor on the array ``a`` itself (no copy; a NumPy scalar becomes a 0-d array): the
    masks, saved factors and index results that ops hand out or use in backward formulas.  ops' one
    unchecked wrap (``nabla.from_numpy`` is the public, checked one): it runs on every op's hot path."""
    if isinstance(a, np.generic):
        a = np.asarray(a)
    return Tensor._make(a, None)


def normalize_dim(dim: int, ndim: int, op: str) -> int:
    """A dim in [-ndim, ndim) as a non-negative axis, or an IndexError naming the op."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions "
                         f"(expected a value in [{-n}, {n - 1}])")
    return dim % n


def normalize_dims(dim, ndim: int, op: str):
    """None (all axes), an int, or a tuple of ints, as a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (normalize_dim(int(dim), ndim, op),)
    axes = tuple(sorted(normalize_dim(int(d), ndim, op) for d in dim))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dim {tuple(dim)} names an axis twice")
    return axes


def install(**methods) -> None:
    """Attach functions as Tensor methods (``x.exp()`` is ``nabla.exp(x)``)."""
    for name, fn in methods.items():
        setattr(Tensor, name, fn)


def sum_rows(a: np.ndarray) -> np.ndarray:
    """a (n, m) -> (m,), the sum of its rows.  For floats it is the product ones @ a: BLAS runs it on every
    core, 2-4x faster than NumPy's reduction over axis 0 at the sizes of a training step (2048 x 128..1000)."""
    if a.dtype.kind == "f" and a.shape[0] > 1:
        return np.ones(a.shape[0], dtype=a.dtype) @ a
    return a.sum(axis=0)


def sum_cols(a: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """a (n, m) -> (n,), scale times the sum of each row's m entries (scale 1/m: the row means).  For floats
    it is the product a @ (scale * ones): BLAS instead of NumPy's short last-axis reduction, several times
    slower at m = 128..1024."""
    if a.dtype.kind == "f":
        return a @ np.full(a.shape[1], scale, dtype=a.dtype)
    return a.sum(axis=1) * scale


def exp_sums_unusable(sums: np.ndarray) -> np.ndarray:
    """For sums of exp(z) taken without subtracting the max (softmax's usual shift): True where a sum
    cannot be used, because it overflowed (inf, NaN) or is below tiny * 2**(mantissa bits), where its
    largest term may have lost precision or every term underflowed (or every z was -inf).  Scores and
    logits almost always stay well inside exp's range, so callers skip the max pass and redo only these
    rows with ``max_shifted_exp``; the results agree up to rounding."""
    info = np.finfo(sums.dtype)
    return ~((sums >= info.tiny * 2.0 ** info.nmant) & (sums < np.inf))


def max_shifted_exp(rows: np.ndarray):
    """(e, m, sums) for rows (K, C): m each row's max (keepdims; 0 for a row that is all -inf, so that its
    e is all 0 instead of NaN), e = exp(rows - m) and sums its row sums (keepdims)."""
    m = rows.max(axis=-1, keepdims=True)
    m[np.isneginf(m)] = 0.0
    e = np.exp(rows - m)
    return e, m, e.sum(axis=-1, keepdims=True)
