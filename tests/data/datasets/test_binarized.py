"""Binarized MNIST / Fashion-MNIST: Bernoulli(grey / 255) bits from a counter-based hash of (seed, epoch,
image, pixel); the train split redrawn each epoch, the test split fixed."""
import numpy as np
import pytest

from nabla.data import DataLoader
from nabla.data.datasets import (MNIST, BinarizedFashionMNIST, BinarizedMNIST, FashionMNIST, MNIST5k,
                                 datasets_for_task, get_dataset, get_dataset_class, list_datasets)
from nabla.data.datasets.binarized import TEST_EPOCH, binarize, uniform_bits


def _need(cls):
    if not cls.is_present():
        pytest.skip(f"{cls.__name__} is not installed here; install it with: {cls.install_hint()}")


# ---------------------------------------------------------------------- the draw itself (no data needed)
def test_uniform_bits_look_uniform_and_independent():
    v = uniform_bits(0, 0, np.arange(200), 784).astype(np.float64) / 2 ** 53
    assert v.shape == (200, 784) and 0 <= v.min() and v.max() < 1
    assert abs(v.mean() - 0.5) < 0.003 and abs(v.var() - 1 / 12) < 0.002
    counts = np.bincount((v * 16).astype(int).ravel(), minlength=16)
    assert counts.min() > 0.95 * v.size / 16 and counts.max() < 1.05 * v.size / 16
    # neighbouring pixels, neighbouring images, neighbouring epochs and seeds: uncorrelated
    other = {"pixel": v[:, 1:], "image": v[1:], "epoch": uniform_bits(0, 1, np.arange(200), 784) / 2 ** 53,
             "seed": uniform_bits(1, 0, np.arange(200), 784) / 2 ** 53}
    mine = {"pixel": v[:, :-1], "image": v[:-1], "epoch": v, "seed": v}
    for k in other:
        assert abs(np.corrcoef(mine[k].ravel(), np.asarray(other[k], np.float64).ravel())[0, 1]) < 0.01, k


def test_binarize_is_bernoulli_of_the_grey_level():
    grey = np.random.default_rng(0).integers(0, 256, (500, 28, 28), dtype=np.uint8)
    grey[:, 0, 0], grey[:, 0, 1] = 0, 255
    bits = binarize(grey, 0, 0, np.arange(500))
    assert bits.dtype == np.uint8 and set(np.unique(bits)) == {0, 1}
    assert (bits[:, 0, 0] == 0).all() and (bits[:, 0, 1] == 1).all()   # black stays black, white stays white
    assert abs(bits.mean() - grey.mean() / 255) < 0.003
    for level in (32, 128, 224):            # per grey level, the share of ones is level / 255
        assert abs(bits[grey == level].mean() - level / 255) < 0.04


def test_the_same_image_gets_the_same_bits_whatever_the_batch():
    grey = np.random.default_rng(1).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    whole = binarize(grey, 3, 5, np.arange(64))
    picked = np.array([40, 3, 17, 3])
    np.testing.assert_array_equal(binarize(grey[picked], 3, 5, picked), whole[picked])
    assert (binarize(grey, 3, 6, np.arange(64)) != whole).any()       # another epoch, other bits
    assert (binarize(grey, 4, 5, np.arange(64)) != whole).any()       # another seed, other bits


# ---------------------------------------------------------------------- the data sets
def test_registered_with_their_tasks_and_protocol():
    for name, cls in (("binarized-mnist", BinarizedMNIST), ("binarized_mnist", BinarizedMNIST),
                      ("binarized-fashion-mnist", BinarizedFashionMNIST), ("binarized_fashion_mnist",
                                                                          BinarizedFashionMNIST)):
        assert get_dataset_class(name) is cls
    for cls in (BinarizedMNIST, BinarizedFashionMNIST):
        assert set(cls.tasks) == {"vae", "autoregressive", "gan"} and "classification" not in cls.tasks
        assert "dynamic binarization" in cls.description and "2 nats" in cls.description
        assert "seed 0" in cls.description
        assert cls.folder() == cls.source_class.folder()    # the same files and cache as the grey set
        assert cls.binarized and not getattr(cls.source_class, "binarized", False)
    for cls in (MNIST, FashionMNIST, MNIST5k):
        assert cls.task == "classification" and set(cls.tasks) == {"classification", "vae", "gan", "autoregressive"}
    assert {"mnist", "binarized-mnist", "binarized-fashion-mnist"} <= set(datasets_for_task("vae"))
    assert {"binarized-mnist"} <= set(datasets_for_task("autoregressive")) & set(datasets_for_task("gan"))
    assert "binarized-mnist" not in datasets_for_task("classification")
    rows = {r["name"]: r for r in list_datasets()}
    assert rows["binarized-mnist"]["sizes"] == {"train": 60000, "test": 10000}
    assert rows["binarized-mnist"]["shape"] == (1, 28, 28)


