"""Indexing: ``x[key]``, gather/scatter, index_select, masked_fill, take_along_dim, nonzero.

Reading elements by index is linear in x, so every gradient here is the adjoint write: the
incoming gradient is added back, into zeros of x's shape, at the positions that were read
(repeated indices accumulate).  That adjoint is itself an op (IndexPutAdd, SliceScatter,
TakeAdd from shape.py) whose gradient is the read again, so gradients of gradients work.

Pure basic keys (ints, slices, None, Ellipsis) go through shape.Slice and return views; keys with
integer arrays or boolean masks go through Index and return copies (NumPy's and PyTorch's rules
agree on where the indexed dims land).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import _GradState
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, install, normalize_dim
from .arithmetic import where
from .shape import Slice, Take, TakeAdd, _add_rows, broadcast_to, reshape


# ---------------------------------------------------------------------- keys
def _key_item(k, op):
    """One element of an index key as NumPy wants it: int, slice, None, Ellipsis, bool or an array."""
    if k is None or k is Ellipsis or isinstance(k, slice):
        return k
    if isinstance(k, (bool, np.bool_)):
        return bool(k)
    if isinstance(k, (numbers.Integral, np.integer)):
        return int(k)
    if isinstance(k, Tensor):
        k = k.data
    elif isinstance(k, (list, tuple)):
        k = np.asarray(k)
        if k.size == 0:
            k = k.astype(np.int64)  # x[[]] selects nothing (PyTorch reads [] as an empty long index)
    if isinstance(k, np.ndarray):
        if k.dtype.kind not in "iub":
            raise IndexError(f"{op}: tensors used as indices must be integer or bool, got dtype {k.dtype}")
        if k.ndim == 0 and k.dtype.kind in "iu":
            return int(k)
        return k
    raise TypeError(f"{op}: unsupported index element of type {type(k).__name__}; expected int, slice, None, "
                    "Ellipsis, or an integer/bool tensor, array or list")


def _normalize_key(key, op="__getitem__"):
    """The key as a tuple for NumPy, and whether it is basic (ints, slices, None, Ellipsis only)."""
    if not isinstance(key, tuple):
        key = (key,)
    key = tuple(_key_item(k, op) for k in key)
    basic = all(k is None or k is Ellipsis or isinstance(k, (slice, int)) and not isinstance(k, bool) for k in key)
    return key, basic


def _read(array, key, op="__getitem__"):
    try:
        return array[key]
    except IndexError as e:
        raise IndexError(f"{op}: {e} (tensor of shape {array.shape})") from None


def _flat_positions(key, shape):
    """If key is one integer array per dim, the flat positions it reads (negatives wrapped), else None."""
    if len(key) != len(shape) or not all(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in key):
        return None
    flat = 0
    stride = 1
    for k, n in zip(reversed(key), reversed(shape)):
        flat = flat + (k % n if n else k) * stride
        stride *= n
    return np.asarray(flat)


def _index_add_zeros(shape, key, values):
    """zeros(shape) with values added at key (the adjoint of reading x[key]).

    Fast paths: boolean masks and slices never read an element twice (plain assignment); one
    integer array on dim 0 is a row accumulation; one integer array per dim (gather) is the same
    accumulation on flat positions.  Other mixtures use np.add.at."""
    if not any(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in key):
        out = np.zeros(shape, dtype=values.dtype)
        out[key] = values
        return out
    k0 = key[0]
    if (isinstance(k0, np.ndarray) and k0.ndim >= 1 and k0.dtype.kind in "iu"
            and all(isinstance(k, slice) and k == slice(None) for k in key[1:])):
        # x[idx] with idx of any shape (an embedding lookup): rows of g added at idx
        rows = values.reshape((k0.size,) + values.shape[k0.ndim:])
        return _add_rows(k0.reshape(-1) % shape[0] if shape[0] else k0.reshape(-1), rows, shape[0])
    flat = _flat_positions(key, shape)
    if flat is not None:
        flat = np.broadcast_to(flat, values.shape).reshape(-1)
        return _add_rows(flat, values.reshape(-1), int(np.prod(shape))).reshape(shape)
    out = np.zeros(shape, dtype=values.dtype)
    np.add.at(out, key, values)
    return out


# ---------------------------------------------------------------------- ops
class Index(Function):
    """y = x[key], key with integer arrays and/or boolean masks (and basic parts);
    dx = zeros(x.shape) with g added at key (repeated indices accumulate)."""
    save_inputs = False

    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.in_shape = x.shape
        return _read(x, self.key)

    def backward(self, g):
        return IndexPutAdd.apply(g, key=self.key, shape=self.in_shape)


class IndexPutAdd(Function):
    """y = zeros(shape) with x added at key (the adjoint of Index; scatter-add);  dx = g[key]"""
    save_inputs = False

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, x):
        return _index_add_zeros(self.shape, self.key, x)

    def backward(self, gg):
        return Index.apply(gg, key=self.key)


class Scatter(Function):
    """y = x with src written at key (no accumulation; with repeated positions one write wins);
    dx = g with zeros at key,  dsrc = g[key]"""
    save_inputs = False

    def __init__(self, key):
        self.key = key

    def forward(self, x, src):
        out = x.copy()
        out[self.key] = src
        return out

    def backward(self, g):
        nx, ns = self.needs_input_grad
        gx = gs = None
        if nx:
            keep = np.ones(g.shape, dtype=g.dtype)
            keep[self.key] = 0
            gx = g * _const(keep)
        if ns:
            gs = Index.apply(g, key=self.key)
        return gx, gs


def getitem(x, key):
    """x[key] with PyTorch's (NumPy's) rules: ints, slices, None, Ellipsis, integer tensors/arrays/lists,
    boolean masks, and mixtures.  Basic keys give views; advanced keys give copies."""
    key, basic = _normalize_key(key)
    if basic:
        try:
            return Slice.apply(x, key=key)
        except IndexError as e:
            raise IndexError(f"__getitem__: {e} (tensor of shape {x.shape})") from None
    return Index.apply(x, key=key)


def _int_index(index, op):
    idx = index.data if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        if idx.size == 0:
            return idx.astype(np.int64)
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {idx.dtype}")
    return idx


def _check_range(idx, n, op, dim):
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"{op}: index {bad} is out of bounds for dim {dim} with size {n} "
                         f"(expected indices in [0, {n - 1}])")


def _along_key(idx, dim):
    """The advanced key reading x[i0, ..., idx[i0, ...], ...] at every position of idx, idx on dim."""
    key = []
    for d, n in enumerate(idx.shape):
        if d == dim:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(np.arange(n).reshape(shape))
    return tuple(key)


def _gather_key(x, dim, index, op):
    idx = _int_index(index, op)
    d = normalize_dim(dim, x.ndim, op)
    if idx.ndim != x.ndim and not (x.ndim <= 1 and idx.ndim <= 1):
        raise ValueError(f"{op}: index of shape {idx.shape} must have the same number of dimensions as the "
                         f"input of shape {x.shape}")
    if x.ndim == 0:
        idx = idx.reshape(())
        _check_range(idx, 1, op, dim)
        return (), idx
    idx = idx.reshape(idx.shape if idx.ndim else (1,))
    for i, (a, b) in enumerate(zip(idx.shape, x.shape)):
        if i != d and a > b:
            raise ValueError(f"{op}: index of shape {idx.shape} is larger than the input of shape {x.shape} "
                             f"in dim {i}, which is not dim {d}")
    _check_range(idx, x.shape[d], op, d)
    return _along_key(idx, d), idx


def gather(x, dim, index, sparse_grad=False):
    """y[i][j][k] = x[index[i][j][k]][j][k] (for dim=0), y of index's shape;
    dx = zeros(x.shape) with g added at those positions (scatter_add)."""
    x = as_tensor(x)
    key, idx = _gather_key(x, dim, index, "gather")
    if x.ndim == 0:
        return reshape(x, idx.shape)
    return Index.apply(x, key=key)


def _src_for(src, idx, like, op):
    """src cut to index's shape (PyTorch uses only that corner of src)."""
    src = as_tensor(src, like)
    if src.ndim != idx.ndim and not (src.ndim <= 1 and idx.ndim <= 1):
        raise ValueError(f"{op}: src of shape {src.shape} must have as many dims as index of shape {idx.shape}")
    src = reshape(src, idx.shape) if src.ndim != idx.ndim else src
    if any(a > b for a, b in zip(idx.shape, src.shape)):
        raise ValueError(f"{op}: index of shape {idx.shape} is larger than src of shape {src.shape}")
    if src.shape != idx.shape:
        src = Slice.apply(src, key=tuple(slice(0, n) for n in idx.shape))
    return src


