"""mnist-odd-even / mnist-5k-odd-even: the digit sets labelled odd (1) / even (0), reading the digit sets' files."""
import numpy as np
import pytest

from nabla.data.datasets import MNIST, MNIST5k, datasets_for_task, get_dataset, get_dataset_class, list_datasets
from nabla.data.datasets.binary import OddEvenMNIST, OddEvenMNIST5k


def _need(cls):
    if not cls.is_present():
        pytest.skip(f"{cls.__name__} is not installed here; install it with: {cls.install_hint()}")


def test_registered_with_the_binary_facts():
    for name, cls in (("mnist-odd-even", OddEvenMNIST), ("mnist_odd_even", OddEvenMNIST),
                      ("mnist-5k-odd-even", OddEvenMNIST5k)):
        assert get_dataset_class(name) is cls
    for cls, source in ((OddEvenMNIST, MNIST), (OddEvenMNIST5k, MNIST5k)):
        assert cls.binary and cls.tasks == ("binary",) and cls.task == "binary" and cls.classes == ["even", "odd"]
        assert cls.folder() == source.folder() and cls.sizes == source.sizes   # the same files and cache
        assert not cls.mirror_preserves_labels and cls.normalize == "standardize"
    assert {"mnist-odd-even", "mnist-5k-odd-even"} <= set(datasets_for_task("binary"))
    assert "mnist-odd-even" not in datasets_for_task("classification")
    rows = {r["name"]: r for r in list_datasets()}
    assert rows["mnist-odd-even"]["num_classes"] == 2 and rows["mnist-odd-even"]["task"] == "binary"


@pytest.mark.parametrize("cls,source", [(OddEvenMNIST5k, MNIST5k), (OddEvenMNIST, MNIST)])
def test_labels_are_the_digit_mod_2_and_the_images_the_digits(cls, source):
    _need(source)
    for train in (True, False):
        digits, view = source(train=train), cls(train=train)
        assert len(view) == len(digits)
        np.testing.assert_array_equal(view.targets.numpy(), digits.targets.numpy() % 2)
        np.testing.assert_array_equal(view.digits, digits.targets.numpy())
        idx = np.arange(0, len(view), 97)
        x, y = view.get_batch(idx)
        np.testing.assert_array_equal(x, digits.get_batch(idx)[0])
        assert y.dtype == np.int64 and set(np.unique(y)) == {0, 1}
        assert 0.49 < view.targets.numpy().mean() < 0.51          # about as many odd digits as even ones
    # the digit set's decoded cache still holds the digits (the view converts after loading, never on disk)
    assert source(train=True).targets.numpy().max() == 9


def test_built_by_name():
    _need(MNIST5k)
    ds = get_dataset("mnist-5k-odd-even", train=False)
    img, label = ds[0]
    assert img.shape == (1, 28, 28) and label == int(MNIST5k(train=False).targets.numpy()[0]) % 2
