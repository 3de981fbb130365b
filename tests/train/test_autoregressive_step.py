"""AutoregressiveStep: the mean NLL per image falls on a tiny binary set, evaluation reports the exact NLL and
bits/dim over the whole loader, 256 levels train end to end, the report line."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla.models.pixelcnn import PixelCNN
from nabla.train.steps import AutoregressiveStep
from nabla.train.tasks.generative import figures_line
from nabla.train.steps.autoregressive import bits_per_dim


def _stripes(n=16, size=8, seed=0):
    """Binary images with structure a PixelCNN can learn: vertical stripes at a random phase, 5% of pixels flipped."""
    rng = np.random.default_rng(seed)
    phase = rng.integers(0, 2, (n, 1, 1, 1))
    x = ((np.arange(size)[None, None, None, :] + phase) % 2).repeat(size, axis=2).astype(np.float32)
    flip = rng.random(x.shape) < 0.05
    return np.where(flip, 1 - x, x).astype(np.float32), np.zeros(n, np.int64)


def _step(levels=2, lr=1e-2):
    nb.manual_seed(0)
    model = PixelCNN((1, 8, 8), hidden=8, blocks=2, levels=levels)
    return AutoregressiveStep(model, nb.optim.Adam(model.parameters(), lr=lr))


def test_the_loss_is_the_mean_nll_per_image_and_falls():
    step = _step()
    images, labels = _stripes()
    assert step.monitor == ("val_nll", "min")
    with nb.no_grad():
        expected = float(step.model.nll(images).data.mean())
    first = step.train_step((images, labels))
    assert first["loss"] == pytest.approx(expected, rel=1e-5) and first["batch_size"] == 16
    assert first["bits_per_dim"] == pytest.approx(first["loss"] / (64 * math.log(2)))
    for _ in range(40):
        last = step.train_step((nb.tensor(images), labels))["loss"]
    assert last < 0.6 * first["loss"], (first["loss"], last)


def test_evaluate_is_the_exact_mean_nll_over_the_loader():
    step = _step()
    images, labels = _stripes(10)
    step.model.train()
    loader = [(images[:6], labels[:6]), (nb.tensor(images[6:]), labels[6:])]
    result = step.evaluate(loader)
    assert step.model.training                                   # the mode is restored
    with nb.no_grad():
        expected = float(step.model.nll(images).data.astype(np.float64).mean())
    assert result["nll"] == pytest.approx(expected, rel=1e-5) and result["loss"] == result["nll"]
    assert result["bits_per_dim"] == pytest.approx(expected / (64 * math.log(2)), rel=1e-5)
    assert result["images"] == 10 and result["images_per_s"] > 0
    assert step.evaluate([images])["images"] == 10              # batches of images alone


def test_256_levels_train_end_to_end():
    step = _step(levels=256, lr=3e-2)
    x = np.random.default_rng(1).integers(100, 140, (8, 1, 8, 8)) / 255     # a narrow band of grey levels
    batch = (x.astype(np.float32), np.zeros(8, np.int64))
    first = step.train_step(batch)["loss"]
    assert 64 * math.log(256) * 0.5 < first < 64 * math.log(256) * 2
    for _ in range(20):
        last = step.train_step(batch)["loss"]
    assert last < 64 * math.log(40) + 10 < first                 # near uniform over the 40 levels used, or better
    assert step.evaluate([batch])["nll"] == pytest.approx(last, rel=0.1)


def test_state_round_trip_and_the_report_line():
    step = _step()
    step.train_step(_stripes())
    other = _step()
    other.load_state_dict(step.state_dict())
    images = _stripes(4, seed=2)[0]
    np.testing.assert_array_equal(other.model.nll(images).data, step.model.nll(images).data)
    assert figures_line({"nll": 91.75123, "bits_per_dim": 0.16879}) == "nll=91.7512 bits_per_dim=0.1688"
    assert bits_per_dim(784 * math.log(2), (1, 28, 28)) == pytest.approx(1.0)
