"""ConfusionMatrix and JaccardIndex: the bincount matrix and its mIoU against brute-force per-class counts."""
import numpy as np
import pytest

import nabla as nb
from nabla.metrics import ConfusionMatrix, JaccardIndex
from nabla.metrics.segmentation import confusion_matrix, iou_per_class


def _brute_iou(preds, target, num_classes, ignore_index=None):
    """Per class: |pred = c and target = c| / |pred = c or target = c| over the scored pixels; None if empty."""
    keep = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    out = []
    for c in range(num_classes):
        inter = np.sum((preds == c) & (target == c) & keep)
        union = np.sum(((preds == c) | (target == c)) & keep)
        out.append(inter / union if union else None)
    return out


def _random_masks(rng, shape, num_classes, ignore=None, drop=()):
    target = rng.integers(0, num_classes, shape)
    preds = np.where(rng.random(shape) < 0.6, target, rng.integers(0, num_classes, shape))
    for c in drop:  # a class absent from both: it must not count in the mean
        target[target == c] = 0
        preds[preds == c] = 0
    if ignore is not None:
        target[rng.random(shape) < 0.1] = ignore
    return preds, target


@pytest.mark.parametrize("ignore_index", [None, 255])
def test_confusion_matrix_miou_equals_brute_force_per_class_counts(ignore_index):
    rng = np.random.default_rng(0)
    k = 6
    metric = JaccardIndex(task="multiclass", num_classes=k, ignore_index=ignore_index)
    per_class = JaccardIndex(task="multiclass", num_classes=k, ignore_index=ignore_index, average="none")
    batches = [_random_masks(rng, (3, 17, 13), k, ignore=ignore_index, drop=(4,)) for _ in range(4)]
    for p, t in batches:
        metric.update(p, t)
        per_class.update(nb.tensor(p), nb.tensor(t))   # Tensors work as arrays do
    preds = np.concatenate([p for p, _ in batches])
    target = np.concatenate([t for _, t in batches])
    brute = _brute_iou(preds, target, k, ignore_index)
    assert brute[4] is None   # class 4 occurs nowhere
    expected = np.mean([v for v in brute if v is not None])
    assert metric.compute().item() == pytest.approx(expected, rel=1e-6)
    got = per_class.compute().data
    np.testing.assert_allclose(got, [0.0 if v is None else v for v in brute], rtol=1e-6)
    assert metric.compute().dtype == np.float32 and got.shape == (k,)


def test_confusion_matrix_counts_rows_by_target_and_normalizes():
    preds = np.array([[0, 1, 1], [2, 2, 0]])
    target = np.array([[0, 1, 2], [2, 2, 1]])
    cm = ConfusionMatrix(task="multiclass", num_classes=3)
    cm.update(preds, target)
    expected = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 2]])
    np.testing.assert_array_equal(cm.compute().data, expected)
    assert cm.compute().dtype == np.int64
    for mode, total in (("true", expected.sum(1, keepdims=True)), ("pred", expected.sum(0, keepdims=True)),
                        ("all", expected.sum())):
        m = ConfusionMatrix(num_classes=3, normalize=mode)
        m.update(preds, target)
        np.testing.assert_allclose(m.compute().data, expected / total, rtol=1e-6)
    empty_row = ConfusionMatrix(num_classes=4, normalize="true")
    empty_row.update(preds, target)
    assert (empty_row.compute().data[3] == 0).all()   # an empty row is 0, not NaN


def test_scores_become_their_argmax_and_ignored_pixels_drop_out():
    rng = np.random.default_rng(1)
    logits = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    target = rng.integers(0, 4, (2, 5, 5))
    target[0, 0] = 255
    a = confusion_matrix(logits, target, 4, ignore_index=255)
    b = confusion_matrix(logits.argmax(1), target, 4, ignore_index=255)
    np.testing.assert_array_equal(a, b)
    assert a.sum() == target.size - 5


def test_update_accumulates_call_returns_the_batch_and_reset_clears():
    rng = np.random.default_rng(2)
    (p1, t1), (p2, t2) = _random_masks(rng, (2, 8, 8), 3), _random_masks(rng, (2, 8, 8), 3)
    metric = JaccardIndex(num_classes=3)
    first = metric(p1, t1).item()
    assert first == pytest.approx(JaccardIndex(num_classes=3)(p1, t1).item())
    metric.update(p2, t2)
    both = JaccardIndex(num_classes=3)
    both.update(np.concatenate([p1, p2]), np.concatenate([t1, t2]))
    assert metric.compute().item() == pytest.approx(both.compute().item())
    metric.reset()
    assert metric.confmat.sum() == 0


def test_averages_micro_weighted_and_ignore_index_as_a_class():
    preds = np.array([0, 0, 1, 2, 2, 2])
    target = np.array([0, 1, 1, 2, 2, 0])
    iou, present = iou_per_class(confusion_matrix(preds, target, 3))
    np.testing.assert_allclose(iou, [1 / 3, 1 / 2, 2 / 3])
    assert present.all()
    micro = JaccardIndex(num_classes=3, average="micro")
    micro.update(preds, target)
    assert micro.compute().item() == pytest.approx(4 / (2 * 6 - 4))
    weighted = JaccardIndex(num_classes=3, average="weighted")
    weighted.update(preds, target)
    assert weighted.compute().item() == pytest.approx((2 * 1 / 3 + 2 * 1 / 2 + 2 * 2 / 3) / 6)
    no_bg = JaccardIndex(num_classes=3, ignore_index=0)   # a class index: dropped from pixels and from the mean
    no_bg.update(preds, target)
    assert no_bg.compute().item() == pytest.approx(np.mean(_brute_iou(preds, target, 3, 0)[1:]))


@pytest.mark.parametrize("make, match", [
    (lambda: JaccardIndex(task="binary", num_classes=2), "only task='multiclass'"),
    (lambda: JaccardIndex(num_classes=1), "at least 2"),
    (lambda: JaccardIndex(num_classes=3, average="median"), "average must be one of"),
    (lambda: ConfusionMatrix(num_classes=3, normalize="rows"), "normalize must be one of"),
])
def test_bad_arguments_are_one_line_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs_name_the_problem():
    m = JaccardIndex(num_classes=3)
    with pytest.raises(ValueError, match=r"target holds class index 5, outside \[0, 2\]"):
        m.update(np.zeros((2, 2), int), np.full((2, 2), 5))
    with pytest.raises(ValueError, match="preds of shape"):
        m.update(np.zeros((2, 3), int), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match=r"scores of shape \(N, 3, \.\.\.\)"):
        m.update(np.zeros((2, 4, 2), np.float32), np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="integer class indices"):
        m.update(np.zeros((2, 2), int), np.zeros((2, 2)))
