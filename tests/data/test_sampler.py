import numpy as np
import pytest

from nabla.data import (BatchSampler, RandomSampler, SequentialSampler, SubsetRandomSampler,
                        WeightedRandomSampler)


def test_sequential_and_batch_sampler():
    s = SequentialSampler(range(7))
    assert list(s) == list(range(7)) and len(s) == 7
    assert list(BatchSampler(s, 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(s, 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(s, 3, False)) == 3 and len(BatchSampler(s, 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(s, 0, False)


def test_batch_sampler_over_plain_iterable():
    assert list(BatchSampler([5, 1, 4, 2, 3], 2, False)) == [[5, 1], [4, 2], [3]]
    assert list(BatchSampler(iter([5, 1, 4]), 2, True)) == [[5, 1]]


def test_random_sampler_permutation_seeded_and_reshuffling():
    s = RandomSampler(range(50), generator=3)
    a, b = list(s), list(s)
    assert sorted(a) == list(range(50)) and a != b  # a permutation, new each epoch
    t = RandomSampler(range(50), generator=3)
    assert list(t) == a and list(t) == b  # same sequence of epochs from the same seed


def test_random_sampler_replacement_and_num_samples():
    s = RandomSampler(range(5), replacement=True, num_samples=40, generator=0)
    a = list(s)
    assert len(a) == 40 == len(s) and set(a) <= set(range(5))
    s = RandomSampler(range(5), num_samples=12, generator=0)
    a = list(s)
    assert len(a) == 12 and sorted(a[:5]) == list(range(5))
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(5), num_samples=0)


def test_subset_and_weighted_samplers():
    s = SubsetRandomSampler([3, 8, 9], generator=0)
    assert sorted(s) == [3, 8, 9] and len(s) == 3
    w = WeightedRandomSampler([0, 0, 1, 0], 10, generator=0)
    assert list(w) == [2] * 10
    with pytest.raises(ValueError, match="weights"):
        WeightedRandomSampler([0, 0], 3)
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1, 0, 1], 3, replacement=False)
    assert np.asarray(list(WeightedRandomSampler([1, 1, 1], 3, replacement=False, generator=0))).size == 3
