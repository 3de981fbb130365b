"""The YOLO v1 detector (nabla.models.yolo): registry entry, grid sizes, the detector contract's outputs,
decoding + per-class NMS on hand-made grid outputs, and the issue's check: it overfits one batch to map_50 1.0."""
import numpy as np
import pytest

import nabla as nb
from nabla.metrics import MeanAveragePrecision
from nabla.models import build_model, get_model_entry
from nabla.models.yolo import YOLOv1, parse_widths

from ..detection_helpers import scenes

SMALL = "8,16,32,32"


_scenes = scenes


def test_registry_entry_and_grid_follows_the_input_size():
    entry = get_model_entry("yolo")
    assert entry.task == "detection" and entry.default_dataset == "mnist-scenes"
    assert entry.options["boxes_per_cell"] == 2 and entry.options["lambda_coord"] == 5.0
    assert entry.options["lambda_noobj"] == 0.5 and entry.options["score_thresh"] == 0.01
    assert entry.training["optimizer"] == "adam"
    model = build_model("yolo", (1, 64, 64), 10, widths=SMALL, boxes_per_cell=3)
    assert isinstance(model, YOLOv1) and model.num_classes == 10
    for side, s in ((64, 8), (96, 12)):
        params, conf, probs = model.grid_outputs(nb.rand(2, 1, side, side))
        assert params.shape == (2, s, s, 3, 4) and conf.shape == (2, s, s, 3) and probs.shape == (2, s, s, 10)
        assert 0 <= params.data.min() and params.data.max() <= 1
        np.testing.assert_allclose(probs.data.sum(-1), 1, rtol=1e-5)


def test_eval_outputs_follow_the_detector_contract():
    model = YOLOv1(widths=SMALL, detections_per_img=7, score_thresh=0.02)
    model.eval()
    out = model(nb.rand(3, 1, 64, 64))
    assert len(out) == 3
    for d in out:
        boxes, scores, labels = d["boxes"].data, d["scores"].data, d["labels"].data
        assert boxes.dtype == np.float32 and scores.dtype == np.float32 and labels.dtype == np.int64
        assert boxes.shape == (len(scores), 4) and labels.shape == scores.shape and 0 < len(scores) <= 7
        assert (np.diff(scores) <= 0).all() and (scores > 0.02).all()
        assert ((0 <= labels) & (labels < 10)).all()
        assert (boxes >= 0).all() and (boxes <= 64).all() and (boxes[:, 2:] >= boxes[:, :2]).all()
    # training mode without targets also gives detections (torchvision's rule)
    model.train()
    assert isinstance(model(nb.rand(1, 1, 64, 64)), list)


def test_postprocess_decodes_scores_and_suppresses_within_a_class_only():
    model = YOLOv1(num_classes=3, widths=SMALL, score_thresh=0.05)
    params = np.full((1, 8, 8, 2, 4), 0.5)
    conf = np.zeros((1, 8, 8, 2))
    probs = np.full((1, 8, 8, 3), 1 / 3)
    params[0, 4, 6] = [0.25, 0.5, 0.5, 0.5]      # both predictors: centre (50, 36), 16 x 16
    conf[0, 4, 6] = [0.9, 0.8]
    probs[0, 4, 6] = [0.0, 0.25, 0.75]
    out = model.postprocess(params, conf, probs, (64, 64))[0]
    # per class, the second predictor's identical box is suppressed; class 0 scores 0 (below the threshold)
    np.testing.assert_allclose(out["scores"].data, [0.9 * 0.75, 0.9 * 0.25], rtol=1e-6)
    assert out["labels"].data.tolist() == [2, 1]
    np.testing.assert_allclose(out["boxes"].data, [[42, 28, 58, 44]] * 2)


def test_training_mode_returns_four_finite_losses_with_gradients():
    images, targets = _scenes(4)
    model = YOLOv1(widths=SMALL)
    losses = model(nb.from_numpy(images), targets)
    assert set(losses) == {"loss_coord", "loss_obj", "loss_noobj", "loss_class"}
    assert all(np.isfinite(v.item()) and v.item() >= 0 for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is not None and np.isfinite(p.grad.data).all() for p in model.parameters())


def test_yolo_overfits_one_batch_to_map_50_one():
    nb.manual_seed(0)
    images, targets = _scenes(8)
    x = nb.from_numpy(images)
    model = YOLOv1(widths=SMALL)
    opt = nb.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(120):
        loss = sum(model(x, targets).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    metric = MeanAveragePrecision()
    metric.update(model(x), targets)
    assert metric.compute()["map_50"] == pytest.approx(1.0)


def test_bad_options_are_one_line_errors():
    assert parse_widths("16, 32,64") == (16, 32, 64) and parse_widths([4, 4, 4, 8]) == (4, 4, 4, 8)
    with pytest.raises(ValueError, match="at least 3"):
        YOLOv1(widths="16,32")
    with pytest.raises(ValueError, match="comma-separated integers"):
        YOLOv1(widths="16,x,32")
    with pytest.raises(ValueError, match="conf_target"):
        YOLOv1(conf_target="half")
    with pytest.raises(ValueError, match="expected images of shape"):
        YOLOv1(widths=SMALL)(nb.rand(1, 64, 64))
