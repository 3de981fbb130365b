"""YOLO v1's grid decoding, target assignment and sum-squared loss (nabla.vision.yolo)."""
import numpy as np
import pytest

import nabla as nb
from nabla.autograd import gradcheck
from nabla.vision.ops import box_iou
from nabla.vision.yolo import decode_boxes, yolo_v1_loss, yolo_v1_targets

SIZE = (64, 64)   # 8x8 grid of 8-pixel cells below


def _grid(n=1, s=8, b=2, fill=0.5):
    return np.full((n, s, s, b, 4), fill, np.float64)


def _target(boxes, labels):
    return {"boxes": np.asarray(boxes, np.float32).reshape(-1, 4), "labels": np.asarray(labels, np.int64)}


def _params_of(box, row, col, s=8, size=64):
    """(x, y, sqrt w, sqrt h) of an xyxy box in cell (row, col)."""
    x0, y0, x1, y1 = box
    cell = size / s
    return [(x0 + x1) / 2 / cell - col, (y0 + y1) / 2 / cell - row, np.sqrt((x1 - x0) / size),
            np.sqrt((y1 - y0) / size)]


def test_decode_hand_values():
    p = _grid()
    p[0, 1, 2, 0] = [0.5, 0.5, 0.5, 0.5]    # centre (2.5 * 8, 1.5 * 8), size 0.25 * 64 = 16
    p[0, 7, 0, 1] = [0.0, 1.0, 0.25, 1.0]   # centre (0, 64), size 4 x 64
    d = decode_boxes(p, SIZE)
    assert d.shape == (1, 8, 8, 2, 4)
    np.testing.assert_allclose(d[0, 1, 2, 0], [12, 4, 28, 20])
    np.testing.assert_allclose(d[0, 7, 0, 1], [-2, 32, 2, 96])
    # the gathered form gives the same boxes
    np.testing.assert_allclose(decode_boxes(p[0, [1, 7], [2, 0]], (64, 64, 8, 8), [1, 7], [2, 0]),
                               d[0, [1, 7], [2, 0]])


def test_box_goes_to_its_centre_cell_and_the_best_overlapping_predictor():
    box = [42.0, 25.0, 56.0, 45.0]          # centre (49, 35): column 6, row 4
    p = _grid()
    p[0, 4, 6, 1] = _params_of(box, 4, 6)   # predictor 1 already matches the box exactly
    t = yolo_v1_targets([_target([box], [7])], p, SIZE, num_classes=10)
    assert t.obj.sum() == 1 and t.obj[0, 4, 6, 1] == 1
    np.testing.assert_allclose(t.box[0, 4, 6, 1], _params_of(box, 4, 6))
    assert t.box[0, 4, 6, 0].tolist() == [0, 0, 0, 0]
    assert t.conf[0, 4, 6, 1] == pytest.approx(1.0)          # IoU of an exact prediction
    assert t.cell.sum() == 1 and t.cell[0, 4, 6] == 1
    assert t.cls[0, 4, 6].tolist() == [0] * 7 + [1] + [0] * 2
    # the same box with predictor 0 closer: predictor 0 is responsible, its confidence target its IoU
    p[0, 4, 6, 0] = _params_of([43.0, 25.0, 56.0, 45.0], 4, 6)
    p[0, 4, 6, 1] = _params_of([30.0, 30.0, 40.0, 40.0], 4, 6)
    t = yolo_v1_targets([_target([box], [7])], p, SIZE, num_classes=10)
    assert t.obj[0, 4, 6].tolist() == [1, 0]
    assert t.conf[0, 4, 6, 0] == pytest.approx(13 / 14)
    assert yolo_v1_targets([_target([box], [7])], p, SIZE, 10, conf_target="one").conf[0, 4, 6, 0] == 1


