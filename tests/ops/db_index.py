"""OpInfo entries for nabla/ops/index.py.

Indexing is linear in x, so the ``*_sq`` entries square the output: their gradgradcheck goes through
the gradient's own backward (scatter-add into zeros <-> read at the same index)."""
import numpy as np

import nabla as nb
from .opinfo import OpInfo, Sample, randn
from .db_shape import sq, one


def _torch():
    import torch
    return torch


def torch_key(key):
    """The same key for PyTorch: arrays become tensors; lists stay lists (both read them as index arrays)."""
    torch = _torch()
    if isinstance(key, tuple):
        return tuple(torch_key(k) for k in key)
    if isinstance(key, np.ndarray):
        return torch.from_numpy(key.copy())
    return key


_B = np.array([True, False, True])
# (name, input shape, key): every kind of index, alone and mixed
GETITEM_CASES = [
    ("int", (3, 4), 1),
    ("neg_int", (3, 4), -1),
    ("int_int", (3, 4), (2, -3)),
    ("slice", (5, 4), slice(1, 4)),
    ("slice_step", (6, 4), (slice(None, None, 2), slice(0, 3, 2))),
    ("slice_oob", (3, 4), slice(-10, 10)),
    ("none", (3, 4), (None, slice(None), None)),
    ("ellipsis", (2, 3, 4), (Ellipsis, 1)),
    ("ellipsis_none", (2, 3, 4), (0, Ellipsis, None)),
    ("list_repeat", (3, 4), [0, 0, 2, 0]),
    ("list_neg", (3, 4), [-1, 1, -1]),
    ("array2d", (4, 3), np.array([[0, 3], [3, 3], [1, 0]])),
    ("array_dim1", (3, 4), (slice(None), np.array([3, 1, 3]))),
    ("two_arrays", (3, 4), (np.array([0, 2, 0]), np.array([1, 1, 3]))),
    ("arrays_broadcast", (3, 4), (np.array([[0], [2]]), np.array([1, 3, 3]))),
    ("arrays_split_by_slice", (3, 4, 5), (np.array([0, 2, 2]), slice(1, 3), np.array([4, 0, 4]))),
    ("array_ellipsis", (2, 3, 4), (Ellipsis, np.array([0, 0, 3]))),
    ("int_and_array", (3, 4, 2), (1, np.array([0, 3, 3]))),
    ("array_and_none", (3, 4), (None, np.array([1, 1]), slice(1, 3))),
    ("bool_mask_full", (3, 4), np.arange(12).reshape(3, 4) % 3 == 0),
    ("bool_mask_dim0", (3, 4), _B),
    ("bool_list", (3, 2), [True, False, True]),
    ("bool_and_slice", (3, 4), (slice(None), np.array([False, True, True, False]))),
    ("bool_and_array", (3, 4), (_B, np.array([1, 1]))),
    ("bool_scalar", (3, 4), True),
    ("bool_empty_mask", (3, 4), np.zeros(3, dtype=bool)),
    ("empty_list", (3, 4), []),
    ("zero_d_int_array", (3, 4), np.array(2)),
    ("zero_d_input_none", (), None),
    ("zero_d_input_ellipsis", (), Ellipsis),
]


def _getitem_op(name, shape, key, square=False):
    f = (lambda x: x[key]) if not square else (lambda x: x[key] ** 2)

    def t(x):
        k = torch_key(key)
        if isinstance(key, list) and not key:
            k = _torch().tensor([], dtype=_torch().int64)
        return x[k] if not square else x[k] ** 2
    return OpInfo(f"getitem_{name}" + ("_sq" if square else ""), f, t,
                  lambda rng, s=shape: [Sample((randn(rng, *s),), name=str(s))])


def _idx(*a):
    return np.array(a, dtype=np.int64)


def gather_samples(rng):
    return [Sample((randn(rng, 3, 4), 0, _idx([0, 2, 2, 1], [1, 1, 0, 2])), name="dim0"),
            Sample((randn(rng, 3, 4), 1, _idx([0, 0, 3], [1, 2, 2], [3, 3, 3])), name="dim1-repeat"),
            Sample((randn(rng, 4, 5), -1, _idx([0], [4])), name="smaller-index"),
            Sample((randn(rng, 2, 3, 2), 1, np.zeros((2, 4, 1), dtype=np.int64)), name="3d"),
            Sample((randn(rng, 5), 0, _idx(4, 4, 0)), name="1d")]


def scatter_add_samples(rng):
    return [Sample((randn(rng, 3, 4), 0, _idx([0, 2, 2, 1], [1, 1, 0, 2]), randn(rng, 2, 4)), name="dim0"),
            Sample((randn(rng, 3, 4), 1, _idx([0, 0, 3], [1, 2, 2]), randn(rng, 2, 3)), name="dim1"),
            Sample((randn(rng, 5), 0, _idx(4, 4, 0, 4), randn(rng, 4)), name="1d-repeat")]


def scatter_samples(rng):
    # unique positions per column: with repeated positions the winning write is unspecified
    return [Sample((randn(rng, 3, 4), 0, _idx([0, 2, 1, 1], [1, 1, 0, 2]), randn(rng, 2, 4)), name="dim0"),
            Sample((randn(rng, 3, 4), 1, _idx([3, 0], [2, 1], [0, 3]), randn(rng, 3, 2)), name="dim1")]


