"""The detection task: scene splits, a fixed training set, augmentation moving boxes with the pixels, and
`nabla train` / `nabla eval` on a detector ending on the `map=... map_50=... map_75=...` line."""
import json
import os

import numpy as np
import pytest

from nabla.models import build_model, get_model_entry
from nabla.train import run as runs
from nabla.train import settings as S
from nabla.train.tasks import get_task

SMALL = {"widths": "4,8,8,8"}


def _make(settings_given, dataset="mnist-scenes"):
    task, entry = get_task("detection"), get_model_entry("yolo")
    settings = S.resolve("detection", entry.training, None, settings_given)
    data = task.load(dataset, settings, download=True)
    model = build_model("yolo", data.in_shape, data.num_classes, **SMALL)
    step, loader, val = task.make_step(entry, model, S.make_optimizer(settings, model.parameters()), data, settings)
    return data, loader, val


def test_fixed_training_scenes_and_augmentation():
    data, loader, val = _make({"batch_size": 4, "train_scenes": 8, "augment": True})
    assert data.in_shape == (1, 64, 64) and data.num_classes == 10 and "a fixed 8 training images" in data.sizes
    assert len(loader) == 2
    loader.set_epoch(3)
    images, targets = next(iter(loader))
    ink = np.rint(images.data[:, 0] * 255) > 0
    for img_ink, t in zip(ink, targets):                       # every kept box still frames its digit's pixels
        for x0, y0, x1, y1 in t["boxes"].astype(int):
            assert img_ink[y0:y1, x0:x1].any()
    assert not any("boxes" not in t or "labels" not in t for t in targets)
    with pytest.raises(ValueError, match="--train-scenes 30000 is more than the 20,000"):
        _make({"train_scenes": 30000})


def test_hard_scenes_are_96_pixels():
    data, _, val = _make({"batch_size": 4}, "mnist-scenes-hard")
    assert data.in_shape == (1, 96, 96) and len(val.dataset) == 1000


def test_train_and_eval_end_on_the_map_line(tmp_path):
    lines = []
    request = runs.Request(model="yolo", dataset="mnist-scenes", options=dict(SMALL),
                           settings={"max_steps": 2, "batch_size": 4}, out=str(tmp_path / "run"), progress=False,
                           eval_limit=20)
    runs.train(request, echo=lines.append)
    report = [ln for ln in lines if ln.startswith("map=")]
    assert len(report) == 1 and " map_50=" in report[0] and " map_75=" in report[0] and "images_per_s=" in report[0]
    with open(os.path.join(tmp_path, "run", "history.json")) as f:
        assert "val_map_50" in json.load(f)
    with open(os.path.join(tmp_path, "run", "test.json")) as f:
        kept = json.load(f)
    assert kept["model"] == "yolo" and {"map", "map_50", "map_75", "map_per_class", "classes"} <= set(kept)
    eval_lines = []
    result = runs.evaluate(str(tmp_path / "run" / "last.safetensors"), eval_limit=10, echo=eval_lines.append)
    assert eval_lines[-1].startswith("map=") and result["images"] == 10
    assert eval_lines[-2].startswith("AP per class")


def test_a_two_stage_run_reports_its_proposals(tmp_path):
    lines = []
    request = runs.Request(model="faster-rcnn", dataset="mnist-scenes",
                           options={"widths": "4,8,8,8", "representation_size": "16"},
                           settings={"max_steps": 1, "batch_size": 2}, out=str(tmp_path / "run"), progress=False,
                           eval_limit=10)
    result = runs.train(request, echo=lines.append)
    line = next(ln for ln in lines if ln.startswith("proposals: "))
    assert "per test image, recall" in line and result["proposals_per_image"] > 0
    assert 0.0 <= result["proposal_recall_50"] <= 1.0
