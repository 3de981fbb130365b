"""Variable-length sequences and truncated backpropagation through time (PyTorch's torch.nn.utils.rnn,
plus ``sequence_mask``, ``detach_hidden`` and ``truncated_bptt``).

A batch of sequences of different lengths is either
    padded:  a (T, B, *) tensor (or (B, T, *) with batch_first) and the lengths, or
    packed:  a ``PackedSequence``: the valid steps only, time-major, sequences sorted by decreasing
             length, ``data`` (sum(lengths), *) and ``batch_sizes[t]`` = how many sequences reach step t.
Recurrent layers take either (padded with ``lengths=``, or packed) and never let padding reach the states.
All conversions are single differentiable index operations (no loop over sequences).
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ...ops.index import index_select
from ...ops.shape import cat, transpose

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence", "pack_sequence",
           "unpad_sequence", "unpack_sequence", "sequence_mask", "detach_hidden", "truncated_bptt"]


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of variable-length sequences without padding (PyTorch's layout).

    data:             (sum(lengths), *) the steps, time-major: step 0 of every sequence, then step 1 ...
    batch_sizes:      int64 (T,): number of sequences at each step (non-increasing)
    sorted_indices:   int64 (B,): original batch index of each sorted sequence, or None (input was sorted)
    unsorted_indices: int64 (B,): its inverse, or None"""
    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _as_tensor_ints(np.argsort(_ints(sorted_indices), kind="stable"))
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def lengths(self) -> np.ndarray:
        """Each sequence's length, in the original batch order (a NumPy int64 array)."""
        bs = _ints(self.batch_sizes)
        lengths = _lengths_from_batch_sizes(bs)
        if self.unsorted_indices is not None:
            lengths = lengths[_ints(self.unsorted_indices)]
        return lengths

    def to(self, *args, **kwargs):
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self) -> bool:
        return False


def _ints(x) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.data
    elif hasattr(x, "numpy") and not isinstance(x, np.ndarray):  # a torch tensor
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def _as_tensor_ints(a) -> Tensor:
    return from_numpy(np.asarray(a, dtype=np.int64))


def _check_lengths(lengths, batch, steps, who) -> np.ndarray:
    """Lengths as an int64 array of shape (batch,), each in [1, steps]."""
    arr = _ints(lengths)
    if arr.ndim != 1 or arr.shape[0] != batch:
        raise ValueError(f"{who}: expected lengths of shape ({batch},) (one per sequence), got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{who}: lengths must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() <= 0:
        raise ValueError(f"{who}: every length must be at least 1, got {arr.tolist()}")
    if arr.size and arr.max() > steps:
        raise ValueError(f"{who}: a length of {int(arr.max())} exceeds the {steps} time steps of the input")
    return arr


def _batch_sizes(sorted_lengths: np.ndarray, steps: int) -> np.ndarray:
    """Number of sequences (sorted by decreasing length) still running at each step."""
    return (sorted_lengths[None, :] > np.arange(steps)[:, None]).sum(1).astype(np.int64)


def _lengths_from_batch_sizes(bs: np.ndarray) -> np.ndarray:
    B = int(bs[0]) if bs.size else 0
    return (bs[:, None] > np.arange(B)[None, :]).sum(0).astype(np.int64)


def _valid_positions(bs: np.ndarray, batch: int) -> np.ndarray:
    """Flat (t * batch + b) positions of the valid steps of a sorted, time-major padded batch, in packed order."""
    mask = np.arange(batch)[None, :] < bs[:, None]
    return np.flatnonzero(mask)


def padded_to_packed_data(padded: Tensor, bs: np.ndarray) -> Tensor:
    """data (sum(lengths), *) from a sorted time-major padded batch (T, B, *)."""
    T, B = padded.shape[0], padded.shape[1]
    pos = _valid_positions(bs, B)
    flat = padded.reshape((T * B,) + tuple(padded.shape[2:]))
    return flat[pos]


def packed_data_to_padded(data: Tensor, bs: np.ndarray, total_length=None, padding_value=0.0) -> Tensor:
    """A sorted time-major padded batch (T, B, *) from packed data; padding filled with padding_value."""
    T = len(bs) if total_length is None else int(total_length)
    B = int(bs[0]) if len(bs) else 0
    n = data.shape[0]
    feat = tuple(data.shape[1:])
    pad_row = from_numpy(np.full((1,) + feat, padding_value, dtype=data.dtype))
    src = np.full(T * B, n, dtype=np.int64)  # padding positions read the extra padding row
    src[_valid_positions(np.asarray(bs), B)] = np.arange(n)
    return cat([data, pad_row], 0)[src].reshape((T, B) + feat)


# ---------------------------------------------------------------------------------------------- PyTorch API
def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with batch_first) whose sequence b has ``lengths[b]``
    valid steps.  With enforce_sorted the lengths must be non-increasing; otherwise the batch is sorted
    and the order remembered (sorted_indices / unsorted_indices)."""
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: expected an input of at least 2 dimensions (T, B, *), "
                         f"got shape {tuple(input.shape)}")
    x = transpose(input, 0, 1) if batch_first else input
    T, B = x.shape[0], x.shape[1]
    lengths = _check_lengths(lengths, B, T, "pack_padded_sequence")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise RuntimeError(f"pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                               f"`enforce_sorted` is True, got {lengths.tolist()}; pass enforce_sorted=False to "
                               "sort the batch here")
        sorted_indices = None
        sorted_lengths = lengths
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_lengths = lengths[order]
        sorted_indices = _as_tensor_ints(order)
        x = index_select(x, 1, sorted_indices)
    bs = _batch_sizes(sorted_lengths, int(sorted_lengths[0]) if B else 0)
    data = padded_to_packed_data(x[:len(bs)], bs)
    return PackedSequence(data, _as_tensor_ints(bs), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None):
    """(padded (T, B, *) or (B, T, *), lengths int64 (B,)): the inverse of pack_padded_sequence, in the
    original batch order; T = the longest length, or total_length."""
    bs = _ints(sequence.batch_sizes)
    if total_length is not None and total_length < len(bs):
        raise ValueError(f"pad_packed_sequence: expected total_length to be at least the length of the longest "
                         f"sequence ({len(bs)}), got {total_length}")
    padded = packed_data_to_padded(sequence.data, bs, total_length, padding_value)
    lengths = _lengths_from_batch_sizes(bs)
    if sequence.unsorted_indices is not None:
        ui = _ints(sequence.unsorted_indices)
        padded = index_select(padded, 1, _as_tensor_ints(ui))
        lengths = lengths[ui]
    if batch_first:
        padded = transpose(padded, 0, 1)
    return padded, _as_tensor_ints(lengths)


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0, padding_side: str = "right"):
    """Stack tensors of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padding with padding_value
    on the right (or left)."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    feat = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != feat:
            raise ValueError(f"pad_sequence: sequence {i} has shape {tuple(s.shape)}, expected (L, *{feat}) like "
                             f"sequence 0")
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    B, T = len(sequences), int(lengths.max())
    data = cat(list(sequences), 0)
    n = data.shape[0]
    pad_row = from_numpy(np.full((1,) + feat, padding_value, dtype=data.dtype))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    t = np.arange(T)[:, None]
    offset = t if padding_side == "right" else t - (T - lengths)[None, :]
    valid = (offset >= 0) & (offset < lengths[None, :])
    src = np.where(valid, starts[None, :] + offset, n)        # (T, B)
    padded = cat([data, pad_row], 0)[src.reshape(-1)].reshape((T, B) + feat)
    return transpose(padded, 0, 1) if batch_first else padded


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of tensors of shapes (L_i, *)."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded_sequences, lengths, batch_first: bool = False):
    """The list of unpadded sequences (L_i, *) of a padded batch."""
    x = padded_sequences if batch_first else transpose(padded_sequences, 0, 1)
    lengths = _check_lengths(lengths, x.shape[0], x.shape[1], "unpad_sequence")
    return [x[b, :int(n)] for b, n in enumerate(lengths)]


