"""nabla.metrics.MeanAveragePrecision: hand cases, and conformance with pycocotools' COCOeval."""
import contextlib
import io

import numpy as np
import pytest

import nabla as nb
from nabla.metrics import MeanAveragePrecision

COCO_KEYS = ["map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_1", "mar_10", "mar_100",
             "mar_small", "mar_medium", "mar_large"]


def pred(boxes, scores, labels):
    return {"boxes": np.asarray(boxes, float).reshape(-1, 4), "scores": np.asarray(scores, float),
            "labels": np.asarray(labels, int)}


def gt(boxes, labels):
    return {"boxes": np.asarray(boxes, float).reshape(-1, 4), "labels": np.asarray(labels, int)}


def run(preds, targets, **kw):
    m = MeanAveragePrecision(**kw)
    m.update(preds, targets)
    return m.compute()


def test_perfect_detection_gives_one_everywhere():
    boxes = [[10, 10, 20, 20], [0, 0, 50, 60], [5, 5, 200, 150]]  # small, medium, large
    r = run([pred(boxes, [0.9, 0.8, 0.7], [0, 1, 1])], [gt(boxes, [0, 1, 1])])
    for key in COCO_KEYS + ["voc_map_50"]:
        if key != "mar_1":
            assert r[key] == pytest.approx(1.0), key
    assert r["mar_1"] == pytest.approx(0.75)  # one detection per image and class finds 1 of class 1's 2 boxes
    assert r["classes"] == [0, 1]
    assert r["map_per_class"] == pytest.approx([1.0, 1.0])


def test_tensors_are_accepted():
    b = nb.tensor([[0.0, 0.0, 10.0, 10.0]])
    r = run([{"boxes": b, "scores": nb.tensor([0.5]), "labels": nb.tensor([3])}],
            [{"boxes": b, "labels": nb.tensor([3])}])
    assert r["map"] == pytest.approx(1.0) and r["classes"] == [3]


def test_false_positive_scored_above_the_true_positive():
    # precision at the only true positive is 1/2; monotone precision is 1/2 at every recall point up to 1
    r = run([pred([[100, 100, 110, 110], [0, 0, 10, 10]], [0.9, 0.5], [0, 0])], [gt([[0, 0, 10, 10]], [0])])
    assert r["map"] == pytest.approx(0.5)
    assert r["map_50"] == pytest.approx(0.5)
    assert r["voc_map_50"] == pytest.approx(0.5)
    assert r["mar_1"] == 0.0  # the best-scored detection is the false one
    assert r["mar_10"] == 1.0


def test_missing_detections_cap_recall():
    g = gt([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50], [60, 60, 70, 70]], [0, 0, 0, 0])
    r = run([pred([[0, 0, 10, 10]], [0.9], [0])], [g])
    # recall reaches 1/4: precision 1 at the 26 recall points 0, .01, ..., .25, 0 beyond
    assert r["map"] == pytest.approx(26 / 101)
    assert r["mar_100"] == pytest.approx(0.25)
    assert r["voc_map_50"] == pytest.approx(0.25)


def test_empty_image_changes_nothing():
    p, g = pred([[0, 0, 10, 10]], [0.9], [0]), gt([[0, 0, 10, 10]], [0])
    empty_p, empty_g = pred(np.zeros((0, 4)), [], []), gt(np.zeros((0, 4)), [])
    assert run([p, empty_p], [g, empty_g]) == run([p], [g])


def test_image_with_ground_truth_and_no_detections():
    p, g = pred([[0, 0, 10, 10]], [0.9], [0]), gt([[0, 0, 10, 10]], [0])
    r = run([p, pred(np.zeros((0, 4)), [], [])], [g, g])
    assert r["mar_100"] == pytest.approx(0.5)
    assert r["map"] == pytest.approx(51 / 101)
    assert r["voc_map_50"] == pytest.approx(0.5)


def test_detections_of_a_class_without_ground_truth():
    p = pred([[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.95], [0, 1])
    r = run([p], [gt([[0, 0, 10, 10]], [0])])
    assert r["classes"] == [0, 1]
    assert r["map_per_class"] == [pytest.approx(1.0), -1.0]
    assert r["map"] == pytest.approx(1.0)  # class 1 has no ground truth: it does not count
    assert r["voc_map_50"] == pytest.approx(1.0)


def test_no_ground_truth_at_all_gives_minus_one():
    r = run([pred([[0, 0, 10, 10]], [0.9], [0])], [gt(np.zeros((0, 4)), [])])
    assert all(r[k] == -1 for k in COCO_KEYS + ["voc_map_50"])
    assert r["map_per_class"] == [-1.0]


def test_ties_in_score_keep_the_input_order():
    # equal scores: the stable sort visits the false positive first when it comes first, so precision
    # at the true positive is 1/2; in the other order it is 1
    tp, fp = [0, 0, 10, 10], [50, 50, 60, 60]
    g = [gt([tp], [0])]
    assert run([pred([fp, tp], [0.5, 0.5], [0, 0])], g)["map"] == pytest.approx(0.5)
    assert run([pred([tp, fp], [0.5, 0.5], [0, 0])], g)["map"] == pytest.approx(1.0)


def test_duplicate_detection_is_a_false_positive():
    g = [gt([[0, 0, 10, 10]], [0])]
    r = run([pred([[0, 0, 10, 10], [0, 0, 10, 9]], [0.9, 0.8], [0, 0])], g)
    assert r["map"] == pytest.approx(1.0)  # the duplicate comes after recall 1
    r = run([pred([[0, 0, 10, 9], [0, 0, 10, 10]], [0.9, 0.8], [0, 0])], g)
    assert r["map_50"] == pytest.approx(1.0)
    # at IoU .95 the first (IoU .9) misses and the second matches: precision 1/2
    assert r["map"] == pytest.approx((9 * 1.0 + 0.5) / 10)


def test_reset_and_several_updates():
    m = MeanAveragePrecision()
    m.update([pred([[100, 100, 110, 110]], [0.9], [0])], [gt([[0, 0, 10, 10]], [0])])
    m.reset()
    m.update([pred([[0, 0, 10, 10]], [0.9], [0])], [gt([[0, 0, 10, 10]], [0])])
    m.update([pred([[0, 0, 20, 20]], [0.9], [0])], [gt([[0, 0, 20, 20]], [0])])
    assert m.compute()["map"] == pytest.approx(1.0)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="preds"):
        run([pred([[0, 0, 1, 1]], [0.9], [0])], [])
    with pytest.raises(ValueError, match="lacks"):
        run([{"boxes": np.zeros((0, 4)), "labels": []}], [gt(np.zeros((0, 4)), [])])