def test_one_object_per_cell_the_largest_wins_and_images_do_not_mix():
    small, large = [17.0, 17.0, 22.0, 22.0], [12.0, 12.0, 27.0, 28.0]   # both centred in cell (2, 2)
    equal_a, equal_b = [1.0, 1.0, 5.0, 7.0], [2.0, 0.0, 6.0, 6.0]       # equal areas, cell (0, 0)
    targets = [_target([small, large, equal_a, equal_b], [1, 2, 3, 4]), _target([small], [5])]
    t = yolo_v1_targets(targets, _grid(n=2), SIZE, num_classes=10)
    assert t.cell[0].sum() == 2 and t.cell[1].sum() == 1 and t.obj.sum() == 3
    assert t.cls[0, 2, 2].argmax() == 2 and t.cls[0, 0, 0].argmax() == 4 and t.cls[1, 2, 2].argmax() == 5


def test_centre_on_the_far_edge_stays_in_the_last_cell():
    t = yolo_v1_targets([_target([[60.0, 60.0, 64.0, 68.0]], [0])], _grid(), SIZE, num_classes=10)
    assert t.cell[0, 7, 7] == 1 and t.box[..., 1].max() == pytest.approx(1.0)


def _reference_targets(targets, p, num_classes, s=8, size=64):
    """Plain loops over images and boxes, in the order the rules state them."""
    n, b = p.shape[0], p.shape[3]
    obj, cls = np.zeros((n, s, s, b)), np.zeros((n, s, s, num_classes))
    for i, tg in enumerate(targets):
        best = {}
        for box, lab in zip(tg["boxes"].astype(np.float64), tg["labels"]):
            cx, cy = (box[0] + box[2]) / 2 * s / size, (box[1] + box[3]) / 2 * s / size
            cell = (min(int(cy), s - 1), min(int(cx), s - 1))
            area = (box[2] - box[0]) * (box[3] - box[1])
            if cell not in best or area >= best[cell][0]:
                best[cell] = (area, box, lab)
        for (r, c), (_, box, lab) in best.items():
            pred = decode_boxes(p[i:i + 1], (size, size))[0, r, c]
            ious = [box_iou(pred[j:j + 1], box[None]).data[0, 0] for j in range(b)]
            obj[i, r, c, int(np.argmax(ious))] = 1
            cls[i, r, c, lab] = 1
    return obj, cls


def test_vectorised_assignment_matches_a_loop_reference():
    rng = np.random.default_rng(0)
    targets = []
    for n in (3, 0, 6, 1):
        xy = rng.uniform(0, 50, (n, 2))
        targets.append(_target(np.concatenate([xy, xy + rng.uniform(3, 20, (n, 2))], 1), rng.integers(0, 4, n)))
    p = rng.uniform(0.05, 0.95, (4, 8, 8, 3, 4))
    t = yolo_v1_targets(targets, p, SIZE, num_classes=4)
    obj, cls = _reference_targets(targets, p, 4)
    np.testing.assert_array_equal(t.obj, obj)
    np.testing.assert_array_equal(t.cls, cls)


def _perfect(box, label, p_other=0.0):
    """Outputs that predict ``box`` exactly with predictor 0 of its cell and nothing elsewhere."""
    p = _grid()
    p[0, 4, 6, 0] = _params_of(box, 4, 6)
    conf = np.zeros((1, 8, 8, 2))
    conf[0, 4, 6, 0] = 1.0
    probs = np.full((1, 8, 8, 3), 1 / 3)
    probs[0, 4, 6] = np.eye(3)[label]
    return p, conf, probs