OPS = [
    *[_getitem_op(*c) for c in GETITEM_CASES],
    *[_getitem_op(*c, square=True) for c in GETITEM_CASES if c[0] in
      ("slice_step", "list_repeat", "arrays_broadcast", "arrays_split_by_slice", "bool_mask_full", "bool_and_array",
       "array_dim1")],
    OpInfo("gather", lambda x, d, i: nb.gather(x, d, i), lambda x, d, i: _torch().gather(x, d, i), gather_samples),
    OpInfo("gather_sq", sq(lambda x, d, i: x.gather(d, i)), sq(lambda x, d, i: x.gather(d, i)), gather_samples),
    OpInfo("scatter_add", lambda x, d, i, s: nb.scatter_add(x, d, i, s),
           lambda x, d, i, s: _torch().scatter_add(x, d, i, s), scatter_add_samples),
    OpInfo("scatter_add_sq", sq(lambda x, d, i, s: x.scatter_add(d, i, s)),
           sq(lambda x, d, i, s: x.scatter_add(d, i, s)), scatter_add_samples),
    OpInfo("scatter", lambda x, d, i, s: nb.scatter(x, d, i, s), lambda x, d, i, s: _torch().scatter(x, d, i, s),
           scatter_samples),
    OpInfo("scatter_sq", sq(lambda x, d, i, s: x.scatter(d, i, s)), sq(lambda x, d, i, s: x.scatter(d, i, s)),
           scatter_samples),
    OpInfo("scatter_value", lambda x, d, i: nb.scatter(x, d, i, value=2.5),
           lambda x, d, i: _torch().scatter(x, d, i, value=2.5),
           lambda rng: [Sample((randn(rng, 3, 4), 0, _idx([0, 2, 2, 1])))]),
    OpInfo("index_select", lambda x, d, i: nb.index_select(x, d, i), lambda x, d, i: _torch().index_select(x, d, i),
           lambda rng: [Sample((randn(rng, 4, 3), 0, _idx(3, 0, 3, 3)), name="dim0-repeat"),
                        Sample((randn(rng, 2, 5, 2), 1, _idx(4, 1)), name="dim1"),
                        Sample((randn(rng, 3, 4), -1, np.array(2)), name="0d-index"),
                        Sample((randn(rng, 3, 4), 0, _idx()), name="empty")]),
    OpInfo("index_select_sq", sq(lambda x: x.index_select(1, nb.tensor([2, 2, 0]))),
           sq(lambda x: x.index_select(1, _torch().tensor([2, 2, 0]))), one((2, 3))),
    OpInfo("index_add", lambda x, d, i, s, alpha=1: nb.index_add(x, d, i, s, alpha=alpha),
           lambda x, d, i, s, alpha=1: _torch().index_add(x, d, i, s, alpha=alpha),
           lambda rng: [Sample((randn(rng, 4, 3), 0, _idx(3, 0, 3), randn(rng, 3, 3)), name="dim0-repeat"),
                        Sample((randn(rng, 2, 4), 1, _idx(1, 1, 1, 2, 0), randn(rng, 2, 5)), dict(alpha=-0.5),
                               name="alpha")]),
    OpInfo("index_add_sq", sq(lambda x, s: x.index_add(0, nb.tensor([1, 1, 0]), s)),
           sq(lambda x, s: x.index_add(0, _torch().tensor([1, 1, 0]), s)),
           lambda rng: [Sample((randn(rng, 2, 3), randn(rng, 3, 3)))]),
    OpInfo("masked_fill", lambda x, m, v: nb.masked_fill(x, m, v), lambda x, m, v: x.masked_fill(m, v),
           lambda rng: [Sample((randn(rng, 3, 4), rng.standard_normal((3, 4)) > 0, -1.5), name="full"),
                        Sample((randn(rng, 3, 4), np.array([True, False, False, True]), 0.0), name="bcast"),
                        Sample((randn(rng, 2, 3, 4), rng.standard_normal((3, 1)) > 0, 7), name="bcast-int-value"),
                        Sample((randn(rng, 3, 4), rng.standard_normal((3, 4)) > 0, randn(rng)), name="tensor-value")]),
    OpInfo("masked_fill_sq", sq(lambda x, m: x.masked_fill(m, 2.0)), sq(lambda x, m: x.masked_fill(m, 2.0)),
           lambda rng: [Sample((randn(rng, 3, 4), rng.standard_normal((3, 4)) > 0))]),
    OpInfo("masked_select", lambda x, m: nb.masked_select(x, m), lambda x, m: _torch().masked_select(x, m),
           lambda rng: [Sample((randn(rng, 3, 4), rng.standard_normal((3, 4)) > 0), name="full"),
                        Sample((randn(rng, 3, 1), rng.standard_normal((3, 4)) > 0), name="bcast-x")]),
    OpInfo("take", lambda x, i: nb.take(x, i), lambda x, i: _torch().take(x, i),
           lambda rng: [Sample((randn(rng, 3, 4), _idx([0, 11], [5, 5], [-1, 3])))]),
    OpInfo("take_along_dim", lambda x, i, dim=None: nb.take_along_dim(x, i, dim),
           lambda x, i, dim=None: _torch().take_along_dim(x, i, dim),
           lambda rng: [Sample((randn(rng, 3, 4), _idx([0, 2], [1, 1], [3, 0]), 1), name="dim1"),
                        Sample((randn(rng, 3, 4), _idx([0, 3, 3]), 1), name="bcast-index"),
                        Sample((randn(rng, 1, 4), _idx([0, 2], [1, 1], [3, 0]), 1), name="bcast-input"),
                        Sample((randn(rng, 3, 4), _idx(11, 0, 0)), name="flat")]),
    OpInfo("take_along_dim_sq", sq(lambda x, i: x.take_along_dim(i, 0)), sq(lambda x, i: x.take_along_dim(i, 0)),
           lambda rng: [Sample((randn(rng, 3, 2), _idx([2, 2], [0, 2])))]),
]
