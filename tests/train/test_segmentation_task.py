"""The segmentation task: data and mask classes, augmentation moving masks with the pixels, the Trainer
driving the step (Dice term logged), and `nabla train` / `nabla eval` ending on the miou line."""
import numpy as np
import pytest

from nabla.models import build_model, get_model_entry
from nabla.train import Trainer
from nabla.train import run as runs
from nabla.train import settings as S
from nabla.train.tasks import get_task


def test_trainer_runs_the_step_with_dice_and_augmentation_moves_masks_with_pixels():
    task, entry = get_task("segmentation"), get_model_entry("unet")
    settings = S.resolve("segmentation", entry.training, None, {"batch_size": 4, "augment": True, "dice_weight": 0.5})
    data = task.load("mnist-scenes", settings, download=True)
    assert data.num_classes == 11 and data.config["classes"][0] == "background" and data.in_shape == (1, 64, 64)
    model = build_model("unet", data.in_shape, data.num_classes, width=2, depth=1)
    step, loader, val = task.make_step(entry, model, S.make_optimizer(settings, model.parameters()), data, settings)
    images, masks = next(iter(loader))
    assert masks.dtype == np.int64 and masks.shape == (4, 64, 64)
    assert ((masks > 0) == (np.rint(images.data[:, 0] * 255) > 127)).all()   # shifted together: digits stay labelled
    loader.size = 8
    trainer = Trainer(step, progress=False)
    trainer.fit(loader, epochs=1)
    assert {"loss", "ce", "dice"} <= set(trainer.history) and step.monitor == ("val_miou", "max")
    val_images, _ = next(iter(val))
    plain_images, _ = data.val.get_batch(np.arange(len(val_images.data)))
    assert np.array_equal(val_images.data, plain_images)          # validation is not augmented


def test_train_and_eval_end_on_the_miou_line(tmp_path):
    lines = []
    request = runs.Request(model="unet", dataset="mnist-scenes", options={"width": "2", "depth": "1"},
                           settings={"max_steps": 2, "batch_size": 4}, out=str(tmp_path / "run"), progress=False,
                           eval_limit=20)
    result = runs.train(request, echo=lines.append)
    report = [ln for ln in lines if ln.startswith("miou=")]
    assert len(report) == 1 and "miou_digits=" in report[0] and "pixel_acc=" in report[0]
    assert "worst_class=" in report[0] and "images_per_s=" in report[0] and "parameters=" in report[0]
    assert lines[lines.index(report[0]) - 1].startswith("IoU per class (0 = background): 0:")
    assert result["images"] == 20
    eval_lines = []
    runs.evaluate(str(tmp_path / "run" / "last.safetensors"), eval_limit=10, echo=eval_lines.append)
    assert eval_lines[-1].startswith("miou=") and eval_lines[-1].split(" images_per_s")[0] != ""


def test_a_folder_of_masks_trains_with_its_own_classes(tmp_path):
    pytest.importorskip("PIL")
    from nabla.data.datasets import export
    export.export_dataset("mnist-scenes", "masks", tmp_path / "scenes", split="valid", count=20)
    spec = f"masks:{tmp_path / 'scenes' / 'images'}:{tmp_path / 'scenes' / 'masks'}"
    task, entry = get_task("segmentation"), get_model_entry("unet")
    settings = S.resolve("segmentation", entry.training, None, {"batch_size": 4})
    data = task.load(spec, settings, download=False)
    assert data.num_classes == 11 and data.config["classes"][:2] == ["background", "1"] and len(data.train) == 18
    model = build_model("unet", data.in_shape, data.num_classes, width=2, depth=1)
    step, loader, val = task.make_step(entry, model, S.make_optimizer(settings, model.parameters()), data, settings)
    assert "a fixed 18 training images" in data.sizes
    Trainer(step, progress=False).fit(loader, val, max_steps=2)
    lines, options = [], {"dataset": spec, "download": False, "checkpoint": "c.safetensors", "epoch": 1}
    with pytest.raises(ValueError, match=r"masks/0000\d\d\.png' holds class index \d+, above the model's 2 classes"):
        task.evaluate(model, {"model": "unet", "num_classes": 2, "in_shape": [1, 64, 64]}, options, lines.append)
    result = task.evaluate(model, {"model": "unet", "num_classes": 11, "in_shape": [1, 64, 64]}, options, lines.append)
    assert lines[-1].startswith("miou=") and result["images"] == 2
