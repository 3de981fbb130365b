"""nabla.vision.ops box functions: hand-computed values, IoU edge cases, NMS ties and threshold strictness,
batched_nms against per-class nms, degenerate-box errors, and gradcheck of the differentiable ones."""
import numpy as np
import pytest

import nabla as nb
from nabla.autograd import gradcheck
from nabla.vision import ops
from nabla.vision import boxes as boxes_mod


def _random_boxes(rng, n, size=50.0, min_wh=1.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(min_wh, size / 2, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1)


def _reference_nms(boxes, scores, thr):
    """Greedy NMS written the slow, obvious way (one box at a time), stable order by descending score."""
    order = sorted(range(len(boxes)), key=lambda i: -scores[i])  # sorted() is stable
    keep = []
    for i in order:
        ok = True
        for k in keep:
            x0, y0 = max(boxes[i][0], boxes[k][0]), max(boxes[i][1], boxes[k][1])
            x1, y1 = min(boxes[i][2], boxes[k][2]), min(boxes[i][3], boxes[k][3])
            inter = max(x1 - x0, 0) * max(y1 - y0, 0)
            area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            if inter / (area(boxes[i]) + area(boxes[k]) - inter) > thr:
                ok = False
                break
        if ok:
            keep.append(i)
    return keep


# ----------------------------------------------------------------------------------- values
def test_box_area_has_no_plus_one():
    b = np.array([[0, 0, 4, 1], [1, 2, 3, 5], [2, 2, 2, 7]], dtype=np.float32)
    np.testing.assert_array_equal(ops.box_area(b).data, [4, 6, 0])
    assert ops.box_area(np.array([[0, 0, 3, 2]])).dtype.kind == "i"  # integer boxes keep integer areas


def test_box_convert_round_trips_and_hand_values():
    b = np.array([[1.0, 2.0, 5.0, 8.0]])
    np.testing.assert_allclose(ops.box_convert(b, "xyxy", "xywh").data, [[1, 2, 4, 6]])
    np.testing.assert_allclose(ops.box_convert(b, "xyxy", "cxcywh").data, [[3, 5, 4, 6]])
    np.testing.assert_allclose(ops.box_convert([[1, 2, 4, 6]], "xywh", "cxcywh").data, [[3, 5, 4, 6]])
    rng = np.random.default_rng(0)
    r = _random_boxes(rng, 7).reshape(7, 1, 4)  # leading dims are allowed
    for a in ("xyxy", "xywh", "cxcywh"):
        for c in ("xyxy", "xywh", "cxcywh"):
            there = ops.box_convert(r, "xyxy", a)
            np.testing.assert_allclose(ops.box_convert(ops.box_convert(there, a, c), c, "xyxy").data, r, atol=1e-12)
    with pytest.raises(ValueError, match="box_convert: unsupported in_fmt 'xywhr'"):
        ops.box_convert(b, "xywhr", "xyxy")


def test_iou_of_a_box_with_itself_is_exactly_one_and_of_disjoint_boxes_zero():
    rng = np.random.default_rng(1)
    b = _random_boxes(rng, 20).astype(np.float32)
    iou = ops.box_iou(b, b).data
    assert (np.diag(iou) == 1.0).all()
    assert (np.diag(ops.generalized_box_iou(b, b).data) == 1.0).all()
    a, c = np.array([[0.0, 0, 1, 1]]), np.array([[2.0, 0, 3, 1]])
    assert ops.box_iou(a, c).item() == 0.0
    # touching edges share no area (exclusive right edge)
    assert ops.box_iou(a, np.array([[1.0, 0, 2, 1]])).item() == 0.0
    # GIoU of disjoint boxes: 0 - (3 - 2) / 3
    assert ops.generalized_box_iou(a, c).item() == pytest.approx(-1 / 3)


def test_iou_hand_values_and_shape():
    a = np.array([[0.0, 0, 2, 2], [0, 0, 4, 1]])
    b = np.array([[1.0, 1, 3, 3], [0, 0, 2, 1], [5, 5, 6, 6]])
    iou = ops.box_iou(a, b).data
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou, [[1 / 7, 2 / 4, 0], [0, 2 / 4, 0]])  # (0,0,4,1), (1,1,3,3) only touch
    giou = ops.generalized_box_iou(a, b).data
    # enclosing boxes: (0,0,3,3) area 9, (0,0,2,2) area 4, (0,0,6,6) area 36; (0,0,4,3) 12, (0,0,4,1) 4, (0,0,6,6) 36
    np.testing.assert_allclose(giou, [[1 / 7 - 2 / 9, 0.5, -(36 - 5) / 36], [-(12 - 8) / 12, 0.5, -(36 - 5) / 36]])