def scatter_add(x, dim, index, src):
    """y = x, then y[index[i][j]][j] += src[i][j] (for dim=0; repeated indices accumulate);
    dx = g,  dsrc = gather(g, dim, index)."""
    x = as_tensor(x)
    key, idx = _gather_key(x, dim, index, "scatter_add")
    src = _src_for(src, idx, x, "scatter_add")
    if x.ndim == 0:
        return x + reshape(src, ())
    return x + IndexPutAdd.apply(src, key=key, shape=x.shape)


def scatter(x, dim, index, src=None, value=None, reduce=None):
    """y = x, then y[index[i][j]][j] = src[i][j] (for dim=0), or = value for a number;
    dx = g with zeros where written,  dsrc = gather(g, dim, index).  With repeated positions, which
    write wins is unspecified (as in PyTorch)."""
    if reduce is not None:
        if reduce == "add":
            return scatter_add(x, dim, index, src)
        raise ValueError(f"scatter: reduce must be None or 'add', got {reduce!r}")
    x = as_tensor(x)
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter: expected src (a tensor) or value (a number)")
    key, idx = _gather_key(x, dim, index, "scatter")
    if x.ndim == 0:
        key = ()
    if not isinstance(src, Tensor):
        mask = np.zeros(x.shape, dtype=bool)
        mask[key] = True
        return masked_fill(x, mask, src)
    src = _src_for(src, idx, x, "scatter")
    if x.ndim == 0:
        src = reshape(src, ())
    if src.dtype != x.dtype:
        src = src.to(x.dtype)
    return Scatter.apply(x, src, key=key)