def unpack_sequence(packed_sequences: PackedSequence):
    """The list of sequences (L_i, *) of a PackedSequence, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


# ---------------------------------------------------------------------------------------------- beyond PyTorch
def sequence_mask(lengths, max_len: int | None = None, dtype=bool, batch_first: bool = True) -> Tensor:
    """mask[b, t] = t < lengths[b]: shape (B, max_len) (or (max_len, B) without batch_first); max_len
    defaults to the longest length.  Multiply a padded per-step loss by it to ignore the padding."""
    arr = _ints(lengths).astype(np.int64)
    if arr.ndim != 1:
        raise ValueError(f"sequence_mask: expected 1-d lengths, got shape {arr.shape}")
    T = int(arr.max()) if max_len is None and arr.size else int(max_len or 0)
    mask = np.arange(T)[None, :] < arr[:, None]
    if not batch_first:
        mask = mask.T
    return from_numpy(np.ascontiguousarray(mask).astype(dtype))


def detach_hidden(hidden):
    """The recurrent state with its history cut: a Tensor, or nested tuples/lists of them (an LSTM's
    (h, c)), detached.  Between chunks of truncated BPTT: gradients stop here, values carry on."""
    if hidden is None:
        return None
    if isinstance(hidden, Tensor):
        return hidden.detach()
    if isinstance(hidden, (tuple, list)):
        return type(hidden)(detach_hidden(h) for h in hidden)
    raise TypeError(f"detach_hidden: expected a Tensor or a tuple/list of Tensors, got {type(hidden).__name__}")


def truncated_bptt(*sequences, chunk_size: int, dim: int = 0):
    """Truncated backpropagation through time: yield aligned windows of at most chunk_size steps along
    ``dim`` of every sequence (e.g. inputs and targets).  The caller detaches the state between windows::

        hidden = None
        for x, y in truncated_bptt(inputs, targets, chunk_size=35):
            hidden = detach_hidden(hidden)
            out, hidden = lstm(x, hidden)
            loss = criterion(head(out).flatten(0, 1), y.flatten())
            opt.zero_grad(); loss.backward(); opt.step()
    """
    if chunk_size < 1:
        raise ValueError(f"truncated_bptt: chunk_size must be at least 1, got {chunk_size}")
    if not sequences:
        raise ValueError("truncated_bptt: expected at least one sequence")
    steps = sequences[0].shape[dim]
    for i, s in enumerate(sequences):
        if s.shape[dim] != steps:
            raise ValueError(f"truncated_bptt: sequence {i} has {s.shape[dim]} steps along dim {dim}, "
                             f"sequence 0 has {steps}")
    for start in range(0, steps, chunk_size):
        stop = min(start + chunk_size, steps)
        windows = tuple(s.narrow(dim, start, stop - start) for s in sequences)
        yield windows if len(windows) > 1 else windows[0]