def test_a_classifier_is_refused_on_a_binarized_set():
    from nabla.models import get_model_entry
    from nabla.train.tasks import check_dataset
    with pytest.raises(ValueError, match="binarized-mnist"):
        check_dataset(get_model_entry("mlp"), "binarized-mnist")


def test_train_batches_are_binary_and_follow_the_epoch():
    _need(MNIST)
    ds = get_dataset("binarized-mnist", train=True)
    x, y = ds.get_batch(np.arange(256))
    assert x.shape == (256, 1, 28, 28) and x.dtype == np.float32 and set(np.unique(x)) == {0.0, 1.0}
    assert y.dtype == np.int64 and y.tolist() == ds.targets.numpy()[:256].tolist()
    assert abs(x.mean() - ds.data.numpy()[:256].mean() / 255) < 0.005
    img, label = ds[7]
    assert img.shape == (1, 28, 28) and isinstance(label, int)
    np.testing.assert_array_equal(img.numpy(), x[7])
    # the same (seed, epoch, index) gives the same bits in any batch, in any order, in a new object
    picked = np.array([200, 7, 31, -1])
    again = BinarizedMNIST(train=True).get_batch(picked)[0]
    np.testing.assert_array_equal(again[:3], x[[200, 7, 31]])
    np.testing.assert_array_equal(again[3], ds.get_batch([len(ds) - 1])[0][0])
    ds.set_epoch(1)
    assert (ds.get_batch(np.arange(256))[0] != x).mean() > 0.01     # a new epoch draws new bits
    ds.set_epoch(0)
    np.testing.assert_array_equal(ds.get_batch(np.arange(256))[0], x)
    assert (BinarizedMNIST(train=True, seed=1).get_batch(np.arange(256))[0] != x).any()
    assert ds.state_dict() == {"seed": 0, "epoch": 0}
    with pytest.raises(ValueError, match="epoch"):
        ds.set_epoch(-1)


def test_a_loader_sees_the_same_bits_whatever_the_batch_size():
    _need(MNIST)
    ds = BinarizedMNIST(train=True)
    batches = iter(DataLoader(ds, batch_size=7))
    small = np.concatenate([next(batches)[0].numpy() for _ in range(43)])[:300]
    np.testing.assert_array_equal(small, ds.get_batch(np.arange(300))[0])


def test_test_split_is_fixed_whatever_the_seed_and_epoch():
    _need(MNIST)
    a = BinarizedMNIST(train=False)
    b = BinarizedMNIST(train=False, seed=7)
    b.set_epoch(3)
    xa, _ = a.get_batch(np.arange(len(a)))
    np.testing.assert_array_equal(xa, b.get_batch(np.arange(len(b)))[0])
    assert xa.shape == (10000, 1, 28, 28) and set(np.unique(xa)) == {0.0, 1.0}
    grey = a.data.numpy()
    np.testing.assert_array_equal(xa[:, 0], binarize(grey, 0, TEST_EPOCH, np.arange(len(a))))
    assert abs(xa.mean() - grey.mean() / 255) < 0.002


def test_binarized_fashion_mnist():
    _need(FashionMNIST)
    ds = BinarizedFashionMNIST(train=False)
    x, y = ds.get_batch(np.arange(500))
    assert x.shape == (500, 1, 28, 28) and set(np.unique(x)) == {0.0, 1.0}
    assert abs(x.mean() - ds.data.numpy()[:500].mean() / 255) < 0.01
    np.testing.assert_array_equal(y, FashionMNIST(train=False).targets.numpy()[:500])
