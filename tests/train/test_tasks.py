"""The tasks behind `nabla train`: data, loaders and augmentation as the registry's facts say."""
import numpy as np
import pytest

from nabla.data.datasets import MNIST5k
from nabla.models import build_model, get_model_entry
from nabla.train import settings as S
from nabla.train.tasks import check_dataset, get_task


def _loaders(augment):
    if not MNIST5k.is_present():
        pytest.skip(f"MNIST-5k is not installed here; install it with: {MNIST5k.install_hint()}")
    entry, task = get_model_entry("mlp"), get_task("classification")
    settings = S.resolve("classification", {}, None, {"batch_size": 64, "augment": augment})
    data = task.load("mnist-5k", settings, download=False)
    model = build_model("mlp", data.in_shape, data.num_classes, width=8, depth=1)
    step, loader, val = task.make_step(entry, model, S.make_optimizer(settings, model.parameters()), data, settings)
    return loader, val


def test_augment_shifts_training_batches_only():
    plain_loader, plain_val = _loaders(False)
    aug_loader, aug_val = _loaders(True)
    assert np.array_equal(plain_loader.dataset.indices, aug_loader.dataset.indices)     # the same split
    idx = np.arange(16)
    x_plain, y_plain = plain_loader.dataset.get_batch(idx)
    x_aug, y_aug = aug_loader.dataset.get_batch(idx)
    assert x_aug.shape == x_plain.shape and np.array_equal(y_aug, y_plain) and not np.allclose(x_aug, x_plain)
    assert np.array_equal(plain_val.dataset.get_batch(idx)[0], aug_val.dataset.get_batch(idx)[0])  # not augmented
    assert "RandomHorizontalFlip" not in repr(aug_loader.dataset.dataset.transform)  # digits are not mirrored


def test_a_model_trains_only_on_data_sets_of_its_task():
    assert check_dataset(get_model_entry("char-lstm"), "KJV") == "kjv"
    with pytest.raises(ValueError, match=r"'char-lstm' \(lm\) does not fit data set 'mnist' \(classification\)"):
        check_dataset(get_model_entry("char-lstm"), "mnist")
