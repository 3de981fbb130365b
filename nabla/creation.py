"""Creating tensors: from data, filled, ranges, random (nabla's seeded generator)."""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd.tensor import Tensor, _to_array, from_numpy  # noqa: F401  (nabla.from_numpy)


__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
           "empty_like", "full_like", "arange", "linspace", "eye", "rand", "randn", "randint", "normal",
           "rand_like", "randn_like", "randint_like", "randperm"]


def _dtype(dtype, floating=True):
    if dtype is None:
        return backend.get_default_dtype() if floating else None
    return np.dtype(dtype)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        return tuple(size[0])
    return tuple(int(s) for s in size)


def _wrap(arr, requires_grad):
    return Tensor(arr, requires_grad=requires_grad)


def tensor(data, dtype=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists of floats become the default dtype)."""
    arr = _to_array(data, backend.resolve_dtype(dtype))
    src = data.data if isinstance(data, Tensor) else data
    if isinstance(src, np.ndarray) and np.may_share_memory(arr, src):  # ndarray.data is a buffer, not src
        arr = arr.copy()
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data, dtype=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array when it can."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    return Tensor(_to_array(data, backend.resolve_dtype(dtype)))


def zeros(*size, dtype=None, requires_grad=False):
    return _wrap(backend.xp.zeros(_size(size), dtype=_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad=False):
    return _wrap(backend.xp.ones(_size(size), dtype=_dtype(dtype)), requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return _wrap(backend.xp.empty(_size(size), dtype=_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    if dtype is None and isinstance(fill_value, (bool, int)):
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64
    return _wrap(backend.xp.full(tuple(size) if not isinstance(size, int) else (size,), fill_value,
                                 dtype=_dtype(dtype)), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    return _wrap(backend.xp.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    return _wrap(backend.xp.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


def empty_like(t, dtype=None, requires_grad=False):
    return _wrap(backend.xp.empty(t.shape, dtype=dtype or t.dtype), requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False):
    return _wrap(backend.xp.full(t.shape, fill_value, dtype=dtype or t.dtype), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """Values in [start, end) by step; integers unless a bound or the step is a float (as PyTorch)."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        floating = any(isinstance(v, float) for v in (start, end, step))
        dtype = backend.get_default_dtype() if floating else np.int64
    return _wrap(backend.xp.arange(start, end, step, dtype=np.dtype(dtype)), requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    return _wrap(backend.xp.linspace(start, end, int(steps), dtype=_dtype(dtype)), requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _wrap(backend.xp.eye(n, m, dtype=_dtype(dtype)), requires_grad)


def rand(*size, dtype=None, requires_grad=False):
    """Uniform on [0, 1)."""
    return _wrap(backend.rng().random(_size(size)).astype(_dtype(dtype)), requires_grad)


def randn(*size, dtype=None, requires_grad=False):
    """Standard normal."""
    return _wrap(backend.rng().standard_normal(_size(size)).astype(_dtype(dtype)), requires_grad)


def randint(low, high=None, size=(), dtype=None, requires_grad=False):
    """Integers in [low, high); ``randint(high, size=...)`` starts at 0."""
    if isinstance(high, (tuple, list)) and size == ():  # randint(high, size), PyTorch's positional form
        high, size = None, high
    if high is None:
        low, high = 0, low
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return _wrap(backend.rng().integers(low, high, size=size).astype(dtype or np.int64), requires_grad)


def normal(mean=0.0, std=1.0, size=(), dtype=None, requires_grad=False):
    """Normal samples; ``mean``/``std`` may be tensors (the result then has their broadcast shape)."""
    m = mean.data if isinstance(mean, Tensor) else mean
    s = std.data if isinstance(std, Tensor) else std
    shape = np.broadcast_shapes(np.shape(m), np.shape(s)) if size == () else tuple(size)
    return _wrap(backend.rng().normal(m, s, size=shape).astype(_dtype(dtype)), requires_grad)


def rand_like(t, dtype=None, requires_grad=False):
    return rand(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False):
    return randn(*t.shape, dtype=dtype or t.dtype, requires_grad=requires_grad)


def randint_like(t, low, high=None, dtype=None):
    return randint(low, high, size=t.shape, dtype=dtype or t.dtype)


def randperm(n, dtype=None):
    return Tensor(backend.rng().permutation(n).astype(dtype or np.int64))