def index_select(x, dim, index):
    """y = x's slices at index along dim (index 1-D);  dx adds g's slices back at index."""
    x = as_tensor(x)
    idx = _int_index(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 0-d or 1-D, got shape {idx.shape}")
    if x.ndim == 0:
        _check_range(idx, 1, "index_select", dim)
        normalize_dim(dim, 0, "index_select")
        return reshape(x, idx.shape) if idx.ndim else x
    d = normalize_dim(dim, x.ndim, "index_select")
    idx = idx.reshape(-1)
    _check_range(idx, x.shape[d], "index_select", d)
    return Take.apply(x, dim=d, index=idx)


def index_add(x, dim, index, source, alpha=1):
    """y = x, then y's slice index[i] along dim += alpha * source's slice i (repeats accumulate);
    dx = g,  dsource = alpha * index_select(g, dim, index)."""
    x = as_tensor(x)
    source = as_tensor(source, x)
    idx = _int_index(index, "index_add").reshape(-1)
    d = normalize_dim(dim, x.ndim, "index_add")
    if x.ndim == 0:
        return x + alpha * reshape(source, ())
    expect = x.shape[:d] + (len(idx),) + x.shape[d + 1:]
    if source.shape != expect:
        raise ValueError(f"index_add: source of shape {source.shape} does not match the expected {expect} "
                         f"(input {x.shape}, {len(idx)} indices along dim {d})")
    _check_range(idx, x.shape[d], "index_add", d)
    added = TakeAdd.apply(source, dim=d, index=idx, n=x.shape[d])
    return x + (added if alpha == 1 else added * alpha)


def masked_fill(x, mask, value):
    """y = value where mask (broadcast to x's shape) holds, else x;  dx = g where not mask,
    dvalue = sum of g where mask (value a number or a 0-d tensor)."""
    x = as_tensor(x)
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        ok = np.broadcast_shapes(m.shape, x.shape) == x.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"masked_fill: mask of shape {m.shape} cannot be broadcast to the input's shape {x.shape}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        value = value.to(x.dtype) if value.dtype != x.dtype else value
    else:
        value = _const(np.asarray(value, dtype=x.dtype))
    return where(m, value, x)


def masked_select(x, mask):
    """The elements of x where mask holds (both broadcast), as a 1-D tensor."""
    x = as_tensor(x)
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: mask must be a bool tensor, got dtype {m.dtype}")
    try:
        shape = np.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        raise ValueError(f"masked_select: mask of shape {m.shape} and input of shape {x.shape} cannot be "
                         "broadcast together") from None
    return Index.apply(broadcast_to(x, shape), key=(np.broadcast_to(m, shape),))


def take(x, index):
    """x read as 1-D at index; the result has index's shape."""
    x = as_tensor(x)
    idx = _int_index(index, "take")
    n = x.data.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: index {idx.max() if idx.max() >= n else idx.min()} is out of range for a tensor "
                         f"of {n} elements (shape {x.shape})")
    return Index.apply(reshape(x, (n,)), key=(idx,))