def test_perfect_prediction_has_zero_loss_and_each_error_shows_in_its_term():
    box = [42.0, 25.0, 56.0, 45.0]
    p, conf, probs = _perfect(box, 2)
    t = yolo_v1_targets([_target([box], [2])], p, SIZE, num_classes=3)
    losses = {k: v.item() for k, v in yolo_v1_loss(nb.tensor(p), nb.tensor(conf), nb.tensor(probs), t).items()}
    assert losses == pytest.approx({"loss_coord": 0, "loss_obj": 0, "loss_noobj": 0, "loss_class": 0}, abs=1e-12)
    # one wrong term at a time, with the paper's weights
    moved = p.copy()
    moved[0, 4, 6, 0, 0] += 0.1                                         # x off by 0.1 of a cell
    probs_off = probs.copy()
    probs_off[0, 4, 6] = [0.1, 0.1, 0.8]
    conf_off = conf.copy()
    conf_off[0, 4, 6, 0], conf_off[0, 0, 0, 1] = 0.5, 0.4
    got = yolo_v1_loss(nb.tensor(moved), nb.tensor(conf_off), nb.tensor(probs_off), t)
    assert got["loss_coord"].item() == pytest.approx(5.0 * 0.01)
    assert got["loss_obj"].item() == pytest.approx(0.25)
    assert got["loss_noobj"].item() == pytest.approx(0.5 * 0.16)
    assert got["loss_class"].item() == pytest.approx(0.01 + 0.01 + 0.04)
    scaled = yolo_v1_loss(nb.tensor(moved), nb.tensor(conf_off), nb.tensor(probs_off), t, lambda_coord=1.0,
                          lambda_noobj=1.0)
    assert scaled["loss_coord"].item() == pytest.approx(0.01) and scaled["loss_noobj"].item() == pytest.approx(0.16)


def test_images_without_objects_only_pay_the_noobj_term_and_the_loss_is_per_image():
    conf = np.full((2, 8, 8, 2), 0.5)
    t = yolo_v1_targets([_target([], []), _target([], [])], _grid(n=2), SIZE, num_classes=3)
    got = yolo_v1_loss(nb.tensor(_grid(n=2)), nb.tensor(conf), nb.tensor(np.full((2, 8, 8, 3), 1 / 3)), t)
    assert got["loss_coord"].item() == 0 and got["loss_obj"].item() == 0 and got["loss_class"].item() == 0
    assert got["loss_noobj"].item() == pytest.approx(0.5 * 128 * 0.25)   # a sum over one image's 128 predictors


def test_loss_gradcheck_float64_from_raw_outputs():
    rng = np.random.default_rng(1)
    s, b, c = 2, 2, 3
    raw = nb.tensor(rng.standard_normal((2, s, s, b * 5 + c)), dtype=nb.float64, requires_grad=True)
    targets = [_target([[2.0, 3.0, 9.0, 12.0], [10.0, 1.0, 15.0, 6.0]], [0, 2]), _target([[4.0, 9.0, 8.0, 15.0]], [1])]

    def split(r):
        box = r[..., :b * 5].sigmoid().reshape(2, s, s, b, 5)
        return box[..., :4], box[..., 4], r[..., b * 5:].softmax(-1)

    # targets fixed once from the starting prediction: they are constants of the loss
    t = yolo_v1_targets(targets, split(raw)[0].data, (16, 16), num_classes=c)
    assert t.obj.sum() == 3

    def total(r):
        return sum(yolo_v1_loss(*split(r), t).values())
    assert gradcheck(total, (raw,))


def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="labels must be in"):
        yolo_v1_targets([_target([[1.0, 1, 5, 5]], [3])], _grid(), SIZE, num_classes=3)
    with pytest.raises(ValueError, match="2 target dicts for a batch of 1"):
        yolo_v1_targets([_target([], []), _target([], [])], _grid(), SIZE, num_classes=3)
    with pytest.raises(ValueError, match="conf_target"):
        yolo_v1_targets([_target([], [])], _grid(), SIZE, num_classes=3, conf_target="half")
    with pytest.raises(ValueError, match="pred_params"):
        yolo_v1_targets([_target([], [])], np.zeros((1, 8, 8, 4)), SIZE, num_classes=3)
    t = yolo_v1_targets([_target([], [])], _grid(), SIZE, num_classes=3)
    with pytest.raises(ValueError, match="class_probs has shape"):
        yolo_v1_loss(nb.tensor(_grid()), nb.zeros(1, 8, 8, 2), nb.zeros(1, 8, 8, 4), t)
