"""R-CNN (nabla.models.rcnn): registry entry (a fixed, cached training set), selective-search regions warped
with the paper's context, the detector contract's outputs, cached proposals across calls, and an overfit
of four scenes to map_50 >= 0.9."""
import pytest

import nabla as nb
from nabla.models import build_model, get_model_entry
from nabla.models.crop_detector import RCNN_CONTEXT

from ..detection_helpers import has_ximgproc

from .test_sliding_window import SMALL, _scenes, check_contract, overfit


_has_ximgproc = has_ximgproc


pytestmark = pytest.mark.skipif(not _has_ximgproc(), reason="R-CNN's selective search needs OpenCV's ximgproc "
                                "(pip install opencv-contrib-python-headless)")


def test_registry_entry_trains_on_a_fixed_set_with_the_papers_settings():
    entry = get_model_entry("rcnn")
    assert entry.task == "detection" and entry.default_dataset == "mnist-scenes"
    assert entry.training["train_scenes"] == 2000
    assert entry.options["ss_mode"] == "fast" and entry.options["context"] == RCNN_CONTEXT
    model = build_model("rcnn", (1, 64, 64), 10, proposal_cache=False, **SMALL)
    heads = model.roi_heads
    assert model.num_classes == 10 and heads.box_predictor.cls_score.out_features == 11
    assert heads.box_predictor.bbox_pred.out_features == 44  # class-specific regression, background included
    assert heads.proposal_matcher.high_threshold == 0.5 and heads.fg_bg_sampler.positive_fraction == 0.25
    assert heads.box_roi_pool.output_size == 24


def test_eval_output_follows_the_contract_and_proposals_are_computed_once():
    nb.manual_seed(0)
    images, targets = _scenes(3)
    model = build_model("rcnn", (1, 64, 64), 10, proposal_cache=False, detections_per_img=10, **SMALL).eval()
    out = model(nb.from_numpy(images))
    check_contract(out, 3, 10, 64, 10)
    assert model.proposer.computed == 3
    model(nb.from_numpy(images))
    regions = model.propose(nb.from_numpy(images))
    assert model.proposer.computed == 3 and len(regions) == 3 and all(r.shape[1] == 4 for r in regions)


def test_losses_and_overfit_four_scenes():
    nb.manual_seed(0)
    images, targets = _scenes(4)
    model = build_model("rcnn", (1, 64, 64), 10, proposal_cache=False, **SMALL)
    losses = model.train()(nb.from_numpy(images), targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg"}
    assert overfit(model, images, targets, steps=40) >= 0.9
