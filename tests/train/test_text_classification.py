"""Text classification: the report's figures on hand-made predictions, the length-bucketed batches, and a tiny
run through the run layer on the real verses (skipped where sword-text-kjv is not installed) that beats the
majority class, writes its confusion matrix, and evaluates and classifies a prompt from its checkpoint."""
import json

import numpy as np
import pytest

from nabla.data.text.verses import KJVBooks
from nabla.train import run as runs
from nabla.train.steps.text_classification import SequenceBatches
from nabla.train.tasks import get_task
from nabla.train.tasks.text_classification import confused_pairs, figures, summary_lines  # registers the task

needs_kjv = pytest.mark.skipif(not KJVBooks.is_present(),
                               reason=f"kjv-books needs sword-text-kjv, not installed here ({KJVBooks.install_hint()})")


def test_figures_majority_baseline_groups_and_confused_pairs():
    classes = ["a", "b", "c", "d"]
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    pred = np.array([0, 0, 1, 1, 0, 2, 2, 3])
    logits = np.eye(4)[pred]
    groups = {"half": (["ab", "cd"], [0, 0, 1, 1])}
    res = figures(logits, labels, classes, majority=0, groups=groups)
    assert res["accuracy"] == 5 / 8 and res["majority_class"] == "a" and res["majority_accuracy"] == 3 / 8
    assert res["half_accuracy"] == 1.0 and res["half_majority_accuracy"] == 5 / 8   # every mistake within its half
    f1 = [2 / 3, 1 / 2, 2 / 3, 2 / 3]                                               # per-class F1 by hand
    assert res["macro_f1"] == pytest.approx(np.mean(f1))
    np.testing.assert_array_equal(res["confusion"], [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]])
    assert res["confused_pairs"] == [
        {"pair": ["a", "b"], "count": 2, "first_as_second": 1, "second_as_first": 1},
        {"pair": ["d", "c"], "count": 1, "first_as_second": 1, "second_as_first": 0}]   # larger direction first
    text = "\n".join(summary_lines(res, groups))
    assert "test accuracy 62.50% against 37.50% for the majority class (a)" in text
    assert "half accuracy of the predictions 100.00%" in text and "a->b 1 + b->a 1, d->c 1 + c->d 0" in text


def test_confused_pairs_of_a_perfect_or_binary_classifier():
    assert confused_pairs(np.diag([3, 4]), ["x", "y"]) == []
    assert confused_pairs(np.array([[5, 0], [7, 2]]), ["x", "y"]) == [
        {"pair": ["y", "x"], "count": 7, "first_as_second": 7, "second_as_first": 0}]


class _Ragged:
    """A stand-in text set: sample i is i+1 tokens long, label i % 3."""
    lengths = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])

    def get_batch(self, idx):
        idx = np.asarray(idx)
        tok = (np.arange(self.lengths.max())[None, :] < self.lengths[idx, None]).astype(np.int64)
        return tok[:, :self.lengths[idx].max()], self.lengths[idx], idx % 3


def test_sequence_batches_cover_the_split_and_resume():
    ds = _Ragged()
    loader = SequenceBatches(ds, 3, seed=0)
    seen = np.concatenate([b[1].data for b in loader])
    assert sorted(seen.tolist()) == sorted(ds.lengths.tolist()) and len(loader) == 4
    assert all(b[0].shape[1] == int(b[1].data.max()) for b in loader)         # padded to the batch's longest
    state = loader.state_dict()
    first = [b[1].data.tolist() for b in loader]
    loader.load_state_dict(state)
    assert [b[1].data.tolist() for b in loader] == first                      # exact resume
    ordered = SequenceBatches(ds, 4, shuffle=False)
    assert [b[1].data.tolist() for b in ordered] == [[1, 1, 2, 3], [3, 4, 5, 5], [6, 9]] and ordered.state_dict() == {}
    spread = SequenceBatches(ds, 10, shuffle=False, limit=4)
    np.testing.assert_array_equal(spread.indices, [0, 3, 6, 9])               # evenly spaced, not the first four


@needs_kjv
def test_a_tiny_run_beats_the_majority_class_and_its_checkpoint_evaluates(tmp_path):
    request = runs.Request(model="text-cnn", dataset="kjv-testament", out=str(tmp_path / "run"), progress=False,
                           options={"embed_dim": "32", "num_filters": "16", "dropout": "0"},
                           settings={"max_steps": 300, "batch_size": 32, "lr": 0.01, "eval_every": 300})
    lines = []
    result = runs.train(request, echo=lines.append)
    assert result["majority_class"] == "OT" and result["majority_accuracy"] == pytest.approx(0.744, abs=0.005)
    assert result["accuracy"] > result["majority_accuracy"] + 0.05, "\n".join(lines)
    assert 0 < result["macro_f1"] <= 1 and any(line.startswith("test accuracy") for line in lines)
    saved = json.loads((tmp_path / "run" / "confusion.json").read_text())
    matrix = np.array(saved["matrix"])
    assert saved["classes"] == ["OT", "NT"] and matrix.sum() == 1564
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result["accuracy"])
    ckpt = tmp_path / "run" / "last.safetensors"
    evaluated = runs.evaluate(ckpt, echo=lines.append)
    assert evaluated["accuracy"] == pytest.approx(result["accuracy"])          # the vocabulary travels with it
    limited = runs.evaluate(ckpt, eval_limit=200, echo=lines.append)
    assert limited["n"] == 200
    with pytest.raises(ValueError, match="has other classes"):
        runs.evaluate(ckpt, dataset="kjv-books", echo=lines.append)
    top = runs.sample(ckpt, {"prompt": "And Jesus said unto his disciples"}, echo=lines.append)
    assert [c for c, _ in top] == ["NT", "OT"] and top[0][1] > 0.5
    assert get_task("text-classification").name == "text-classification"