def test_clip_boxes_to_image_and_remove_small_boxes():
    b = np.array([[-3.0, -1, 5, 20], [2, 3, 50, 4]])
    np.testing.assert_array_equal(ops.clip_boxes_to_image(b, (10, 30)).data, [[0, 0, 5, 10], [2, 3, 30, 4]])
    keep = ops.remove_small_boxes(np.array([[0.0, 0, 2, 2], [0, 0, 0.5, 5], [0, 0, 1, 1], [0, 0, 5, 0.9]]), 1.0)
    assert keep.dtype == np.int64 and keep.data.tolist() == [0, 2]


# ----------------------------------------------------------------------------------- degenerate boxes
@pytest.mark.parametrize("op", ["box_iou", "generalized_box_iou", "nms"])
def test_degenerate_boxes_are_refused_with_the_ops_name(op):
    good = np.array([[0.0, 0, 2, 2]])
    bad = np.array([[0.0, 0, 2, 2], [5.0, 0, 4, 1]])
    call = {"box_iou": lambda: ops.box_iou(good, bad),
            "generalized_box_iou": lambda: ops.generalized_box_iou(good, bad),
            "nms": lambda: ops.nms(bad, np.ones(2), 0.5)}[op]
    with pytest.raises(ValueError, match=rf"^{op}: .*degenerate.*index 1") as err:
        call()
    assert "\n" not in str(err.value)
    # zero-width boxes are not degenerate
    ops.box_iou(good, np.array([[1.0, 1, 1, 3]]))


def test_shape_errors():
    with pytest.raises(ValueError, match=r"box_iou: expected boxes1 of shape \(N, 4\)"):
        ops.box_iou(np.zeros((3, 5)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"nms: expected scores of shape \(3,\)"):
        ops.nms(np.zeros((3, 4)), np.zeros(2), 0.5)


# ----------------------------------------------------------------------------------- NMS
def test_nms_ties_keep_the_lower_index_and_come_back_in_score_order():
    b = np.array([[0.0, 0, 10, 10]] * 3 + [[20.0, 20, 30, 30]])
    s = np.array([1.0, 1.0, 1.0, 2.0])
    assert ops.nms(b, s, 0.5).data.tolist() == [3, 0]
    assert ops.nms(b, s[[0, 1, 2, 3]] * [1, 1, 1, 0], 0.5).data.tolist() == [0, 3]
    # equal scores, not overlapping: all kept, lower index first
    assert ops.nms(b[[0, 3]], np.array([0.5, 0.5]), 0.5).data.tolist() == [0, 1]


def test_nms_suppresses_only_above_the_threshold():
    b = np.array([[0.0, 0, 4, 1], [0.0, 0, 2, 1]])   # IoU exactly 0.5
    s = np.array([0.9, 0.8])
    assert ops.nms(b, s, 0.5).data.tolist() == [0, 1]      # IoU == threshold: kept
    assert ops.nms(b, s, 0.4999).data.tolist() == [0]
    assert ops.nms(np.array([[0.0, 0, 1, 1], [1.0, 0, 2, 1]]), s, 0.0).data.tolist() == [0, 1]  # IoU 0 > 0 is false


def test_nms_is_greedy_a_suppressed_box_suppresses_nothing():
    # A overlaps B, B overlaps C, A does not overlap C: A kept, B suppressed, C kept
    b = np.array([[0.0, 0, 10, 10], [5.0, 0, 15, 10], [10.0, 0, 20, 10]])
    assert ops.nms(b, np.array([3.0, 2.0, 1.0]), 0.3).data.tolist() == [0, 2]


def test_nms_empty_and_dtype():
    keep = ops.nms(np.zeros((0, 4)), np.zeros(0), 0.5)
    assert keep.shape == (0,) and keep.dtype == np.int64
    assert ops.batched_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=np.int64), 0.5).shape == (0,)


