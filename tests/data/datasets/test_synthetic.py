"""The generated regression sets: `linear` (the notes' line) and `sine` (non-linear), from fixed seeds."""
import numpy as np
import pytest

from nabla.data.datasets import LinearData, datasets_for_task, get_dataset, get_dataset_class
from nabla.data.datasets.synthetic import SineData, SyntheticRegression


@pytest.mark.parametrize("cls,noise", [(LinearData, 0.3), (SineData, 0.1)])
def test_samples_are_fixed_and_scatter_around_the_curve_by_the_noise(cls, noise):
    train, test = cls(train=True), cls(train=False)
    assert (len(train), len(test)) == (1000, 200) and train.x.shape == (1000, 1) and train.y.dtype == np.float32
    np.testing.assert_array_equal(train.y, cls(train=True).y)                 # the same every time
    assert not np.array_equal(train.x[:200], test.x)                          # test drawn from its own seed
    residual = train.y - train.target(train.x)
    assert abs(residual.std() - noise) < 0.1 * noise and abs(residual.mean()) < 0.03
    low, high = cls.x_range
    assert low <= train.x.min() < low + 0.05 and high - 0.05 < train.x.max() <= high


def test_linear_is_the_notes_line_and_sine_is_not_a_line():
    x = np.array([[-1.0], [0.0], [2.0]], np.float32)
    np.testing.assert_allclose(LinearData(train=False).target(x), 2.5 * x - 1.0)
    s = SineData(train=True)
    slope, intercept = np.polyfit(s.x[:, 0], s.y[:, 0], 1)
    line_mse = np.mean((slope * s.x[:, 0] + intercept - s.y[:, 0]) ** 2)
    assert line_mse > 0.35                   # the best line leaves most of the variance: a non-linear task


def test_registered_for_regression():
    assert get_dataset_class("sine") is SineData and get_dataset("linear").name == "linear"
    assert {"linear", "sine"} <= set(datasets_for_task("regression"))
    with pytest.raises(TypeError):
        SyntheticRegression()                # abstract: a subclass says its curve
