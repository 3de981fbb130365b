import numpy as np
import pytest

import nabla
from nabla.data import (BatchSampler, ConcatDataset, DataLoader, Dataset, SequentialSampler, Subset,
                        TensorDataset, default_collate)


def _ds(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    return TensorDataset(x, np.arange(n))


def _labels(loader):
    return [b[1].numpy().tolist() for b in loader]


def test_batching_and_len():
    dl = DataLoader(_ds(), batch_size=3)
    batches = list(dl)
    assert len(dl) == 4 == len(batches)
    assert [b[1].shape[0] for b in batches] == [3, 3, 3, 1]
    x, y = batches[0]
    assert isinstance(x, nabla.Tensor) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x.numpy(), np.arange(9).reshape(3, 3))
    assert _labels(dl) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_drop_last():
    dl = DataLoader(_ds(), batch_size=3, drop_last=True)
    assert len(dl) == 3 and _labels(dl) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert len(DataLoader(_ds(9), batch_size=3, drop_last=True)) == 3


def test_full_batch_and_single_sample():
    assert _labels(DataLoader(_ds(), batch_size=10)) == [list(range(10))]  # batch gradient descent
    dl = DataLoader(_ds(), batch_size=1)  # stochastic gradient descent
    assert len(dl) == 10 and all(b[0].shape == (1, 3) for b in dl)


def test_shuffle_covers_all_reshuffles_and_is_deterministic():
    dl = DataLoader(_ds(50), batch_size=7, shuffle=True, seed=123)
    e1 = sum(_labels(dl), [])
    e2 = sum(_labels(dl), [])
    assert sorted(e1) == list(range(50)) and e1 != e2  # a new permutation each epoch
    again = DataLoader(_ds(50), batch_size=7, shuffle=True, seed=123)
    assert sum(_labels(again), []) == e1 and sum(_labels(again), []) == e2  # run after run
    gen = DataLoader(_ds(50), batch_size=7, shuffle=True, generator=np.random.default_rng(123))
    assert sum(_labels(gen), []) == e1


def test_shuffle_with_global_seed():
    nabla.manual_seed(5)
    a = sum(_labels(DataLoader(_ds(30), batch_size=4, shuffle=True)), [])
    nabla.manual_seed(5)
    b = sum(_labels(DataLoader(_ds(30), batch_size=4, shuffle=True)), [])
    assert a == b and a != list(range(30))


def test_state_dict_resumes_shuffling():
    dl = DataLoader(_ds(20), batch_size=5, shuffle=True, seed=0)
    list(dl)
    state = dl.state_dict()
    nxt = _labels(dl)
    other = DataLoader(_ds(20), batch_size=5, shuffle=True, seed=99)
    other.load_state_dict(state)
    assert _labels(other) == nxt


def test_fast_path_equals_per_sample_path():
    ds = ConcatDataset([_ds(6), Subset(_ds(8), [7, 1, 3])])
    fast = list(DataLoader(ds, batch_size=4, shuffle=True, seed=1))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, seed=1, collate_fn=default_collate))
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx.numpy(), sx.numpy())
        np.testing.assert_array_equal(fy.numpy(), sy.numpy())
        assert fx.dtype == sx.dtype and fy.dtype == sy.dtype


def test_fast_path_does_not_index_per_sample():
    class Counting(TensorDataset):
        def __getitem__(self, i):
            raise AssertionError("the fast path must not call __getitem__")

    assert len(list(DataLoader(Counting(np.arange(10)), batch_size=4, shuffle=True, seed=0))) == 3


def test_collate_fn():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return "batch"

    assert list(DataLoader(_ds(5), batch_size=2, collate_fn=collate)) == ["batch"] * 3
    assert seen == [2, 2, 1]


def test_default_collate_python_types_and_dicts():
    class Dicts(Dataset):
        def __getitem__(self, i):
            return {"x": np.full(2, i, np.float32), "y": i, "w": 0.5 * i, "name": f"s{i}"}

        def __len__(self):
            return 5

    b = next(iter(DataLoader(Dicts(), batch_size=3)))
    assert b["x"].shape == (3, 2) and b["x"].dtype == np.float32
    assert b["y"].dtype == np.int64 and b["w"].dtype == np.float64  # PyTorch's dtypes
    assert b["name"] == ["s0", "s1", "s2"]
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


def test_sampler_and_batch_sampler():
    dl = DataLoader(_ds(), batch_size=2, sampler=[9, 0, 4])
    assert _labels(dl) == [[9, 0], [4]] and len(dl) == 2
    dl = DataLoader(_ds(), batch_sampler=[[1, 2, 3], [8]])
    assert _labels(dl) == [[1, 2, 3], [8]]
    dl = DataLoader(_ds(), batch_sampler=BatchSampler(SequentialSampler(range(10)), 4, True))
    assert len(dl) == 2


def test_batch_size_none_yields_samples():
    items = list(DataLoader(_ds(3), batch_size=None))
    assert len(items) == 3 and items[2][1].item() == 2 and items[2][0].shape == (3,)


def test_argument_errors():
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(_ds(), sampler=[0], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler"):
        DataLoader(_ds(), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="either generator or seed"):
        DataLoader(_ds(), shuffle=True, seed=0, generator=np.random.default_rng(0))
    with pytest.raises(ValueError, match="drop_last"):
        DataLoader(_ds(), batch_size=None, drop_last=True)
