"""The sliding-window detector (nabla.models.sliding_window) and the crop machinery it shares with R-CNN
(nabla.models.crop_detector): registry entry, the detector contract's outputs, chunked inference equal to
one pass, the context dilation, and an overfit of four scenes to map_50 >= 0.9."""
import numpy as np
import pytest

import nabla as nb
from nabla import optim
from nabla.metrics import MeanAveragePrecision
from nabla.models import build_model, get_model_entry
from nabla.models.crop_detector import RCNN_CONTEXT, WarpCrops
from nabla.models.sliding_window import SlidingWindowDetector

from ..detection_helpers import scenes

SMALL = {"widths": "8,16,32", "representation_size": 64}


def _scenes(n):
    return scenes(n, "valid")


def check_contract(out, n_images, num_classes, size, limit):
    """The detector contract's eval output (shared with test_rcnn)."""
    assert isinstance(out, list) and len(out) == n_images
    for d in out:
        boxes, scores, labels = d["boxes"].data, d["scores"].data, d["labels"].data
        assert boxes.dtype == np.float32 and scores.dtype == np.float32 and labels.dtype == np.int64
        assert boxes.shape == (len(scores), 4) and labels.shape == scores.shape and len(scores) <= limit
        assert (np.diff(scores) <= 0).all() and ((0 <= labels) & (labels < num_classes)).all()
        assert (boxes >= 0).all() and (boxes <= size).all() and (boxes[:, 2:] >= boxes[:, :2]).all()


def overfit(model, images, targets, steps, lr=5e-3):
    """Train on one batch for ``steps`` steps; the batch's map_50 in eval mode."""
    opt = optim.Adam(model.parameters(), lr=lr)
    x = nb.from_numpy(images)
    for _ in range(steps):
        model.train()
        opt.zero_grad()
        losses = model(x, targets)
        (losses["loss_classifier"] + losses["loss_box_reg"]).backward()
        opt.step()
    model.eval()
    metric = MeanAveragePrecision()
    metric.update([{k: v.data for k, v in d.items()} for d in model(x)], targets)
    return float(metric.compute()["map_50"])


def test_registry_entry_and_windows():
    entry = get_model_entry("sliding-window")
    assert entry.task == "detection" and entry.default_dataset == "mnist-scenes"
    assert entry.options["nms_thresh"] == 0.5 and entry.options["score_thresh"] == 0.01
    model = build_model("sliding-window", (1, 64, 64), 10, **SMALL)
    assert isinstance(model, SlidingWindowDetector) and model.num_classes == 10
    assert model.windows((64, 64)).shape == (794, 4) and model.windows((96, 96)).shape[0] > 794
    regions = model.propose(nb.rand(2, 1, 64, 64))
    assert len(regions) == 2 and regions[1] is model.windows((64, 64))
    heads = model.roi_heads
    assert heads.fg_bg_sampler.batch_size_per_image == 64 and heads.fg_bg_sampler.positive_fraction == 0.25
    assert heads.box_roi_pool.output_size == 16 and heads.box_roi_pool.context == 0.0
    with pytest.raises(ValueError, match="window_strides needs one stride per size"):
        build_model("sliding-window", (1, 64, 64), 10, window_strides="4,4,4")


def test_eval_output_follows_the_contract_and_chunks_change_nothing():
    nb.manual_seed(0)
    model = build_model("sliding-window", (1, 64, 64), 10, detections_per_img=20, **SMALL).eval()
    images = nb.rand(2, 1, 64, 64)
    out = model(images)
    check_contract(out, 2, 10, 64, 20)
    model.eval_chunk = 100  # 1588 windows in 16 calls
    chunked = model(images)
    for a, b in zip(out, chunked):
        np.testing.assert_allclose(a["scores"].data, b["scores"].data, rtol=1e-5)
        np.testing.assert_allclose(a["boxes"].data, b["boxes"].data, rtol=1e-5, atol=1e-4)
    model.train()
    assert isinstance(model(nb.rand(1, 1, 64, 64)), list)  # training mode without targets: detections


def test_warp_crops_dilates_by_the_papers_context_and_reproduces_aligned_pixels():
    warp = WarpCrops(8, context=RCNN_CONTEXT)
    box = np.array([[10, 20, 30, 60]], np.float32)
    grown = warp.dilate(box)[0]
    # after the warp, context / crop of the crop lies outside the box on each side
    width, height = grown[2] - grown[0], grown[3] - grown[1]
    np.testing.assert_allclose((box[0, 0] - grown[0]) / width, RCNN_CONTEXT, rtol=1e-5)
    np.testing.assert_allclose((grown[3] - box[0, 3]) / height, RCNN_CONTEXT, rtol=1e-5)
    image = np.arange(2 * 16 * 16, dtype=np.float32).reshape(1, 2, 16, 16)
    crop = WarpCrops(4, context=0.0)(nb.from_numpy(image), np.array([[0, 3, 5, 7, 9]], np.float32))
    np.testing.assert_allclose(crop.data[0], image[0, :, 5:9, 3:7], rtol=1e-6)


def test_losses_and_overfit_four_scenes():
    nb.manual_seed(0)
    images, targets = _scenes(4)
    model = build_model("sliding-window", (1, 64, 64), 10, **SMALL)
    losses = model.train()(nb.from_numpy(images), targets)
    assert set(losses) == {"loss_classifier", "loss_box_reg"} and all(v.shape == () for v in losses.values())
    assert overfit(model, images, targets, steps=80) >= 0.9
