"""DetectionStep and SceneBatches: the Trainer trains a detector's summed losses and scores it by mAP."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data.datasets import MNISTScenes
from nabla.train import Trainer
from nabla.train.steps.detection import DetectionStep, format_detection, total_loss
from nabla.train.steps.scene_batches import SceneBatches


class OracleDetector(nn.Module):
    """Returns the true boxes of images it was shown (looked up by content), with a learnable score; its one
    training loss pulls ``bias`` towards 2."""

    def __init__(self, truth, shift=0.0):
        super().__init__()
        self.truth, self.shift = truth, shift
        self.bias = nn.Parameter(nb.zeros(1))
        self.num_classes = 10

    def forward(self, images, targets=None):
        if self.training and targets is not None:
            return {"loss_a": ((self.bias - 2.0) ** 2).sum(), "loss_b": (self.bias * 0.0).sum()}
        out = []
        for img in images.data:
            t = self.truth[img.tobytes()]
            n = len(t["labels"])
            out.append({"boxes": nb.tensor(t["boxes"] + self.shift), "scores": nb.ones(n),
                        "labels": nb.tensor(t["labels"])})
        return out


@pytest.fixture(scope="module")
def valid():
    return MNISTScenes(split="valid", download=True)


def _truth(ds, n):
    images, targets = ds.get_batch(np.arange(n))
    return {img.tobytes(): t for img, t in zip(images.astype(np.float32), targets)}


def test_perfect_boxes_score_one_and_shifted_ones_less(valid):
    step = DetectionStep(OracleDetector(_truth(valid, 40)), None)
    result = step.evaluate(SceneBatches(valid, 16, shuffle=False, limit=40), per_class=True)
    assert result["map"] == pytest.approx(1.0) and result["map_50"] == pytest.approx(1.0)
    assert result["voc_map_50"] == pytest.approx(1.0) and result["images"] == 40
    assert len(result["map_per_class"]) == len(result["classes"])
    shifted = DetectionStep(OracleDetector(_truth(valid, 40), shift=3.0), None).evaluate(
        SceneBatches(valid, 16, shuffle=False, limit=40))
    assert shifted["map_75"] < shifted["map_50"] <= 1.0 and shifted["map"] < 0.9
    line = format_detection(result)
    assert line.startswith("map=1.0000 map_50=1.0000 map_75=1.0000") and "images_per_s=" in line


def test_trainer_runs_the_summed_losses():
    ds = MNISTScenes(train=True, download=True)
    model = OracleDetector({})
    opt = nb.optim.SGD(model.parameters(), lr=0.1)
    trainer = Trainer(DetectionStep(model, opt))
    trainer.fit(SceneBatches(ds, 4, limit=16), epochs=6)
    assert float(model.bias.data[0]) == pytest.approx(2.0, abs=0.1)
    assert {"loss", "loss_a", "loss_b"} <= set(trainer.history)


def test_scene_batches_fresh_per_epoch_fixed_when_asked():
    ds = MNISTScenes(train=True, download=True)
    loader = SceneBatches(ds, 4, shuffle=False, limit=4)
    loader.set_epoch(0)
    a = next(iter(loader))[0].data
    loader.set_epoch(1)
    b = next(iter(loader))[0].data
    assert not np.array_equal(a, b)
    fixed = SceneBatches(ds, 4, shuffle=False, limit=4, fixed=True)
    fixed.set_epoch(1)
    assert np.array_equal(next(iter(fixed))[0].data, a)
    assert len(SceneBatches(ds, 3, limit=10)) == 4 and len(SceneBatches(ds, 3, limit=10, drop_last=True)) == 3


def test_total_loss_needs_a_dict():
    with pytest.raises(TypeError, match="dict of losses"):
        total_loss([nb.ones(1)])
