"""sgd-noise: its quick table, the finite sum's noise scale, the Wilson interval, and the verdict's rule on
hand-made numbers (both ways)."""
import numpy as np
import pytest

from nabla.experiments import local_minima, sgd_noise
from nabla.experiments.base import evaluate_numbers, get_experiment, run_experiment


def test_tilts_sum_to_zero_and_the_batch_noise_has_the_predicted_scale():
    u = sgd_noise.tilts(50, 3.0, seed=4)
    assert u.shape == (50, 2) and np.allclose(u.sum(0), 0, atol=1e-12)      # the full loss is exactly f
    rng = np.random.default_rng(0)
    for b in (1, 5, 20):
        draws = sgd_noise.batch_tilt(u, b, 40000, rng)
        assert abs(draws.std(0).mean() / sgd_noise.batch_sigma(u, b) - 1) < 0.03, b
    assert sgd_noise.batch_sigma(u, 50) == 0.0
    assert np.allclose(sgd_noise.batch_tilt(u, 50, 3, rng), 0, atol=1e-12)    # B = n: the full gradient
    idx_rows = sgd_noise.batch_tilt(np.repeat(np.arange(6.0)[:, None], 2, 1), 6, 2, rng)
    assert np.allclose(idx_rows, 2.5)                                         # without replacement: each term once


def test_wilson_interval():
    low, high = sgd_noise.wilson(0, 100)
    assert low == pytest.approx(0, abs=1e-12) and 0.03 < high < 0.04        # the rule of three, roughly
    low, high = sgd_noise.wilson(50, 100)
    assert low == pytest.approx(1 - high) and low < 0.5 < high
    assert sgd_noise.wilson(30, 300)[1] - sgd_noise.wilson(30, 300)[0] < sgd_noise.wilson(3, 30)[1] - \
        sgd_noise.wilson(3, 30)[0]


def test_noiseless_descent_is_local_minima_descent():
    starts = np.random.default_rng(1).uniform(-4, 4, (20, 2))
    ends, paths = sgd_noise.descend(starts, 100, 50, keep=[0, 3])
    assert np.allclose(ends, local_minima.descend(starts, sgd_noise.LR, 150).data, atol=1e-12)
    assert paths.shape[0] == 2 and np.allclose(paths[:, 0], starts[[0, 3]]) and np.allclose(paths[:, -1], ends[[0, 3]])
    noisy, _ = sgd_noise.descend(starts, 100, 50, sigma=2.0)
    assert not np.allclose(noisy, ends)


def test_quick_run(tmp_path):
    result = run_experiment("sgd-noise", str(tmp_path), quick=True, echo=lambda *a: None)
    rows = result.table
    assert [r["method"] for r in rows].count(sgd_noise.FAMILIES[0]) == 1
    assert set(r["method"] for r in rows) == set(sgd_noise.FAMILIES)
    for r in rows:
        assert 0 <= r["95% low"] <= r["share global"] <= r["95% high"] <= 1
        assert r["mean final f"] >= result.data["f_global"] - 1e-9
    mb = [r for r in rows if r["method"] == sgd_noise.FAMILIES[1]]
    assert [r["sigma"] for r in mb] == sorted((r["sigma"] for r in mb), reverse=True)   # larger batch, less noise
    assert set(result.data["claims"]) == set(sgd_noise.claims({**result.data, "table": rows}))
    assert (tmp_path / "sgd-noise.json").exists() and result.verdict


def _numbers(gd: int, minibatch: int, gaussian: int, n: int = 300) -> dict:
    """Numbers as run makes them, with k starts of n reaching the global minimum per family."""
    def row(method, k, sigma=0.0, batch=""):
        low, high = sgd_noise.wilson(k, n)
        return {"method": method, "batch": batch, "sigma": sigma, "share global": k / n, "95% low": low,
                "95% high": high, "mean final f": -1.2, "median final f": -1.3}
    table = [row(sgd_noise.FAMILIES[0], gd), row(sgd_noise.FAMILIES[1], minibatch, 2.0, 4),
             row(sgd_noise.FAMILIES[1], gd, 0.5, 32), row(sgd_noise.FAMILIES[2], gaussian, 2.0),
             row(sgd_noise.FAMILIES[3], gd, 3.0)]
    return {"table": table, "n_starts": n, "steps": 100, "polish": 10, "lr": 0.1, "f_global": -1.8, "margin": 0.10}


def test_verdict_needs_the_margin_and_the_interval():
    supported, text = sgd_noise.verdict(_numbers(gd=30, minibatch=75, gaussian=30))      # 10% -> 25%
    assert supported and "B = 4" in text
    assert not sgd_noise.verdict(_numbers(gd=30, minibatch=55, gaussian=90))[0]         # +8 points only
    found = sgd_noise.claims(_numbers(gd=30, minibatch=55, gaussian=90))
    assert [found[k] for k in found] == [False, True, False]
    # a 10-point gain on 20 starts: its 95% interval still reaches GD's share
    assert not sgd_noise.verdict(_numbers(gd=2, minibatch=4, gaussian=2, n=20))[0]
    entry = get_experiment("sgd-noise")
    assert evaluate_numbers(entry, _numbers(gd=30, minibatch=75, gaussian=30)).supported
