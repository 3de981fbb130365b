"""The sequence experiments (long-term-dependency, attention-maps, rnn-vs-transformer) in their quick
configurations: the numbers they report are consistent.  test_experiments.py runs every registered
experiment end to end; its cache of results is shared here, so each runs once per session."""
import math

import numpy as np
import pytest

from nabla.experiments import experiment_names
from nabla.experiments.attention_maps import diagonality
from nabla.experiments.long_term_dependency import BASELINE_MSE, adding_batch

from .test_experiments import _run


def test_registered():
    assert {"long-term-dependency", "attention-maps", "rnn-vs-transformer"} <= set(experiment_names())


def test_adding_problem_batches():
    x, y = adding_batch(np.random.default_rng(0), 256, 40)
    assert x.shape == (256, 40, 2) and y.shape == (256, 1) and x.dtype == np.float32
    assert np.all(x[:, :, 1].sum(1) == 2)                                 # exactly two markers
    first = x[:, :, 1].argmax(1)
    assert np.all(first < 4)                                              # the first in the first tenth
    np.testing.assert_allclose((x[:, :, 0] * x[:, :, 1]).sum(1), y[:, 0], rtol=1e-6)
    assert abs(np.var(y) - BASELINE_MSE) < 0.05


def test_diagonality():
    eye = np.eye(5)
    assert diagonality(eye, 5, 5) == pytest.approx(1.0)
    assert diagonality(eye[::-1], 5, 5) == pytest.approx(-1.0)
    assert diagonality(np.tile([1.0, 0, 0, 0, 0], (5, 1)), 5, 5) == 0.0  # one column: no alignment


def test_long_term_dependency_numbers(tmp_path_factory):
    result, record, _, _ = _run("long-term-dependency", tmp_path_factory)
    rows = record["table"]
    lags = record["data"]["lags"]
    assert {(r["lag T"], r["model"]) for r in rows} == {(T, m) for T in lags for m in ("RNN", "LSTM", "GRU")}
    for r in rows:
        assert 0 <= r["accuracy (|err| < 0.04)"] <= 1 and r["test MSE"] >= 0
        assert r["|dL/dx_1| / |dL/dx_T| init"] > 0
    runs = record["data"]["runs"]
    for cell in ("RNN", "LSTM", "GRU"):
        for T in lags:
            g = np.asarray(runs[cell][str(T)]["grad_init"])
            assert g.shape == (T,) and np.all(np.isfinite(g))
    assert set(record["data"]["claims"]) and result.supported == all(record["data"]["claims"].values())


def test_attention_maps_numbers(tmp_path_factory):
    result, record, _, _ = _run("attention-maps", tmp_path_factory)
    data = record["data"]
    assert set(data["models"]) == {"Bahdanau RNN", "Transformer"}
    for name, maps in data["maps"].items():
        for word, phon, m in zip(data["words"], data["phonemes"], maps):
            m = np.asarray(m)
            assert m.shape == (len(phon), len(word))                     # phonemes (+ <eos>) x letters
            np.testing.assert_allclose(m.sum(1), 1.0, atol=1e-4)          # a distribution over the letters
    for r in record["table"]:
        assert -1 <= r["diagonality (Spearman)"] <= 1 and r["phoneme error rate"] >= 0


def test_rnn_vs_transformer_numbers(tmp_path_factory):
    result, record, _, _ = _run("rnn-vs-transformer", tmp_path_factory)
    runs = record["data"]["runs"]
    assert set(runs) == {"LSTM", "Transformer"}
    for name, r in runs.items():
        assert r["steps"] == 30 and np.all(np.diff(r["time"]) > 0)  # quick: a fixed step budget
        assert r["half_budget_loss"] is not None
        assert all(0 < v < math.log(120) for v in r["val_loss"])
        assert r["val_loss"][-1] < r["val_loss"][0] or len(r["val_loss"]) == 1
