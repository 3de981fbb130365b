import numpy as np
import pytest

from nabla.train.metrics import accuracy, confusion_matrix, precision_recall_f1, top_k_accuracy


def test_accuracy_from_scores_and_labels():
    scores = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert accuracy(scores, np.array([1, 0, 0])) == pytest.approx(2 / 3)
    assert accuracy(np.array([1, 1]), np.array([1, 0])) == 0.5
    with pytest.raises(ValueError, match="accuracy"):
        accuracy(np.array([1, 1]), np.array([1, 0, 1]))


def test_top_k():
    scores = np.array([[0.1, 0.5, 0.4], [0.6, 0.3, 0.1]])
    assert top_k_accuracy(scores, np.array([2, 2]), k=1) == 0.0
    assert top_k_accuracy(scores, np.array([2, 2]), k=2) == 0.5
    assert top_k_accuracy(scores, np.array([2, 2]), k=3) == 1.0


def test_confusion_and_f1_match_hand_counts():
    t = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    cm = confusion_matrix(p, t, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    prec, rec, f1 = precision_recall_f1(p, t, 3, average="none")
    np.testing.assert_allclose(prec, [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(rec, [0.5, 1.0, 0.5])
    np.testing.assert_allclose(f1, [0.5, 0.8, 2 / 3])
    assert precision_recall_f1(p, t, 3, average="micro")[0] == pytest.approx(4 / 6)
