"""Fast R-CNN (nabla.models.fast_rcnn): registry entry, the code it shares with Faster R-CNN, building
without OpenCV, and overfitting two scenes on selective-search proposals (skipped without OpenCV)."""
import sys

import pytest

import nabla as nb
from nabla.models import build_model, get_model_entry
from nabla.models.fast_rcnn import FastRCNN, fast_rcnn
from nabla.models.faster_rcnn import Backbone, TwoStageDetector
from nabla.vision.roi_heads import RoIHeads

from ..detection_helpers import overfit_to_map_50, scenes

SMALL = {"widths": "8,16,32,32", "representation_size": 64}


def _cv2_or_skip():
    cv2 = pytest.importorskip("cv2", reason="selective search needs opencv-contrib-python-headless")
    if not hasattr(cv2, "ximgproc"):
        pytest.skip("selective search needs cv2.ximgproc (opencv-contrib-python-headless)")


_scenes = scenes


def test_registry_entry_and_shared_parts():
    entry = get_model_entry("fast-rcnn")
    assert entry.task == "detection" and entry.default_dataset == "mnist-scenes"
    assert entry.training["train_scenes"] > 0 and entry.options["roi_op"] in ("align", "pool")
    model = build_model("fast-rcnn", (1, 64, 64), 10, **SMALL)   # builds without running OpenCV
    assert isinstance(model, FastRCNN) and isinstance(model, TwoStageDetector) and model.num_classes == 10
    assert isinstance(model.backbone, Backbone) and isinstance(model.roi_heads, RoIHeads)
    assert model.roi_heads.box_roi_pool.op == entry.options["roi_op"]
    assert not any(name.startswith("rpn") for name, _ in model.named_parameters())


def test_fast_rcnn_overfits_two_scenes():
    _cv2_or_skip()
    nb.manual_seed(0)
    images, targets = _scenes(2)
    model = fast_rcnn((1, 64, 64), 10, **SMALL)
    model.proposal_options["cache_dir"] = False       # memory cache only: the test writes no files
    assert overfit_to_map_50(model, images, targets, steps=150, lr=3e-3) == 1.0
    assert model.proposer().computed == 2        # each scene's proposals computed once, then cached


def test_without_opencv_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)      # "import cv2" now fails as if it were not installed
    model = fast_rcnn((1, 64, 64), 10, **SMALL)
    model.eval()
    with pytest.raises(ImportError, match="opencv-contrib-python-headless"):
        model(nb.rand(1, 1, 64, 64))
