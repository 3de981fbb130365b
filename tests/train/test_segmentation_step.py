"""SegmentationStep: one batch overfits, mIoU figures from one dataset-wide confusion matrix, the report line."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data.datasets import MNIST, MNISTScenes
from nabla.data.datasets.scenes import SceneSpec, make_scene
from nabla.models import build_model
from nabla.train.steps.scene_batches import SceneBatches
from nabla.train.steps.segmentation import SegmentationStep, format_segmentation, summarize


def _small_scenes(n=2, size=32):
    """``n`` scenes of two digits on a ``size`` x ``size`` canvas: images (n, 1, size, size), masks (n, size, size)."""
    mnist = MNIST(train=False, download=True)
    spec = SceneSpec(canvas=size, min_digits=2, max_digits=2)
    scenes = [make_scene(mnist._images[:100], mnist._labels[:100], np.random.default_rng(i), spec) for i in range(n)]
    images = np.stack([s.image for s in scenes])[:, None].astype(np.float32) / 255
    return images, np.stack([s.mask for s in scenes]).astype(np.int64)


def test_one_batch_overfits_to_miou_above_095():
    nb.manual_seed(0)
    images, masks = _small_scenes()
    model = build_model("unet", (1, 32, 32), 11, width=8, depth=2)
    step = SegmentationStep(model, nb.optim.Adam(model.parameters(), lr=1e-2), 11)
    first = step.train_step((images, masks))["loss"]
    for _ in range(99):
        last = step.train_step((images, masks))["loss"]
    result = step.evaluate([(images, masks)], per_class=True)   # eval mode: batch norm's running statistics
    predicted = step.predict([(images, masks)])
    assert predicted.shape == masks.shape and (predicted == masks).mean() > 0.99
    assert last < first / 10
    assert result["miou"] > 0.95 and result["pixel_acc"] > 0.99, result
    present = np.unique(masks)
    assert [i for i, v in enumerate(result["iou_per_class"]) if v >= 0] == list(present)


class OracleSegmenter(nn.Module):
    """Logits that put ``margin`` on the true class of each pixel (looked up by image content), or on
    background everywhere; one parameter so that an optimizer has something to hold."""

    def __init__(self, truth, num_classes=11, background_only=False):
        super().__init__()
        self.truth, self.num_classes, self.background_only = truth, num_classes, background_only
        self.bias = nn.Parameter(nb.zeros(1))

    def forward(self, images):
        masks = np.stack([self.truth[img.tobytes()] for img in images.data])
        if self.background_only:
            masks = np.zeros_like(masks)
        onehot = np.moveaxis(np.eye(self.num_classes, dtype=np.float32)[masks], -1, 1) * 10.0
        return nb.tensor(onehot) + self.bias


@pytest.fixture(scope="module")
def valid():
    return MNISTScenes(split="valid", download=True, target_type="segmentation")


def test_perfect_masks_score_one_and_background_only_scores_the_background(valid):
    images, masks = valid.get_batch(np.arange(30))
    truth = {img.tobytes(): m for img, m in zip(images, masks)}
    loader = SceneBatches(valid, 16, shuffle=False, limit=30)
    perfect = SegmentationStep(OracleSegmenter(truth), None).evaluate(loader, per_class=True)
    assert perfect["miou"] == perfect["miou_digits"] == perfect["pixel_acc"] == 1.0 and perfect["images"] == 30
    assert perfect["images_per_s"] > 0 and len(perfect["iou_per_class"]) == 11
    lazy = SegmentationStep(OracleSegmenter(truth, background_only=True), None).evaluate(loader)
    fg = (masks > 0).mean()
    assert lazy["pixel_acc"] == pytest.approx(1 - fg) and lazy["miou_digits"] == 0.0
    assert lazy["miou"] == pytest.approx((1 - fg) / 11)    # every digit occurs in 30 scenes: 11 classes count
    assert "iou_per_class" not in lazy                    # lists stay out of the training history


def test_summary_reads_the_digits_from_the_same_matrix_and_the_line_names_the_figures():
    confmat = np.diag([90, 5, 0, 5]).astype(np.int64)
    confmat[0, 1] = 10                      # background called class 1
    r = summarize(confmat)
    assert r["iou_per_class"] == [0.9, 5 / 15, -1.0, 1.0]     # class 2 occurs nowhere
    assert r["miou"] == pytest.approx((0.9 + 1 / 3 + 1) / 3) and r["miou_digits"] == pytest.approx((1 / 3 + 1) / 2)
    assert r["worst_class"] == 1 and r["pixel_acc"] == pytest.approx(100 / 110)
    line = format_segmentation({**r, "images_per_s": 12.34}, parameters=1234)
    assert line.startswith("miou=0.7444 miou_digits=0.6667 pixel_acc=0.9091 worst_class=1 iou_worst=0.3333")
    assert line.endswith("images_per_s=12.3 parameters=1,234")
