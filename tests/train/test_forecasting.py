"""Forecasting through `nabla train` / `nabla eval`: a short run on the generated sine series beats the naive
forecast, records its window, horizon and scaling, and its checkpoint evaluates to the same figures."""
import json
import os

import numpy as np
import pytest

import nabla.models.forecaster  # noqa: F401  (registers lstm-forecaster)
import nabla.train.tasks.forecasting  # noqa: F401  (registers the task)
from nabla.data.datasets import REGISTRY
from nabla.data.datasets.series import CO2, SineSeries
from nabla.models.forecaster import RNNForecaster
from nabla.train import run as runs
from nabla.train.checkpoint import load_checkpoint
from nabla.train.steps.forecasting import ForecastStep
from nabla.train.tasks.forecasting import error_table, fit_baselines, series_splits


@pytest.fixture
def sine(monkeypatch):
    monkeypatch.setitem(REGISTRY, SineSeries.name, SineSeries)  # registered here, whatever __init__ does


def _train(tmp_path, options=None, **settings):
    lines = []
    request = runs.Request(model="lstm-forecaster", dataset="sine-series", out=str(tmp_path / "run"), progress=False,
                           options={"hidden": "16", "horizon": "6", **(options or {})},
                           settings={"epochs": 6, "batch_size": 32, **settings})
    return runs.train(request, echo=lines.append), lines


def test_a_short_run_beats_the_naive_forecast_and_eval_repeats_it(tmp_path, sine):
    result, lines = _train(tmp_path)
    rows = {r["method"]: r for r in result["table"]}
    model, naive = rows["lstm-forecaster (lstm)"], rows["naive"]
    assert model["mean_rmse"] < 0.7 * naive["mean_rmse"], lines[-12:]
    assert model["leads"] == [1, 3, 6] and any(name.startswith("AR(") for name in rows)
    assert any("against the naive forecast" in ln and "% lower" in ln for ln in lines)
    folder = tmp_path / "run"
    saved = json.loads((folder / "test.json").read_text())
    assert saved["table"][0]["mean_rmse"] == pytest.approx(model["mean_rmse"])
    config = load_checkpoint(folder / "last.safetensors")["config"]
    data = SineSeries(split="train")
    assert config["window"] == 24 and config["horizon"] == 6 and config["in_shape"] == [24, 1]
    assert config["scale"] == {"mean": pytest.approx(data.mean), "std": pytest.approx(data.std)}
    if result.get("plot"):
        assert os.path.getsize(result["plot"]) > 10_000
    out = []
    again = runs.evaluate(str(folder / "last.safetensors"), echo=out.append)
    assert again["table"][0]["rmse"] == pytest.approx(model["rmse"], rel=1e-5)
    assert any("AR(" in ln for ln in out)


def test_the_window_option_reaches_the_data_and_the_checkpoint(tmp_path, sine):
    _train(tmp_path, options={"window": "12", "cell": "gru"}, epochs=1)
    config = load_checkpoint(tmp_path / "run" / "last.safetensors")["config"]
    assert config["window"] == 12 and config["in_shape"] == [12, 1] and config["options"]["cell"] == "gru"
    out = []
    result = runs.evaluate(str(tmp_path / "run" / "last.safetensors"), echo=out.append)
    assert result["window"] == 12 and "from the 12 steps before it" in "\n".join(out)


def test_a_forecasting_model_refuses_an_image_data_set(tmp_path, sine):
    with pytest.raises(runs.RunError, match=r"'lstm-forecaster' \(forecasting\) does not fit data set 'mnist'"):
        runs.train(runs.Request(model="lstm-forecaster", dataset="mnist", out=str(tmp_path / "x"), progress=False))


def test_forecast_step_scores_and_forecasts_in_the_series_units():
    model = RNNForecaster(window=4, horizon=2, hidden_size=4)
    for p in (model.head.weight, model.head.bias, model.skip.weight):
        p.data[...] = 0                                  # the naive forecast
    step = ForecastStep(model, None, mean=10.0, std=2.0)
    inputs = np.array([[1.0, 2, 3, 4], [5, 6, 7, 8]])
    assert np.allclose(step.forecast(inputs), [[4, 4], [8, 8]], atol=1e-5)
    rmse = dict(step.metrics)["rmse"]
    assert rmse(np.zeros((2, 2)), np.full((2, 2), 0.5)) == pytest.approx(1.0)     # 0.5 std = 1 unit
    with pytest.raises(ValueError, match="standard deviation must be positive"):
        ForecastStep(model, None, mean=0.0, std=0.0)


def test_baselines_are_fitted_on_the_training_part_with_a_seasonal_naive_where_a_period_fits(monkeypatch):
    splits = series_splits(SineSeries, 24, 6, download=False)
    names = list(fit_baselines(splits))
    assert names[0] == "naive" and names[-1].startswith("AR(") and len(names) == 2
    monkeypatch.setattr(SineSeries, "period", 20)
    monkeypatch.setattr(SineSeries, "step_name", "week")
    assert "seasonal naive (20 weeks)" in fit_baselines(series_splits(SineSeries, 24, 6, download=False))
    assert CO2.period == 52 and CO2.default_window >= 52


def test_the_table_says_when_the_model_loses_to_the_naive_forecast():
    errors = {"m": {"rmse": [2.0, 4.0], "mae": [1.0, 2.0]}, "naive": {"rmse": [1.0, 2.0], "mae": [1.0, 1.0]}}
    lines, rows = error_table({"errors": errors, "leads": [1, 2]}, "ppm")
    assert rows[0]["mean_rmse"] == 3.0 and "100.0% HIGHER" in lines[-1]
