"""The recurrent forecaster: shapes, the registry's facts, and the naive forecast as its zero point."""
import numpy as np
import pytest

import nabla.models.forecaster  # noqa: F401  (registers lstm-forecaster)
from nabla.autograd.tensor import Tensor
from nabla.models import build_model, get_model_entry
from nabla.models.forecaster import RNNForecaster


def _x(batch=4, window=10, seed=0):
    return Tensor(np.random.default_rng(seed).normal(size=(batch, window, 1)).astype(np.float32))


def test_registry_entry_says_task_data_and_options():
    entry = get_model_entry("lstm-forecaster")
    assert entry.task == "forecasting" and entry.default_dataset == "sunspots"
    assert {"cell", "hidden", "layers", "horizon", "window", "skip"} <= set(entry.options)
    assert entry.options["cell"] == "lstm" and entry.options["window"] == 0
    with pytest.raises(ValueError, match="'cell' must be one of lstm, gru"):
        entry.parse_option("cell", "rnn")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_output_is_one_value_per_lead(cell):
    model = build_model("lstm-forecaster", (10, 1), 0, cell=cell, hidden=8, horizon=5)
    assert model.window == 10 and model.horizon == 5             # window 0: the task's in_shape
    assert model(_x()).shape == (4, 5)
    wide = build_model("lstm-forecaster", (10, 1), 0, hidden=8, horizon=3, window=16, layers=2)
    assert wide.window == 16 and wide(_x(window=16)).shape == (4, 3)


def test_zero_heads_give_the_naive_forecast():
    model = RNNForecaster(window=10, horizon=4, hidden_size=8)
    for p in (model.head.weight, model.head.bias, model.skip.weight):
        p.data[...] = 0
    x = _x()
    assert np.allclose(model(x).data, np.repeat(x.data[:, -1, :], 4, axis=1))


def test_forecast_moves_with_the_level_of_the_window():
    """Inputs are read relative to their last value: shifting the window shifts the forecast by as much."""
    model = RNNForecaster(window=10, horizon=3, hidden_size=8, cell="gru")
    x = _x()
    assert np.allclose(model(Tensor(x.data + 5)).data, model(x).data + 5, atol=1e-5)


def test_every_parameter_gets_a_gradient():
    model = RNNForecaster(window=6, horizon=2, hidden_size=4, skip=True)
    model(_x(window=6)).sum().backward()
    assert all(p.grad is not None and np.abs(p.grad).sum() > 0 for p in model.parameters())
    assert RNNForecaster(window=6, horizon=2, skip=False).skip is None


def test_wrong_inputs_and_options_are_one_line_errors():
    model = RNNForecaster(window=10, horizon=2)
    with pytest.raises(ValueError, match=r"expected inputs \(batch, 10, 1\), got shape \(4, 12, 1\)"):
        model(_x(window=12))
    with pytest.raises(ValueError, match="option 'window' must be >= 0"):
        build_model("lstm-forecaster", (10, 1), 0, window=-1)
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        RNNForecaster(window=10, horizon=0)
