"""RoIHeads (nabla.vision.roi_heads) and its matcher/sampler (nabla.vision.det_utils): RoI labels, sampling
counts and fractions, regression targets, the Fast R-CNN loss and post-processing."""
import numpy as np
import pytest

import nabla as nb
from nabla.vision import BoxCoder
from nabla.vision.det_utils import BalancedPositiveNegativeSampler, Matcher, rank_within_groups
from nabla.vision.roi_heads import FastRCNNPredictor, RoIHeads, TwoMLPHead

K = 10  # foreground classes


def _heads(**kwargs):
    return RoIHeads(TwoMLPHead(4 * 7 * 7, 16), FastRCNNPredictor(16, K + 1), **kwargs)


def _shifted(box, dx, n):
    """n copies of box shifted right by dx each: IoU with the box falls as the shift grows."""
    return np.array([box]) + np.outer(np.arange(n) * dx, [1, 0, 1, 0])


GT = np.array([[10.0, 10, 26, 30], [40, 5, 50, 25]], np.float32)
TARGETS = [{"boxes": GT, "labels": np.array([3, 7])}]


def _proposals():
    fg = _shifted(GT[0], 0.5, 8)          # IoU >= 0.5 with box 0 (shift <= 3.5 px of 16)
    mid = _shifted(GT[0] + [6, 0, 6, 0], 0.5, 4)  # IoU in [0.1, 0.5): ignored when bg_iou_thresh is 0.1
    bg = np.array([[0.0, 40, 8, 60]] * 30) + np.arange(30)[:, None] * [1, 0, 1, 0]
    return [np.concatenate([fg, mid, bg]).astype(np.float32)]


def test_labels_sampling_fraction_and_regression_targets():
    nb.manual_seed(0)
    heads = _heads(batch_size_per_image=16, positive_fraction=0.25, bg_iou_thresh=0.1)
    props, labels, reg = heads.select_training_samples(_proposals(), TARGETS)
    p, lab, r = props[0], labels[0], reg[0]
    assert lab.dtype == np.int64 and r.dtype == np.float32 and len(p) == len(lab) == len(r) == 16
    assert (lab > 0).sum() == 4 and (lab == 0).sum() == 12          # 25 % of 16 foreground
    # the foreground carries digit + 1; every sampled RoI is fg (IoU >= 0.5) or bg (IoU < 0.1), never "mid"
    iou = nb.vision.ops.box_iou(p, GT).data.max(1)
    assert set(lab[lab > 0].tolist()) <= {4, 8}
    assert ((iou >= 0.5) == (lab > 0)).all() and (iou[lab == 0] < 0.1).all()
    # regression targets are the matched boxes encoded against the RoIs with weights (10, 10, 5, 5)
    fg = lab > 0
    matched = GT[np.where(lab[fg] == 4, 0, 1)]
    np.testing.assert_allclose(r[fg], BoxCoder((10, 10, 5, 5)).encode_single(matched, p[fg]).data, atol=1e-5)
    assert (r[~fg] == 0).all()


def test_ground_truth_joins_the_proposals_and_sampling_is_seeded():
    heads = _heads(batch_size_per_image=512)  # take everything: the appended gt boxes must be there
    props, labels, _ = heads.select_training_samples([np.zeros((0, 4), np.float32)], TARGETS)
    np.testing.assert_array_equal(props[0], GT)
    assert labels[0].tolist() == [4, 8]
    small = _heads(batch_size_per_image=8)
    runs = []
    for _ in range(2):
        nb.manual_seed(5)
        runs.append(small.select_training_samples(_proposals(), TARGETS)[0][0])
    np.testing.assert_array_equal(*runs)