# ------------------------------------------------------------------------------------- COCOeval conformance
def _random_set(seed, n_images=12, n_classes=4, quantise=True):
    rng = np.random.default_rng(seed)
    preds, targets = [], []
    for i in range(n_images):
        n_gt = 0 if i % 5 == 4 else int(rng.integers(1, 8))
        xy = rng.uniform(0, 400, (n_gt, 2))
        wh = np.exp(rng.uniform(np.log(4), np.log(250), (n_gt, 2)))  # small, medium and large boxes
        g = np.concatenate([xy, xy + wh], 1)
        gl = rng.integers(1, n_classes + 1, n_gt)
        keep = rng.random(n_gt) < 0.8  # some ground truth goes undetected
        d = g[keep] + rng.normal(0, 1, (int(keep.sum()), 4)) * np.repeat(wh[keep] * 0.08, 2, axis=1)
        dl = gl[keep].copy()
        dl[rng.random(len(dl)) < 0.1] = rng.integers(1, n_classes + 1)  # some get the wrong label
        n_fp = 0 if i % 5 == 4 and i % 2 else int(rng.integers(0, 6))
        fxy = rng.uniform(0, 400, (n_fp, 2))
        f = np.concatenate([fxy, fxy + rng.uniform(4, 150, (n_fp, 2))], 1)
        d = np.concatenate([d, f, d[:2] + 1.5])  # and a few duplicates
        dl = np.concatenate([dl, rng.integers(1, n_classes + 1, n_fp), dl[:2]])
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 0.25)
        s = rng.random(len(d))
        if quantise:  # exact binary fractions: IoUs and areas come out bit for bit as COCOeval's
            d, g, s = np.round(d * 4) / 4, np.round(g * 4) / 4, np.round(s * 20) / 20  # and tied scores
        preds.append(pred(d, s, dl))
        targets.append(gt(g, gl))
    return preds, targets, n_classes


def _cocoeval_stats(preds, targets, n_classes):
    pytest.importorskip("pycocotools", reason="pycocotools (COCOeval) is the reference for the mAP conformance tests")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    images, anns, dets = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i, "width": 640, "height": 640})
        for b, lab in zip(t["boxes"], t["labels"]):
            box = xywh(b)
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(lab), "bbox": box,
                         "area": box[2] * box[3], "iscrowd": 0})
        for b, s, lab in zip(p["boxes"], p["scores"], p["labels"]):
            dets.append({"image_id": i, "category_id": int(lab), "bbox": xywh(b), "score": float(s)})
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {"images": images, "annotations": anns,
                        "categories": [{"id": k} for k in range(1, n_classes + 1)]}
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


@pytest.mark.parametrize("seed,quantise", [(0, True), (1, True), (2, True), (3, False), (4, False)])
def test_matches_cocoeval(seed, quantise):
    preds, targets, n_classes = _random_set(seed, quantise=quantise)
    stats = _cocoeval_stats(preds, targets, n_classes)
    r = run(preds, targets)
    ours = [r[k] for k in COCO_KEYS]
    np.testing.assert_allclose(ours, stats, rtol=0, atol=1e-6)
    assert 0.05 < r["map"] < 0.95  # a set that exercises both hits and misses


def test_matches_cocoeval_with_many_detections_per_image():
    # more than 100 detections of one class in an image: the cut to maxDets=100 (per image and class)
    rng = np.random.default_rng(7)
    preds, targets = [], []
    for _ in range(3):
        xy = rng.uniform(0, 300, (40, 2))
        g = np.round(np.concatenate([xy, xy + rng.uniform(5, 120, (40, 2))], 1) * 4) / 4
        d = np.round(np.concatenate([g + rng.normal(0, 2, g.shape)] * 4) * 4) / 4
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        preds.append(pred(d, rng.random(len(d)), np.ones(len(d), int)))
        targets.append(gt(g, np.ones(40, int)))
    stats = _cocoeval_stats(preds, targets, 1)
    r = run(preds, targets)
    np.testing.assert_allclose([r[k] for k in COCO_KEYS], stats, rtol=0, atol=1e-6)