@pytest.mark.parametrize("thr", [0.1, 0.5, 0.7])
def test_nms_matches_the_one_box_at_a_time_reference(thr):
    rng = np.random.default_rng(2)
    b = _random_boxes(rng, 120)
    s = rng.integers(0, 8, 120).astype(np.float64)  # many ties
    assert ops.nms(nb.tensor(b), nb.tensor(s), thr).data.tolist() == _reference_nms(b, s, thr)


def test_nms_in_row_blocks_gives_the_same_result(monkeypatch):
    rng = np.random.default_rng(3)
    b = _random_boxes(rng, 200)
    s = rng.uniform(size=200)
    whole = ops.nms(b, s, 0.4).data
    monkeypatch.setattr(boxes_mod, "_NMS_BLOCK_ENTRIES", 200 * 7)  # blocks of 7 rows
    np.testing.assert_array_equal(ops.nms(b, s, 0.4).data, whole)
    k = rng.integers(0, 4, 200)
    monkeypatch.setattr(boxes_mod, "_NMS_BLOCK_ENTRIES", 1 << 22)
    whole = ops.batched_nms(b, s, k, 0.4).data
    monkeypatch.setattr(boxes_mod, "_NMS_BLOCK_ENTRIES", 200 * 5)
    np.testing.assert_array_equal(ops.batched_nms(b, s, k, 0.4).data, whole)


@pytest.mark.parametrize("seed", [0, 1])
def test_batched_nms_equals_per_class_nms(seed):
    rng = np.random.default_rng(seed)
    n = 150
    b = _random_boxes(rng, n)
    s = rng.integers(0, 10, n) / 10.0  # ties within and across classes
    k = rng.integers(0, 5, n)
    got = ops.batched_nms(b, s, k, 0.5).data
    per_class = np.concatenate([np.flatnonzero(k == c)[ops.nms(b[k == c], s[k == c], 0.5).data]
                                for c in np.unique(k)])
    # same boxes; in descending score, ties by index
    assert sorted(got.tolist()) == sorted(per_class.tolist())
    expected = np.array(sorted(per_class.tolist(), key=lambda i: (-s[i], i)))
    np.testing.assert_array_equal(got, expected)
    # torchvision's coordinate-offset trick gives the same boxes
    offset = b + (k * (b.max() + 1))[:, None]
    np.testing.assert_array_equal(ops.nms(offset, s, 0.5).data, got)


# ----------------------------------------------------------------------------------- gradients
def _boxes64(seed, n):
    return nb.tensor(_random_boxes(np.random.default_rng(seed), n, size=10.0), requires_grad=True)


@pytest.mark.parametrize("name,f", [
    ("box_area", lambda a, b: ops.box_area(a)),
    ("box_iou", ops.box_iou),
    ("generalized_box_iou", ops.generalized_box_iou),
    ("box_convert_cxcywh", lambda a, b: ops.box_convert(a, "xyxy", "cxcywh")),
    ("box_convert_xywh_to_cxcywh", lambda a, b: ops.box_convert(a, "xywh", "cxcywh")),
    ("clip_boxes_to_image", lambda a, b: ops.clip_boxes_to_image(a * 1.3 - 2.0, (9.5, 8.5))),
])
def test_gradcheck_differentiable_box_ops(name, f):
    a, b = _boxes64(4, 5), _boxes64(5, 4)
    assert gradcheck(f, (a, b) if name in ("box_iou", "generalized_box_iou") else (a,) + (b.detach(),))
