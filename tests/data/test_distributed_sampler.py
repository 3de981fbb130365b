"""DistributedSampler: PyTorch's sharding rules (disjoint shares that cover the epoch, padding or cutting when
the size does not divide, set_epoch), checked on every rank's share computed in one process."""
import numpy as np
import pytest

from nabla.data import DataLoader, DistributedSampler, TensorDataset


def shares(n, replicas, **kw):
    data = range(n)
    samplers = [DistributedSampler(data, num_replicas=replicas, rank=r, **kw) for r in range(replicas)]
    return samplers, [s.index_array() for s in samplers]


@pytest.mark.parametrize("n,replicas", [(10, 2), (10, 3), (11, 4), (3, 5), (97, 7)])
@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_once_without_drop_last(n, replicas, shuffle):
    samplers, parts = shares(n, replicas, shuffle=shuffle)
    size = -(-n // replicas)
    assert all(len(p) == size == len(s) for p, s in zip(parts, samplers))
    together = np.concatenate(parts)
    counts = np.bincount(together, minlength=n)
    assert counts.min() >= 1                       # every index is seen
    assert together.size - n == size * replicas - n  # only the padding repeats
    assert counts.sum() == size * replicas


@pytest.mark.parametrize("n,replicas", [(10, 3), (11, 4), (97, 7), (12, 4)])
def test_drop_last_cuts_to_equal_disjoint_shares(n, replicas):
    _, parts = shares(n, replicas, shuffle=True, drop_last=True)
    together = np.concatenate(parts)
    assert all(len(p) == n // replicas for p in parts)
    assert len(np.unique(together)) == together.size == (n // replicas) * replicas


def test_set_epoch_changes_the_order_identically_on_every_rank():
    samplers, first = shares(20, 2, seed=3)
    for s in samplers:
        s.set_epoch(1)
    second = [s.index_array() for s in samplers]
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))
    for part in (first, second):  # still a partition of the epoch
        assert sorted(np.concatenate(part).tolist()) == list(range(20))
    again = DistributedSampler(range(20), num_replicas=2, rank=1, seed=3)
    again.set_epoch(1)
    np.testing.assert_array_equal(again.index_array(), second[1])
    assert list(again) == second[1].tolist()


def test_without_shuffle_rank_r_takes_every_nth_index():
    _, parts = shares(8, 3, shuffle=False)
    assert [p.tolist() for p in parts] == [[0, 3, 6], [1, 4, 7], [2, 5, 0]]


def test_single_process_defaults_and_dataloader():
    sampler = DistributedSampler(range(5), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (1, 0)
    ds = TensorDataset(np.arange(5, dtype=np.float32))
    batches = [b[0].numpy().tolist() for b in DataLoader(ds, batch_size=2, sampler=sampler)]
    assert batches == [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("kw,match", [({"num_replicas": 0}, "num_replicas"), ({"num_replicas": 2, "rank": 2}, "rank"),
                                      ({"num_replicas": 2, "rank": -1}, "rank")])
def test_bad_arguments_name_the_sampler(kw, match):
    with pytest.raises(ValueError, match=f"DistributedSampler.*{match}"):
        DistributedSampler(range(4), **kw)
