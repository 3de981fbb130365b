"""The binary task: one logit, BCEWithLogitsLoss, accuracy / precision / recall / F1 / ROC AUC / log loss, the image
classifiers trained on a binary data set, and `nabla eval` of what they learned."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla import nn, optim
from nabla.data import DataLoader, TensorDataset
from nabla.data.datasets import MNIST5k
from nabla.models import get_model_entry
from nabla.train import run as runs
from nabla.train.binary_metrics import (binary_accuracy, binary_auroc, binary_log_loss, binary_precision_recall_f1,
                                        binary_scores, constant_baseline)
from nabla.train.steps.binary import BinaryStep, binary_targets
from nabla.train.tasks import check_dataset
from nabla.train.tasks.base import task_for


# ---------------------------------------------------------------------- the figures, on hand-made logits
def _pairwise_auc(z, t):
    """P(z_pos > z_neg) + P(tie) / 2 over every (positive, negative) pair: the definition, O(n^2)."""
    pos, neg = z[t == 1][:, None], z[t == 0][None, :]
    return float(((pos > neg) + 0.5 * (pos == neg)).mean())


def test_auc_of_perfect_reversed_tied_and_random_scores():
    t = np.array([0, 0, 1, 1, 0, 1])
    z = np.array([-2.0, -1.0, 0.5, 3.0, 0.1, 2.0])
    assert binary_auroc(z, t) == 1.0
    assert binary_auroc(-z, t) == 0.0
    assert binary_auroc(np.zeros(6), t) == 0.5                      # every score tied
    rng = np.random.default_rng(0)
    t_big = rng.integers(0, 2, 20000)
    assert abs(binary_auroc(rng.normal(size=20000), t_big) - 0.5) < 0.02
    assert math.isnan(binary_auroc(z, np.ones(6)))                   # one class only: undefined


def test_auc_rank_formula_equals_the_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    t = rng.integers(0, 2, 300)
    z = np.round(rng.normal(size=300) + t, 1)                        # rounded: many ties
    assert binary_auroc(z, t) == pytest.approx(_pairwise_auc(z, t), abs=1e-12)
    assert binary_auroc(z.reshape(-1, 1), t.reshape(-1, 1).astype(np.float32)) == pytest.approx(_pairwise_auc(z, t))


def test_accuracy_precision_recall_f1_at_threshold_zero():
    z = np.array([2.0, 1.0, -1.0, -3.0, 0.5, -0.2, 0.0])
    t = np.array([1, 0, 1, 0, 1, 0, 1])
    # predicted positive: z > 0 -> [1, 1, 0, 0, 1, 0, 0]; TP 2, FP 1, FN 2, TN 2
    assert binary_accuracy(z, t) == pytest.approx(4 / 7)
    p, r, f1 = binary_precision_recall_f1(z, t)
    assert (p, r) == (pytest.approx(2 / 3), pytest.approx(2 / 4)) and f1 == pytest.approx(2 * p * r / (p + r))
    assert binary_precision_recall_f1(np.full(4, -1.0), np.array([0, 1, 0, 1])) == (0.0, 0.0, 0.0)   # 0/0 -> 0
    with pytest.raises(ValueError, match="one value per sample"):
        binary_accuracy(np.zeros((4, 2)), np.zeros(4))


def test_log_loss_equals_bce_with_logits_loss_even_for_huge_logits():
    rng = np.random.default_rng(2)
    z = np.concatenate([rng.normal(0, 3, 50), [800.0, -800.0]]).astype(np.float32)
    t = np.concatenate([rng.integers(0, 2, 50), [0, 1]]).astype(np.float32)
    bce = nn.BCEWithLogitsLoss()(nb.tensor(z.reshape(-1, 1)), nb.tensor(t.reshape(-1, 1))).item()
    assert math.isfinite(binary_log_loss(z, t))
    assert binary_log_loss(z, t) == pytest.approx(bce, rel=1e-5)


def test_the_constant_baseline():
    base = constant_baseline(0.25)
    assert base["accuracy"] == 0.75 and base["auc"] == 0.5
    assert base["loss"] == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    # no constant logit beats it: the log loss of p = 0.25 everywhere is the entropy
    t = np.array([1, 0, 0, 0] * 25)
    assert binary_log_loss(np.full(100, math.log(0.25 / 0.75)), t) == pytest.approx(base["loss"])
    assert binary_scores(np.zeros(100), t)["positives"] == 0.25


# ---------------------------------------------------------------------- the step
def _tiny_binary_problem(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)               # integer labels, as a data set gives them
    return x, y


def test_step_trains_with_bce_on_float_targets_and_evaluates_every_figure():
    nb.manual_seed(0)
    x, y = _tiny_binary_problem()
    model = nn.Linear(2, 1)
    step = BinaryStep(model, optim.Adam(model.parameters(), lr=0.05))
    assert binary_targets(y).shape == (256, 1) and binary_targets(y).dtype == np.float32
    expected = nn.BCEWithLogitsLoss()(model(nb.tensor(x)), nb.tensor(binary_targets(y))).item()
    logs = step.train_step((nb.tensor(x), nb.tensor(y)))
    assert logs["loss"] == pytest.approx(expected, rel=1e-6) and 0 <= logs["accuracy"] <= 1
    for _ in range(100):
        step.train_step((nb.tensor(x), nb.tensor(y)))
    result = step.evaluate(DataLoader(TensorDataset(nb.tensor(x), nb.tensor(y)), batch_size=100))
    assert set(result) == {"loss", "accuracy", "precision", "recall", "f1", "auc", "positives"}
    assert result["accuracy"] > 0.95 and result["auc"] > 0.99 and result["loss"] < 0.3
    assert step.monitor == ("val_accuracy", "max")


# ---------------------------------------------------------------------- the task, through the run layer
def test_classifiers_train_on_a_binary_set_with_the_binary_task():
    mlp, lstm = get_model_entry("mlp"), get_model_entry("char-lstm")
    assert task_for(mlp, "mnist-odd-even").name == "binary" and task_for(mlp, "mnist").name == "classification"
    assert check_dataset(get_model_entry("lenet5"), "mnist_odd_even") == "mnist-odd-even"
    with pytest.raises(ValueError, match="data sets for lm"):
        check_dataset(lstm, "mnist-odd-even")
    with pytest.raises(ValueError, match="mnist-odd-even"):       # the classifiers' list names the binary sets
        check_dataset(get_model_entry("mlp"), "kjv")


def test_a_tiny_run_beats_the_constant_baseline_and_eval_agrees(tmp_path):
    if not MNIST5k.is_present():
        pytest.skip(f"MNIST-5k is not installed here; install it with: {MNIST5k.install_hint()}")
    lines = []
    request = runs.Request(model="mlp", dataset="mnist-5k-odd-even", options={"width": "32", "depth": "1"},
                           settings={"epochs": 2.0}, out=str(tmp_path / "run"), download=False, progress=False)
    result = runs.train(request, echo=lines.append)
    assert result["accuracy"] > result["baseline_accuracy"] + 0.25 and result["auc"] > 0.9   # 87%, 0.94 here
    assert result["loss"] < 0.7 * result["baseline_loss"] and result["baseline_accuracy"] == 0.5
    assert any(ln.startswith("test (last weights): accuracy") and "best constant prediction" in ln for ln in lines)
    state, config = runs.read_checkpoint(tmp_path / "run" / "last.safetensors")
    assert config["task"] == "binary" and config["num_classes"] == 1 and config["classes"] == ["even", "odd"]
    evaluated = runs.evaluate(tmp_path / "run" / "last.safetensors", echo=lines.append)
    assert evaluated["accuracy"] == result["accuracy"] and evaluated["auc"] == pytest.approx(result["auc"])
    with pytest.raises(ValueError, match="binary task.*mnist-5k is a classification data set"):
        runs.evaluate(tmp_path / "run" / "last.safetensors", dataset="mnist-5k", echo=lines.append)
