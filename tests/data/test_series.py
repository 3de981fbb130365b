"""The forecasting series: statsmodels' CSV files read, split by time, scaled on the training part, windowed.

The real files (sunspots, co2) come from the statsmodels wheel: fetched once per test session into the
session's cache; those tests skip, saying why, where the wheel can be neither found nor fetched (no network,
empty cache).  Windows, splits and scaling are also checked on the generated ``SineSeries``, which always runs.
"""
import numpy as np
import pytest

from nabla.data.datasets import ChecksumError, DatasetNotFoundError
from nabla.data.datasets.series import CO2, SineSeries, Sunspots, interpolate_gaps, split_bounds

_FAILED: dict = {}   # requirement -> why its fetch failed (one try per session: both series share the wheel)


def _series(cls):
    """``(times, values)`` of a real series (one fetch copies both files); skip if it cannot be had."""
    why = _FAILED.get(cls.source.requirement)
    if why is None:
        try:
            return cls.load_series(download=True)
        except DatasetNotFoundError as e:
            why = _FAILED[cls.source.requirement] = str(e)
    pytest.skip(f"{cls.name}: the CSV of {cls.source.requirement} is not cached and could not be fetched "
                f"(no network?): {why[:200]}")


def test_sunspots_csv_is_parsed_whole():
    years, values = _series(Sunspots)
    assert len(values) == 309 == sum(Sunspots.sizes.values())
    assert years[0] == 1700 and years[-1] == 2008 and np.array_equal(np.diff(years), np.ones(308))
    assert values[:5].tolist() == [5, 11, 16, 23, 36] and values[-1] == pytest.approx(2.9)
    assert np.isfinite(values).all() and values.min() == 0


def test_co2_csv_gaps_are_filled_by_linear_interpolation():
    times, raw = _series(CO2)
    assert len(raw) == 2284 == sum(CO2.sizes.values()) and int(np.isnan(raw).sum()) == 59
    assert times[0] == pytest.approx(1958 + 87 / 365.25) and times[-1] == pytest.approx(2001 + 362 / 365.25)
    assert np.allclose(np.diff(times), 7 / 365.25, atol=1 / 365.25)            # weekly
    data = CO2(split="train", download=False)
    assert raw[6] != raw[6] and data.series[6] == pytest.approx((316.9 + 317.5) / 2)   # 1958-05-10: one week
    gap = np.arange(304, 322)                                                     # 1964: the longest gap, 18 weeks
    assert np.isnan(raw[gap]).all() and np.isfinite(raw[[303, 322]]).all()
    expected = raw[303] + (gap - 303) * (raw[322] - raw[303]) / 19
    assert np.allclose(data.series[gap], expected)
    assert not data.observed[gap].any() and data.observed.sum() == 2284 - 59
    assert np.isnan(raw[data.bounds["train"][1]:]).sum() == 0                    # no gap after the training part


def test_real_splits_sizes_and_training_scaling():
    _series(Sunspots)
    train, test = Sunspots(split="train", horizon=12), Sunspots(split="test", horizon=12)
    assert {s: b - a for s, (a, b) in train.bounds.items()} == Sunspots.sizes
    assert train.mean == test.mean == pytest.approx(train.series[:216].mean())
    assert train.std == pytest.approx(train.series[:216].std())
    assert len(train) == 216 - 24 - 12 + 1 and train.window == 24
    x, y = test.get_batch(np.arange(len(test)))
    assert x.shape == (len(test), 24, 1) and y.shape == (len(test), 12)
    assert np.allclose(test.inverse(y[:, 0]), test.series[test.origins], atol=1e-3)


def test_interpolate_gaps_is_linear_between_measured_neighbours():
    assert np.allclose(interpolate_gaps([1.0, np.nan, np.nan, 4.0, np.nan]), [1, 2, 3, 4, 4])
    with pytest.raises(ValueError, match="no finite value"):
        interpolate_gaps([np.nan, np.nan])


def test_windows_align_target_zero_is_the_value_after_the_last_input():
    data = SineSeries(split="valid", window=10, horizon=3)
    x, y = data.get_batch(np.arange(len(data)))
    for i in (0, len(data) - 1):
        t = data.origins[i]
        assert np.allclose(x[i, :, 0], data.scaled[t - 10:t]) and np.allclose(y[i], data.scaled[t:t + 3])
        assert np.allclose(data.inverse(x[i, -1, 0]), data.series[t - 1], atol=1e-4)
        assert np.allclose(data.inverse(y[i, 0]), data.series[t], atol=1e-4)
    start, stop = data.bounds["valid"]
    assert data.origins[0] == start and data.origins[-1] + 3 == stop   # every target inside the split


def test_splits_are_consecutive_70_15_15_and_scaling_uses_the_training_part_only():
    assert split_bounds(309) == {"train": (0, 216), "valid": (216, 263), "test": (263, 309)}
    data = SineSeries(split="test")
    a, b = data.bounds["train"]
    assert data.mean == pytest.approx(data.series[a:b].mean()) and data.std == pytest.approx(data.series[a:b].std())
    assert data.mean != pytest.approx(data.series.mean())


def test_lead_windows_forecast_each_test_step_once_at_every_lead():
    data = SineSeries(split="test", window=24, horizon=5)
    origins, inputs, targets = data.lead_windows()
    start, stop = data.bounds["test"]
    for k in range(1, 6):
        ok = np.isfinite(targets[:, k - 1])
        steps = origins[ok] + k - 1
        assert np.array_equal(steps, np.arange(start, stop))
        assert np.allclose(targets[ok, k - 1], data.series[steps])
    assert np.allclose(inputs[:, -1], data.series[origins - 1])


def test_window_longer_than_the_training_part_is_refused():
    with pytest.raises(ValueError, match="window 500 \\+ horizon 1 exceeds the 420 steps"):
        SineSeries(window=500)
    with pytest.raises(ValueError, match="unknown split 'dev2'"):
        SineSeries(split="dev2")


def test_a_missing_file_names_the_package_and_the_flag(empty_data_root):
    if Sunspots.source.locate(Sunspots.filename) is not None:
        pytest.skip("statsmodels is installed here, so sunspots.csv is never missing")
    with pytest.raises(DatasetNotFoundError, match="statsmodels==0.15.0.*download=True"):
        Sunspots(download=False)
    assert not Sunspots.is_present()


def test_a_damaged_file_is_refused_by_its_checksum(empty_data_root):
    folder = Sunspots.folder()
    folder.mkdir(parents=True)
    (folder / "sunspots.csv").write_text('"YEAR","SUNACTIVITY"\n1700,5\n')
    with pytest.raises(ChecksumError, match="sunspots.csv"):
        Sunspots(download=False)