def test_images_without_boxes_are_all_background_and_counts_are_per_image():
    nb.manual_seed(0)
    heads = _heads(batch_size_per_image=10, positive_fraction=0.5)
    empty = {"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)}
    props, labels, reg = heads.select_training_samples(_proposals() * 3, [TARGETS[0], empty, TARGETS[0]])
    assert [len(x) for x in labels] == [10, 10, 10]
    assert (labels[1] == 0).all() and (reg[1] == 0).all()
    assert (labels[0] > 0).sum() == 5 and (labels[2] > 0).sum() == 5


def test_matcher_thresholds_and_low_quality_matches():
    iou = np.array([[0.9, 0.5, 0.2, 0.0], [0.1, 0.6, 0.25, 0.0]])
    assert Matcher(0.7, 0.3)(iou).tolist() == [0, -2, -1, -1]
    # box 1's best prediction (0.6) becomes a match; a box's zero-IoU predictions never do
    assert Matcher(0.7, 0.3, allow_low_quality_matches=True)(iou).tolist() == [0, 1, -1, -1]
    assert Matcher(0.7, 0.3)(np.zeros((0, 3))).tolist() == [-1, -1, -1]


def test_sampler_counts_follow_torchvision_rules():
    labels = np.array([1] * 3 + [0] * 20 + [-1] * 5 + [1] * 30 + [0] * 2)
    image = np.array([0] * 28 + [1] * 32)
    pos, neg = BalancedPositiveNegativeSampler(8, 0.5)(labels, image, 2, np.random.default_rng(0))
    assert not (pos & neg).any() and not ((pos | neg) & (labels == -1)).any()
    assert pos[image == 0].sum() == 3 and neg[image == 0].sum() == 5   # few positives: more negatives
    assert pos[image == 1].sum() == 4 and neg[image == 1].sum() == 2   # few negatives: fewer than 8 in all
    assert rank_within_groups(np.array([1, 0, 1, 0]), np.array([0.5, 0.9, 0.1, 0.2])).tolist() == [1, 1, 0, 0]


def test_loss_is_near_zero_for_perfect_predictions_and_divides_by_all_rois():
    labels = [np.array([0, 3, 0, 10]), np.array([5, 0])]
    reg = [np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32), np.ones((2, 4), np.float32)]
    flat_labels, flat_reg = np.concatenate(labels), np.concatenate(reg)
    logits = np.full((6, K + 1), -20.0, np.float32)
    logits[np.arange(6), flat_labels] = 20.0
    deltas = np.zeros((6, K + 1, 4), np.float32)
    deltas[np.arange(6), flat_labels] = flat_reg
    cls, box = RoIHeads.fastrcnn_loss(nb.tensor(logits), nb.tensor(deltas.reshape(6, -1)), labels, reg)
    assert cls.item() < 1e-6 and box.item() == 0.0
    # one foreground delta off by 1: smooth L1 (beta 1/9) gives 1 - 1/18, divided by the 6 sampled RoIs
    deltas[1, 3, 0] += 1.0
    _, box = RoIHeads.fastrcnn_loss(nb.tensor(logits), nb.tensor(deltas.reshape(6, -1)), labels, reg)
    assert box.item() == pytest.approx((1 - 0.5 / 9) / 6, rel=1e-5)
    # background rows' deltas do not count
    deltas[0] += 5.0
    _, box2 = RoIHeads.fastrcnn_loss(nb.tensor(logits), nb.tensor(deltas.reshape(6, -1)), labels, reg)
    assert box2.item() == pytest.approx(box.item())


def test_postprocess_shapes_sorting_label_shift_clip_and_nms():
    heads = _heads(score_thresh=0.05, nms_thresh=0.5, detections_per_img=3)
    proposals = [np.array([[10.0, 10, 30, 30], [11, 10, 31, 30], [50, 50, 70, 70]], np.float32),
                 np.zeros((0, 4), np.float32)]
    logits = np.full((3, K + 1), -10.0, np.float32)
    logits[0, 3], logits[1, 3], logits[2, 9], logits[2, 0] = 5.0, 4.0, 3.0, 3.0  # classes 2, 2, 8 (+ bg)
    out = heads.postprocess_detections(nb.tensor(logits), nb.zeros(3, 4 * (K + 1)), proposals, [(64, 64)] * 2)
    assert len(out) == 2 and len(out[1]["scores"]) == 0 and out[1]["boxes"].shape == (0, 4)
    d = {k: v.data for k, v in out[0].items()}
    assert d["boxes"].dtype == np.float32 and d["labels"].dtype == np.int64
    assert d["labels"].tolist() == [2, 8]                  # shifted back; the second class-2 box suppressed
    assert (np.diff(d["scores"]) <= 0).all() and 0.45 < d["scores"][1] < 0.55
    np.testing.assert_allclose(d["boxes"], [[10, 10, 30, 30], [50, 50, 64, 64]])   # clipped to the image


def test_forward_trains_through_roi_align_and_detects_in_eval():
    nb.manual_seed(0)
    heads = _heads(batch_size_per_image=8)
    features = nb.randn(1, 4, 8, 8, requires_grad=True)
    _, losses = heads(features, _proposals(), [(64, 64)], TARGETS)
    assert set(losses) == {"loss_classifier", "loss_box_reg"}
    (losses["loss_classifier"] + losses["loss_box_reg"]).backward()
    assert features.grad is not None and np.abs(features.grad.data).sum() > 0
    heads.eval()
    detections, losses = heads(features, _proposals(), [(64, 64)])
    assert losses == {} and len(detections) == 1 and len(detections[0]["boxes"]) <= 100
