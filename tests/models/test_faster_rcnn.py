"""Faster R-CNN (nabla.models.faster_rcnn): registry entry and options, the detector contract's outputs,
the four torchvision loss terms with gradients everywhere, and the issue's check: it overfits one batch of
scenes to map_50 1.0."""
import numpy as np
import pytest

import nabla as nb
from nabla.models import build_model, get_model_entry
from nabla.models.faster_rcnn import FasterRCNN, faster_rcnn

from ..detection_helpers import overfit_to_map_50, scenes

SMALL = {"widths": "8,16,32,32", "representation_size": 64}
LOSSES = {"loss_objectness", "loss_rpn_box_reg", "loss_classifier", "loss_box_reg"}


_scenes = scenes


def test_registry_entry_options_and_anchors():
    entry = get_model_entry("faster-rcnn")
    assert entry.task == "detection" and entry.default_dataset == "mnist-scenes"
    assert entry.options["score_thresh"] == 0.01 and entry.options["detections_per_img"] == 100
    assert entry.options["roi_op"] == "align" and entry.training["optimizer"] == "adam"
    model = build_model("faster-rcnn", (1, 64, 64), 10, **SMALL)
    assert isinstance(model, FasterRCNN) and model.num_classes == 10
    assert model.rpn.anchor_generator.sizes == ((14, 22),)      # digits at native size
    assert model.rpn.anchor_generator.aspect_ratios == ((1.0, 2.0, 4.0),)
    big = faster_rcnn((1, 96, 96), 10, **SMALL)
    assert big.rpn.anchor_generator.sizes == ((16, 26, 40),)     # resized digits of the hard scenes
    assert model.rpn.pre_nms_top_n() == 200 and model.rpn.post_nms_top_n() == 50
    model.eval()
    assert model.rpn.post_nms_top_n() == 30
    with pytest.raises(ValueError, match="widths"):
        faster_rcnn((1, 64, 64), 10, widths="8,x")
    with pytest.raises(ValueError, match="roi_op"):
        build_model("faster-rcnn", (1, 64, 64), 10, roi_op="warp")


def test_eval_outputs_follow_the_detector_contract():
    nb.manual_seed(0)
    model = faster_rcnn((1, 64, 64), 10, detections_per_img=5, **SMALL)
    model.eval()
    out = model(nb.rand(2, 1, 64, 64))
    assert len(out) == 2
    for d in out:
        boxes, scores, labels = d["boxes"].data, d["scores"].data, d["labels"].data
        assert boxes.dtype == np.float32 and scores.dtype == np.float32 and labels.dtype == np.int64
        assert boxes.shape == (len(scores), 4) and labels.shape == scores.shape and len(scores) <= 5
        assert (np.diff(scores) <= 0).all() and (scores > 0.01).all() and ((0 <= labels) & (labels < 10)).all()
        assert (boxes >= 0).all() and (boxes <= 64).all()
    model.train()   # training mode without targets also detects (torchvision's rule)
    assert isinstance(model(nb.rand(1, 1, 64, 64)), list)


def test_training_returns_the_four_losses_with_gradients():
    nb.manual_seed(0)
    images, targets = _scenes(3)
    model = faster_rcnn((1, 64, 64), 10, **SMALL)
    losses = model(nb.from_numpy(images), targets)
    assert set(losses) == LOSSES and all(np.isfinite(v.item()) and v.item() >= 0 for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is not None and np.isfinite(p.grad.data).all() for p in model.parameters())


def test_faster_rcnn_overfits_one_batch_to_map_50_one():
    nb.manual_seed(0)
    images, targets = _scenes(4)
    model = faster_rcnn((1, 64, 64), 10, **SMALL)
    assert overfit_to_map_50(model, images, targets, steps=120, lr=3e-3) == 1.0
