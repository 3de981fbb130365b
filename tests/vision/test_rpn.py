"""The region proposal network (nabla.vision.rpn): anchor labels at IoU 0.7 / 0.3 plus each box's best
anchor, the 256-anchor sample with at most half positives, the prediction layout, the loss, proposal counts."""
import numpy as np

import nabla as nb
from nabla.vision import AnchorGenerator
from nabla.vision.rpn import RegionProposalNetwork, RPNHead, concat_box_prediction_layers


def _rpn(**kwargs):
    anchors = AnchorGenerator(((14, 22),), ((1.0, 2.0, 4.0),))
    return RegionProposalNetwork(anchors, RPNHead(8, 6), **kwargs)


def _targets(*boxes):
    return [{"boxes": np.asarray(b, np.float32).reshape(-1, 4), "labels": np.zeros(len(b), np.int64)}
            for b in boxes]


def test_anchor_labels_thresholds_and_best_anchor_per_box():
    rpn = _rpn()
    anchors = np.array([[0.0, 0, 10, 10], [1, 0, 11, 10], [4, 0, 14, 10], [32, 30, 44, 42],
                        [30, 30, 48, 44], [60, 60, 62, 62]], np.float32)
    # box 0 = anchor 0 (IoU 1; anchor 1 has 0.82 -> positive; anchor 2 0.43 -> ignored);
    # box 1 overlaps anchors 3 (IoU 0.45) and 4 (0.64) below 0.7: its best, anchor 4, becomes positive
    gt = [[0, 0, 10, 10], [32, 30, 52, 46]]
    labels, matched = rpn.assign_targets_to_anchors(anchors, _targets(gt))
    assert labels.shape == (1, 6) and labels.dtype == np.float32
    assert labels[0].tolist() == [1, 1, -1, -1, 1, 0]
    np.testing.assert_array_equal(matched[0, [0, 1, 4]], np.asarray(gt, np.float32)[[0, 0, 1]])
    # an image without boxes: every anchor negative
    labels, _ = rpn.assign_targets_to_anchors(anchors, _targets(np.zeros((0, 4))))
    assert (labels == 0).all()


def test_sample_count_and_positive_fraction_in_the_loss():
    nb.manual_seed(0)
    rpn = _rpn(batch_size_per_image=256, positive_fraction=0.5)
    b, n = 2, 384
    labels = np.zeros((b, n), np.float32)
    labels[0, :200] = 1          # many positives: 128 of them, 128 of the 184 negatives
    labels[1, :10] = 1           # few positives: 10, and 246 negatives
    labels[1, 10:20] = -1
    sampled = []
    pos, neg = rpn.fg_bg_sampler(labels.reshape(-1), np.repeat(np.arange(b), n), b)
    for i in range(b):
        sampled.append((pos.reshape(b, n)[i].sum(), neg.reshape(b, n)[i].sum()))
    assert sampled == [(128, 128), (10, 246)]
    obj = nb.zeros(b, n, requires_grad=True)
    deltas = nb.zeros(b, n, 4, requires_grad=True)
    matched = np.tile(np.array([[0.0, 0, 10, 10]], np.float32), (b, n, 1))
    anchors = np.tile(np.array([[0.0, 0, 10, 10]], np.float32), (n, 1))
    loss_obj, loss_box = rpn.compute_loss(obj, deltas, labels, matched, anchors)
    assert abs(loss_obj.item() - np.log(2)) < 1e-6 and loss_box.item() == 0.0   # perfect deltas
    loss_obj.backward()
    assert (obj.grad.data != 0).sum() == 512     # gradient only at the 2 x 256 sampled anchors


def test_prediction_layout_matches_the_anchor_order():
    # anchor index i = ((y * W) + x) * A + a; its deltas come from channels 4a..4a+3 at (y, x)
    b, a, h, w = 1, 3, 2, 4
    obj = nb.tensor(np.arange(b * a * h * w, dtype=np.float32).reshape(b, a, h, w))
    deltas = nb.tensor(np.arange(b * 4 * a * h * w, dtype=np.float32).reshape(b, 4 * a, h, w))
    o, d = concat_box_prediction_layers([obj], [deltas])
    assert o.shape == (1, 24) and d.shape == (1, 24, 4)
    y, x, k = 1, 2, 2
    i = (y * w + x) * a + k
    assert o.data[0, i] == obj.data[0, k, y, x]
    assert d.data[0, i].tolist() == deltas.data[0, 4 * k:4 * k + 4, y, x].tolist()


def test_proposal_counts_in_training_and_at_test():
    nb.manual_seed(0)
    rpn = _rpn(pre_nms_top_n={"training": 100, "testing": 50}, post_nms_top_n={"training": 20, "testing": 7})
    images, features = nb.rand(3, 1, 64, 64), nb.randn(3, 8, 8, 8)
    boxes, losses = rpn(images, [features], _targets([[5, 5, 20, 25]], [[30, 30, 45, 50]], np.zeros((0, 4))))
    assert set(losses) == {"loss_objectness", "loss_rpn_box_reg"}
    assert len(boxes) == 3 and all(len(p) == 20 for p in boxes)    # 384 anchors: plenty survive NMS 0.7
    for p in boxes:
        assert p.dtype == np.float32 and (p >= 0).all() and (p <= 64).all() and (p[:, 2:] > p[:, :2]).all()
    rpn.eval()
    boxes, losses = rpn(images, [features])
    assert losses == {} and all(len(p) == 7 for p in boxes)