def take_along_dim(x, indices, dim=None):
    """y = gather(x, dim, indices) after broadcasting x and indices in every dim but dim;
    without dim, x and indices are read flattened."""
    x = as_tensor(x)
    idx = _int_index(indices, "take_along_dim")
    if dim is None:
        return gather(reshape(x, (-1,)), 0, idx.reshape(-1))
    d = normalize_dim(dim, x.ndim, "take_along_dim")
    if idx.ndim != x.ndim:
        raise ValueError(f"take_along_dim: indices of shape {idx.shape} must have as many dims as the input "
                         f"of shape {x.shape}")
    try:
        common = list(np.broadcast_shapes(x.shape[:d] + (1,) + x.shape[d + 1:],
                                          idx.shape[:d] + (1,) + idx.shape[d + 1:]))
    except ValueError:
        raise ValueError(f"take_along_dim: input of shape {x.shape} and indices of shape {idx.shape} cannot be "
                         f"broadcast outside dim {d}") from None
    xs, ins = list(common), list(common)
    xs[d], ins[d] = x.shape[d], idx.shape[d]
    return gather(broadcast_to(x, tuple(xs)), d, np.broadcast_to(idx, tuple(ins)))


def nonzero(x, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or a tuple of ndim 1-D tensors."""
    arr = as_tensor(x).data
    if as_tuple:
        return tuple(_const(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(arr)))
    return _const(np.argwhere(arr).astype(np.int64))


def argwhere(x):
    return nonzero(x)


def _masked_fill_(self, mask, value):
    """In place: self[mask] = value (not recorded; see Tensor._check_inplace)."""
    self._check_inplace("masked_fill_")
    m = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    try:
        np.copyto(self.data, value.data if isinstance(value, Tensor) else value, where=np.broadcast_to(m, self.shape),
                  casting="unsafe")
    except ValueError:
        raise ValueError(f"masked_fill_: mask of shape {m.shape} cannot be broadcast to shape {self.shape}") from None
    return self._bump()


def _index_add_(self, dim, index, source, alpha=1):
    """In place: self's slices at index along dim += alpha * source (repeats accumulate; not recorded)."""
    self._check_inplace("index_add_")
    if isinstance(source, Tensor) and source.requires_grad and _GradState.enabled:
        raise RuntimeError("index_add_: source requires grad; in-place ops are not recorded, use index_add")
    out = index_add(self.detach(), dim, index, as_tensor(source, self).detach(), alpha)
    self.data[...] = out.data
    return self._bump()


install(__getitem__=getitem, gather=gather, scatter_add=scatter_add, scatter=scatter, index_select=index_select,
        index_add=index_add, masked_fill=masked_fill, masked_select=masked_select, take=take,
        take_along_dim=take_along_dim, nonzero=nonzero, argwhere=argwhere, masked_fill_=_masked_fill_,
        index_add_=_index_add_)

__all__ = ['getitem', 'gather', 'scatter_add', 'scatter', 'index_select', 'index_add', 'masked_fill',
           'masked_select', 'take', 'take_along_dim', 'nonzero', 'argwhere']
