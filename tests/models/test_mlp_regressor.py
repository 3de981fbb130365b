"""mlp-regressor, the notes' regression MLP (x -> 10 ReLU units -> y, Adam, MSE), on `linear` and `sine`."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.models import MLP, build_model, get_model_entry
from nabla.train import run as runs


def test_registered_as_the_notes_example():
    entry = get_model_entry("mlp-regressor")
    assert entry.task == "regression" and entry.default_dataset == "linear"
    assert entry.options == {"depth": 1, "width": 10, "activation": "relu"}
    assert entry.training["optimizer"] == "adam"


@pytest.mark.parametrize("num_classes", [0, 1])   # a regression set has no classes: one output regardless
def test_one_hidden_layer_of_ten_relu_units(num_classes):
    model = build_model("mlp-regressor", (1, 1), num_classes)
    assert isinstance(model, MLP) and model.num_parameters() == 1 * 10 + 10 + 10 * 1 + 1
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(1, 10), (10, 1)]
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 1
    x = nb.tensor(np.linspace(-3, 3, 7, dtype=np.float32).reshape(7, 1))
    assert model(x).shape == (7, 1)


def _train(model, dataset, tmp_path, lines):
    request = runs.Request(model=model, dataset=dataset, out=str(tmp_path / f"{model}-{dataset}"), progress=False)
    return runs.train(request, echo=lines.append)["loss"]


def test_on_the_sine_it_beats_the_line_and_prints_no_parameter_dump(tmp_path):
    mlp_lines, line_lines = [], []
    mlp = _train("mlp-regressor", "sine", tmp_path, mlp_lines)            # the training defaults: 100 epochs
    line = _train("linear-regression", "sine", tmp_path, line_lines)
    assert line > 0.35 and mlp < 0.5 * line                               # 0.097 against 0.428 here
    assert not any(ln.startswith("learned parameters") for ln in mlp_lines)   # 31 numbers: not printed
    assert any(ln.startswith("learned parameters") for ln in line_lines)      # w and b: printed
