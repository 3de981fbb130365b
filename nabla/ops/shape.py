"""Shape ops: views and rearrangements of the same elements.  Each one's gradient is the inverse
rearrangement of the incoming gradient (reshape back, transpose back, sum over broadcast axes...).

Primitives with hand-written backward: SumTo/BroadcastTo (in autograd.broadcast: the engine undoes
broadcasting with them; re-exported here), Reshape, Permute, Slice (basic indexing)
and its adjoint SliceScatter, Take (gather along one dim by a 1-D index) and its adjoint TakeAdd,
Cat, Stack, PadConstant, Flip, Roll.  Everything else (squeeze, split, repeat, non-constant pad...)
is composed from them, so its gradient, and the gradient of that gradient, come for free.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..autograd.broadcast import BroadcastTo, SumTo, broadcast_to, sum_to, sum_to_array  # noqa: F401  (re-exported)
from ._util import as_tensor, install, normalize_dim, normalize_dims


class Reshape(Function):
    """y = x with a new shape (same elements, row-major order);  dx = reshape(g, x.shape)"""
    save_inputs = False

    def __init__(self, shape):
        self.shape = shape

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x.reshape(self.shape)
        except ValueError:
            raise ValueError(f"reshape: shape {tuple(self.shape)} is invalid for a tensor of shape {x.shape} "
                             f"({x.size} elements)") from None

    def backward(self, g):
        return reshape(g, self.in_shape)


class Permute(Function):
    """y = x with its axes reordered by ``dims``;  dx = g permuted by the inverse order"""
    save_inputs = False

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return np.transpose(x, self.dims)

    def backward(self, g):
        return permute(g, tuple(np.argsort(self.dims)))


class Slice(Function):
    """y = x[key] for a basic index (ints, slices, None, Ellipsis), a view of x;
    dx = zeros(x.shape) with g written at key (each element of x is read at most once)."""
    save_inputs = False

    def __init__(self, key):
        self.key = key

    def forward(self, x):
        self.in_shape = x.shape
        return x[self.key]

    def backward(self, g):
        return SliceScatter.apply(g, key=self.key, shape=self.in_shape)


class SliceScatter(Function):
    """y = zeros(shape) with x written at the basic index key (the adjoint of Slice);  dx = g[key]"""
    save_inputs = False

    def __init__(self, key, shape):
        self.key, self.shape = key, shape

    def forward(self, g):
        out = np.zeros(self.shape, dtype=g.dtype)
        out[self.key] = g
        return out

    def backward(self, gg):
        return Slice.apply(gg, key=self.key)


def _add_rows(index, values, n):
    """out[i] = sum of values[k] over k with index[k] == i, for i < n (repeated indices accumulate).

    Vectorised, chosen by measurement (NumPy 2): when there are at least as many indices as rows (e.g. an
    embedding's 2048 tokens over 1000 rows of 128), np.add.at over flat int32 positions (0.50 ms, against
    0.81 ms for np.bincount on int64 positions and 1.7 ms for add.at on rows); np.bincount when rows are
    single numbers and not far fewer than n; otherwise the first occurrence of each index is assigned and
    only the repeats go through np.add.at (4-6x faster than add.at alone for lookups and padding)."""
    rest = values.shape[1:]
    m = math.prod(rest)
    if values.dtype.kind == "f" and m == 1 and 64 * len(index) >= n:
        out = np.bincount(index, weights=values.reshape(-1), minlength=n)
        return out.astype(values.dtype, copy=False).reshape((n,) + rest)
    if values.dtype.kind == "f" and len(index) >= n:
        pos = np.int32 if n * m < 2 ** 31 else np.int64
        flat = (index.astype(pos)[:, None] * pos(m) + np.arange(m, dtype=pos)).reshape(-1)
        out = np.zeros(n * m, dtype=values.dtype)
        np.add.at(out, flat, values.reshape(-1))
        return out.reshape((n,) + rest)
    out = np.zeros((n,) + rest, dtype=values.dtype)
    uniq, first = np.unique(index, return_index=True)
    out[uniq] = values[first]
    if len(first) < len(index):
        repeat = np.ones(len(index), dtype=bool)
        repeat[first] = False
        np.add.at(out, index[repeat], values[repeat])
    return out


class Take(Function):
    """y = x.take(index, axis=dim), index 1-D and in range;
    dx = zeros(x.shape) with the slices of g added at index along dim (repeats accumulate)."""
    save_inputs = False

    def __init__(self, dim, index):
        self.dim, self.index = dim, index

    def forward(self, x):
        self.n = x.shape[self.dim]
        return np.take(x, self.index, axis=self.dim)

    def backward(self, g):
        return TakeAdd.apply(g, dim=self.dim, index=self.index, n=self.n)


class TakeAdd(Function):
    """y = zeros with size n along dim, x's slices added at index (the adjoint of Take);
    dx = take(g, index, dim)"""
    save_inputs = False

    def __init__(self, dim, index, n):
        self.dim, self.index, self.n = dim, index, n

    def forward(self, x):
        rows = np.moveaxis(x, self.dim, 0)
        return np.moveaxis(_add_rows(self.index, rows, self.n), 0, self.dim)

    def backward(self, gg):
        return Take.apply(gg, dim=self.dim, index=self.index)


class Cat(Function):
    """y = [x_1, x_2, ...] joined along dim;  dx_i = the slice of g that x_i filled"""
    save_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        self.sizes = [x.shape[self.dim] for x in xs]
        return np.concatenate(xs, axis=self.dim)

    def backward(self, g):
        grads, start = [], 0
        lead = (slice(None),) * self.dim
        for size, needs in zip(self.sizes, self.needs_input_grad):
            grads.append(Slice.apply(g, key=lead + (slice(start, start + size),)) if needs else None)
            start += size
        return tuple(grads)


class Stack(Function):
    """y = [x_1, x_2, ...] along a new axis dim;  dx_i = g indexed at i along dim"""
    save_inputs = False

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        return np.stack(xs, axis=self.dim)

    def backward(self, g):
        lead = (slice(None),) * self.dim
        return tuple(Slice.apply(g, key=lead + (i,)) if needs else None
                     for i, needs in enumerate(self.needs_input_grad))


class PadConstant(Function):
    """y = x with pads[d] = (before, after) elements of ``value`` added along each dim d (negative
    pads crop);  dx = g padded by the negated pads with 0, i.e. g cropped back to x."""
    save_inputs = False

    def __init__(self, pads, value=0):
        self.pads, self.value = pads, value

    def forward(self, x):
        shape = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape, self.pads))
        if min(shape, default=0) < 0:
            raise ValueError(f"pad: padding {self.pads} makes a negative size {shape} for input of shape {x.shape}")
        src = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape, self.pads))
        dst = tuple(slice(max(lo, 0), max(lo, 0) + max(s.stop - s.start, 0)) for s, (lo, hi) in zip(src, self.pads))
        out = np.full(shape, self.value, dtype=x.dtype)
        out[dst] = x[src]
        return out

    def backward(self, g):
        return PadConstant.apply(g, pads=tuple((-lo, -hi) for lo, hi in self.pads), value=0)


class Flip(Function):
    """y = x reversed along dims;  dx = g reversed along the same dims"""
    save_inputs = False

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        return np.flip(x, self.dims)

    def backward(self, g):
        return Flip.apply(g, dims=self.dims)


class Roll(Function):
    """y = x shifted cyclically by shifts along dims;  dx = g shifted back by -shifts"""
    save_inputs = False

    def __init__(self, shifts, dims):
        self.shifts, self.dims = shifts, dims

    def forward(self, x):
        return np.roll(x, self.shifts, self.dims)

    def backward(self, g):
        return Roll.apply(g, shifts=tuple(-s for s in self.shifts), dims=self.dims)


# ---------------------------------------------------------------------- functions
def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x, *shape):
    shape = _shape_args(shape)
    if x.shape == shape:
        return x
    return Reshape.apply(x, shape=shape)


def permute(x, *dims):
    dims = _shape_args(dims)
    if len(dims) != x.ndim:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor of {x.ndim} dimensions (shape {x.shape})")
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of 0..{x.ndim - 1}")
    if dims == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, dims=dims)


def transpose(x, dim0=-2, dim1=-1):
    """Swap two axes (``x.transpose(0, 1)``)."""
    if x.ndim < 2 and dim0 in (-2, -1) and dim1 in (-2, -1):
        return x
    d0, d1 = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    if d0 == d1:
        return x
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(x, dims=tuple(dims))


def _T(self):
    """All axes reversed (a matrix's transpose)."""
    return self if self.ndim < 2 else Permute.apply(self, dims=tuple(range(self.ndim - 1, -1, -1)))


def _mT(self):
    return transpose(self, -2, -1)


def expand(x, *sizes):
    """Broadcast to ``sizes``; -1 keeps a dimension (PyTorch's expand)."""
    return broadcast_to(x, _shape_args(sizes))


def _tensors(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expected a sequence of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    return [as_tensor(t) for t in tensors]


def _new_dim(dim, ndim, op):
    """A position for a new dim (unsqueeze, stack): dim in [-ndim-1, ndim]."""
    if not -ndim - 1 <= dim <= ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor of {ndim} dimensions getting a new one "
                         f"(expected a value in [{-ndim - 1}, {ndim}])")
    return dim % (ndim + 1)


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one (a 0-d tensor becomes shape (1,))."""
    if x.ndim == 0:
        return reshape(x, (1,))
    s = normalize_dim(start_dim, x.ndim, "flatten")
    e = normalize_dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {x.shape}")
    return reshape(x, x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:])


def unflatten(x, dim, sizes):
    """Split dim into ``sizes`` (one entry may be -1)."""
    d = normalize_dim(dim, x.ndim, "unflatten")
    sizes = tuple(int(s) for s in sizes)
    known = math.prod(s for s in sizes if s != -1)
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != x.shape[d]) or \
            (sizes.count(-1) == 1 and (known == 0 or x.shape[d] % known)):
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to size {x.shape[d]} of dim {dim} "
                         f"(shape {x.shape})")
    sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def squeeze(x, dim=None):
    """Remove size-1 dims (all of them, or those named by dim; a named dim of another size stays)."""
    if dim is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    else:
        dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
        axes = [a for a in (normalize_dim(int(d), x.ndim, "squeeze") for d in dims) if x.ndim and x.shape[a] == 1]
    if not axes:
        return x
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, dim):
    """Insert a size-1 dim at position dim (in [-ndim-1, ndim])."""
    d = _new_dim(dim, x.ndim, "unsqueeze")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def cat(tensors, dim=0):
    """Join tensors along an existing dim;  the gradient of each is its slice of g."""
    xs = _tensors(tensors, "cat")
    # PyTorch's legacy rule: 1-D empty tensors are skipped whatever the others' shape
    if any(x.ndim != 1 or x.shape[0] for x in xs):
        xs = [x for x in xs if x.ndim != 1 or x.shape[0]]
    ref = xs[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated (use stack)")
    d = normalize_dim(dim, ref.ndim, "cat")
    for i, x in enumerate(xs):
        if x.ndim != ref.ndim or x.shape[:d] + x.shape[d + 1:] != ref.shape[:d] + ref.shape[d + 1:]:
            raise ValueError(f"cat: tensors must have the same shape except in dim {d}; got shapes "
                             f"{[t.shape for t in xs]} (tensor {i} of shape {x.shape} does not match {ref.shape})")
    if len(xs) == 1:
        return xs[0]
    return Cat.apply(*xs, dim=d)


def stack(tensors, dim=0):
    """Join same-shape tensors along a new dim;  the gradient of each is g indexed at its position."""
    xs = _tensors(tensors, "stack")
    d = _new_dim(dim, xs[0].ndim, "stack")
    for i, x in enumerate(xs):
        if x.shape != xs[0].shape:
            raise ValueError(f"stack: expects each tensor to be equal size, but got {xs[0].shape} at entry 0 "
                             f"and {x.shape} at entry {i}")
    return Stack.apply(*xs, dim=d)


def _slice_dim(x, d, start, stop):
    return Slice.apply(x, key=(slice(None),) * d + (slice(start, stop),))


def split(x, split_size_or_sections, dim=0):
    """A tuple of views along dim: pieces of split_size (the last may be smaller), or of the given
    sizes.  Each piece is a slice, so gradients flow back into x."""
    d = normalize_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise ValueError(f"split: split_size must be a positive integer, got {size} for dim {dim} of size {n}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or min(sizes, default=0) < 0:
            raise ValueError(f"split: sections {sizes} must be non-negative and sum to {n}, the size of dim {dim} "
                             f"(shape {x.shape})")
    starts = np.cumsum([0] + sizes)
    return tuple(_slice_dim(x, d, int(a), int(a) + s) for a, s in zip(starts, sizes))


def chunk(x, chunks, dim=0):
    """Split into at most ``chunks`` pieces of ceil(size / chunks) elements along dim."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    d = normalize_dim(dim, x.ndim, "chunk")
    n = x.shape[d]
    if n == 0:  # PyTorch gives `chunks` empty pieces
        return tuple(_slice_dim(x, d, 0, 0) for _ in range(chunks))
    return split(x, -(-n // chunks), d)


def unbind(x, dim=0):
    """The slices along dim as a tuple, dim removed."""
    d = normalize_dim(dim, x.ndim, "unbind")
    lead = (slice(None),) * d
    return tuple(Slice.apply(x, key=lead + (i,)) for i in range(x.shape[d]))


def narrow(x, dim, start, length):
    """x restricted to [start, start + length) along dim (a view)."""
    d = normalize_dim(dim, x.ndim, "narrow")
    n = x.shape[d]
    start = start + n if start < 0 else start
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start {start} and length {length} are out of range for dim {dim} of size {n}")
    return _slice_dim(x, d, start, start + length)


def flip(x, dims):
    """Reverse the order of elements along dims."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    axes = normalize_dims(dims, x.ndim, "flip")
    if not axes or x.ndim == 0:
        return x
    return Flip.apply(x, dims=axes)


def roll(x, shifts, dims=None):
    """Shift elements cyclically; without dims the tensor is flattened, rolled and reshaped back."""
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll: without dims, shifts must be one number, got {shifts}")
        return reshape(Roll.apply(reshape(x, (-1,)), shifts=(int(shifts[0]),), dims=(0,)), x.shape)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(dims) != len(shifts):
        raise ValueError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    dims = tuple(normalize_dim(int(d), x.ndim, "roll") for d in dims)
    return Roll.apply(x, shifts=tuple(int(s) for s in shifts), dims=dims)


def repeat(x, *sizes):
    """Tile x sizes[i] times along each dim (PyTorch's repeat, NumPy's tile); extra leading sizes add dims.

    Composed as reshape -> broadcast -> reshape, so dx = g reshaped to (r0, s0, r1, s1, ...) and
    summed over the repeat axes."""
    sizes = _shape_args(sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: number of repeat sizes {sizes} can not be smaller than the number of "
                         f"dimensions of the tensor (shape {x.shape})")
    if any(int(r) < 0 for r in sizes):
        raise ValueError(f"repeat: sizes must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    inter = tuple(v for s in shape for v in (1, s))
    big = tuple(v for r, s in zip(sizes, shape) for v in (int(r), s))
    out = tuple(int(r) * s for r, s in zip(sizes, shape))
    return reshape(broadcast_to(reshape(x, inter), big), out)


def tile(x, dims):
    """np.tile: like repeat, but missing leading dims of ``dims`` count as 1."""
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def movedim(x, source, destination):
    """Move dims from ``source`` to ``destination``, the others keeping their order."""
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim: source {src} and destination {dst} must have the same number of dims")
    src = [normalize_dim(int(d), x.ndim, "movedim") for d in src]
    dst = [normalize_dim(int(d), x.ndim, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim: repeated dim in source {source} or destination {destination}")
    order = [d for d in range(x.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(x, tuple(order))


def swapaxes(x, axis0, axis1):
    return transpose(x, axis0, axis1)


_PAD_MODES = ("constant", "reflect", "replicate", "circular")


def _pad_source(n, lo, hi, mode):
    """For output positions -lo .. n+hi-1, the index of the input element each one copies."""
    p = np.arange(-lo, n + hi)
    if mode == "reflect":
        return np.where(p < 0, -p, np.where(p >= n, 2 * (n - 1) - p, p))
    if mode == "replicate":
        return np.clip(p, 0, n - 1)
    return p % n


def pad(x, pad, mode="constant", value=None):
    """Pad x with PyTorch's convention: ``pad`` = (last_lo, last_hi, second_last_lo, ...).

    constant: fill with value (negative pads crop);  dx = g cropped back.
    reflect (mirror without the edge), replicate (repeat the edge), circular (wrap around): each
    output element copies an input element, y = take(x, src) along each padded dim, so dx adds g's
    elements back at src (repeated sources accumulate)."""
    x = as_tensor(x)
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)} ({pad})")
    if len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding {pad} covers {len(pad) // 2} dims but the input has shape {x.shape}")
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {_PAD_MODES}, got {mode!r}")
    pads = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        pads[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if mode == "constant":
        if all(p == (0, 0) for p in pads):
            return x
        return PadConstant.apply(x, pads=tuple(pads), value=0 if value is None else value)
    if value not in (None, 0):
        raise ValueError(f"pad: mode {mode!r} does not take a value (got value={value})")
    for d, (lo, hi) in enumerate(pads):
        if lo == hi == 0:
            continue
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise ValueError(f"pad: reflect padding ({lo}, {hi}) must be less than the size {n} of dim {d} "
                             f"(input shape {x.shape})")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular padding ({lo}, {hi}) may wrap around at most once, so must not "
                             f"exceed the size {n} of dim {d} (input shape {x.shape})")
        if mode == "replicate" and n == 0:
            raise ValueError(f"pad: replicate padding of the empty dim {d} (input shape {x.shape})")
        if n + lo + hi < 0:
            raise ValueError(f"pad: padding ({lo}, {hi}) makes dim {d} of size {n} negative")
        x = Take.apply(x, dim=d, index=_pad_source(n, lo, hi, mode))
    return x


def contiguous(x, memory_format=None):
    """x itself (NumPy arrays are copied when an op needs contiguity)."""
    return x


install(reshape=reshape, view=reshape, permute=permute, transpose=transpose, expand=expand,
        broadcast_to=broadcast_to, sum_to=sum_to, T=property(_T), mT=property(_mT),
        expand_as=lambda self, other: expand(self, other.shape),
        reshape_as=lambda self, other: reshape(self, other.shape),
        view_as=lambda self, other: reshape(self, other.shape),
        flatten=flatten, unflatten=unflatten, squeeze=squeeze, unsqueeze=unsqueeze, split=split, chunk=chunk,
        unbind=unbind, narrow=narrow, flip=flip, roll=roll, repeat=repeat, tile=tile, movedim=movedim,
        moveaxis=movedim, swapaxes=swapaxes, swapdims=swapaxes, contiguous=contiguous)

concatenate = concat = cat
moveaxis = movedim
swapdims = swapaxes

__all__ = ['sum_to', 'broadcast_to', 'reshape', 'permute', 'transpose', 'expand', 'flatten', 'unflatten',
           'squeeze', 'unsqueeze', 'cat', 'concatenate', 'concat', 'stack', 'split', 'chunk', 'unbind', 'narrow',
           'flip', 'roll', 'repeat', 'tile', 'movedim', 'moveaxis', 'swapaxes', 'swapdims', 'pad', 'contiguous']
