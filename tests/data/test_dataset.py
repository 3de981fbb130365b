import numpy as np
import pytest

import nabla
from nabla.data import ConcatDataset, Dataset, Subset, TensorDataset, random_split


def test_tensor_dataset_items_and_batches():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ds = TensorDataset(nabla.tensor(x), y)
    assert len(ds) == 10
    a, b = ds[3]
    assert isinstance(a, nabla.Tensor) and a.shape == (2,) and b.item() == 3
    xb, yb = ds.get_batch(np.array([4, 0, -1]))
    np.testing.assert_array_equal(xb, x[[4, 0, 9]])
    np.testing.assert_array_equal(yb, [4, 0, 9])


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_and_concat():
    ds = TensorDataset(np.arange(10))
    sub = Subset(ds, [7, 2, 5])
    assert len(sub) == 3 and sub[0][0].item() == 7
    np.testing.assert_array_equal(sub.get_batch(np.array([2, 0]))[0], [5, 7])
    cat = ConcatDataset([ds, TensorDataset(np.arange(100, 105))])
    assert len(cat) == 15 and cat[10][0].item() == 100 and cat[-1][0].item() == 104
    np.testing.assert_array_equal(cat.get_batch(np.array([12, 1, 10, 9]))[0], [102, 1, 100, 9])
    with pytest.raises(IndexError, match="out of range"):
        cat[15]
    assert len(ds + ds) == 20


def test_get_batch_only_when_members_have_it():
    class Plain(Dataset):
        def __getitem__(self, i):
            return i

        def __len__(self):
            return 4

    assert not hasattr(Subset(Plain(), [0, 1]), "get_batch")
    assert not hasattr(ConcatDataset([Plain(), TensorDataset(np.arange(3))]), "get_batch")
    assert hasattr(ConcatDataset([TensorDataset(np.arange(2)), TensorDataset(np.arange(3))]), "get_batch")


def test_random_split_sizes_disjoint_and_deterministic():
    ds = TensorDataset(np.arange(100))
    parts = random_split(ds, [60, 30, 10], generator=0)
    assert [len(p) for p in parts] == [60, 30, 10]
    idx = np.concatenate([p.indices for p in parts])
    assert len(np.unique(idx)) == 100  # disjoint and covering
    again = random_split(ds, [60, 30, 10], generator=np.random.default_rng(0))
    for p, q in zip(parts, again):
        np.testing.assert_array_equal(p.indices, q.indices)
    other = random_split(ds, [60, 30, 10], generator=1)
    assert not np.array_equal(parts[0].indices, other[0].indices)


def test_random_split_fractions_match_pytorch_rule():
    # PyTorch: floor each fraction, then deal the remainder round-robin from the first
    assert [len(p) for p in random_split(range(10), [0.33, 0.33, 0.34], generator=0)] == [4, 3, 3]
    assert [len(p) for p in random_split(range(5), [0.5, 0.5], generator=0)] == [3, 2]


def test_random_split_errors():
    with pytest.raises(ValueError, match="does not equal"):
        random_split(range(10), [3, 3])
    with pytest.raises(TypeError, match="generator"):
        random_split(range(10), [5, 5], generator="seed")
