"""Every registered experiment runs end to end in its quick configuration: JSON and plot written,
numbers sane; a progress line per trained configuration.  (Whether a claim is SUPPORTED is the experiment's finding, not a test condition.)"""
import importlib.util
import json
import math
import os

import numpy as np
import pytest

from nabla.data.datasets import DatasetNotFoundError
from nabla.experiments import experiment_names, get_experiment, run_experiment

HAS_MPL = importlib.util.find_spec("matplotlib") is not None
_results = {}


def _run(name, tmp_path_factory):
    if name not in _results:
        out = tmp_path_factory.mktemp(name)
        lines = []
        try:
            result = run_experiment(name, out_dir=str(out), quick=True, echo=lines.append, download=False)
        except DatasetNotFoundError as e:
            pytest.skip(f"{name}: data set not installed here: {e}")
        with open(os.path.join(out, f"{name}.json")) as f:
            record = json.load(f)
        _results[name] = (result, record, lines, out)
    return _results[name]


def _finite_numbers(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _finite_numbers(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _finite_numbers(v)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield obj


def test_every_experiment_module_is_registered():
    assert {"linear-regression", "gd-variants", "optimizers", "local-minima", "regularization",
            "activations"} <= set(experiment_names())


@pytest.mark.parametrize("name", experiment_names())
def test_runs_end_to_end(name, tmp_path_factory):
    result, record, lines, out = _run(name, tmp_path_factory)
    assert record["experiment"] == name and record["quick"] is True
    assert isinstance(record["supported"], bool) and record["supported"] == result.supported
    assert record["claim"] and record["verdict"] and record["table"]
    for row in record["table"]:      # table numbers are finite (NaN/inf would be written as null)
        assert all(v is not None for v in row.values()), row
        assert all(math.isfinite(v) for v in _finite_numbers(row)), row
    assert any(ln.startswith(f"{name}: ") for ln in lines), "no progress line"
    verdict_line = [ln for ln in lines if ln.startswith(("SUPPORTED:", "NOT SUPPORTED:"))]
    assert len(verdict_line) == 1 and verdict_line[0].startswith("SUPPORTED" if result.supported else "NOT")
    if HAS_MPL:
        png = os.path.join(out, f"{name}.png")
        assert os.path.getsize(png) > 10_000
        with open(png, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
        import matplotlib.pyplot as plt
        fig = plt.figure()
        get_experiment(name).plot(fig, record["data"])      # the figure redrawn from the JSON alone
        plt.close(fig)


def _rows(record, key):
    return {r[key]: r for r in record["table"]}


def test_gd_variants_numbers(tmp_path_factory):
    result, record, _, _ = _run("gd-variants", tmp_path_factory)
    rows = _rows(record, "method")
    batch, sgd, mini = rows["batch (B = n)"], rows["stochastic (B = 1)"], rows["mini-batch (B = 32)"]
    n = record["data"]["n_train"]
    assert batch["batch size"] == n and sgd["batch size"] == 1 and mini["batch size"] == 32
    assert batch["updates"] == batch["epochs"] and sgd["updates"] == round(sgd["epochs"] * n)
    assert batch["cos(update, full grad)"] == pytest.approx(1.0, abs=1e-5)   # the full gradient itself
    assert sgd["cos(update, full grad)"] < mini["cos(update, full grad)"] < 1 - 1e-3
    for name, curve in record["data"]["curves"].items():
        assert curve["loss"][-1] < curve["loss"][0], name                    # every method learns
        assert np.all(np.diff(curve["time"]) >= 0) and np.all(np.diff(curve["epoch"]) > 0)


def test_optimizers_numbers(tmp_path_factory):
    result, record, _, _ = _run("optimizers", tmp_path_factory)
    ros, mlp = record["data"]["rosenbrock"], record["data"]["mlp"]
    assert set(ros) == set(mlp) == {"SGD", "momentum", "AdaGrad", "RMSprop", "Adam"}
    f0 = (1 + 1.2) ** 2 + 100 * (1 - 1.44) ** 2
    for name in ros:
        assert ros[name]["final_f"] < f0, name                               # every optimizer descends
        assert np.asarray(ros[name]["path"]).shape == (record["data"]["rosenbrock_config"]["steps"] + 1, 2)
        assert 0.0 <= mlp[name]["test_accuracy"] <= 1.0
        assert mlp[name]["final_train_loss"] < math.log(10), name            # below chance level
    assert max(m["test_accuracy"] for m in mlp.values()) > 0.7


def test_local_minima_numbers(tmp_path_factory):
    result, record, _, _ = _run("local-minima", tmp_path_factory)
    rows, data = record["table"], record["data"]
    assert all(r["local minimum"] for r in rows) and len(rows) >= 2
    assert sum(r["fraction of starts"] for r in rows) == pytest.approx(1.0)
    assert [r["global"] for r in rows].count(True) <= 1
    assert min(r["f"] for r in rows) >= data["f_global"] - 1e-9
    assert 0.0 <= data["fraction_global"] <= 1.0


def test_regularization_numbers(tmp_path_factory):
    result, record, _, _ = _run("regularization", tmp_path_factory)
    a = {r["model"]: r for r in record["table"] if r["part"] == "A"}
    none, l1 = a["softmax regression, no penalty"], a["softmax regression + L1"]
    assert l1["near-zero weights"] > none["near-zero weights"]               # L1 zeroes the unused pixels
    assert set(record["data"]["claims"]) >= {"L1 makes weights sparse", "L2 limits weight size"}
    for r in record["table"]:
        if r["part"] == "B":
            assert 0 <= r["val acc"] <= 1 and r["train acc"] >= r["val acc"] - 0.05


def test_activations_numbers(tmp_path_factory):
    result, record, _, _ = _run("activations", tmp_path_factory)
    rows = _rows(record, "activation")
    assert rows["sigmoid"]["|dW_1| / |dW_out|"] < 1e-2                        # 10 saturating layers
    assert rows["ReLU"]["|dW_1| / |dW_out|"] > 100 * rows["sigmoid"]["|dW_1| / |dW_out|"]
    for name in ("sigmoid", "tanh", "Leaky ReLU", "ELU"):
        assert rows[name]["dead units (trained)"] == 0.0, name               # derivative never exactly 0
    assert 0.0 <= rows["ReLU"]["dead units (init)"] < 1.0
    assert result.supported == all(record["data"]["claims"].values())
