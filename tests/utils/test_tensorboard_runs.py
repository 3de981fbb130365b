"""TensorBoardLogger on three tiny runs (the run layer `nabla train --tensorboard` drives), read back from the
event files: a GAN (two optimizers, samples grid), a U-Net (segmentation overlays) and a Faster R-CNN (boxes
drawn).  The scalars hold the history's values, the two learning rates, the histograms one count per weight, the
text the run's model and data set, and the image is the grid of the right size at the evaluation's step."""
import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from nabla.train import run as runs

from ..cli.helpers import MNIST5K, skip_unless_dataset
from .events import read_events

pytest.importorskip("tensorboardX", reason='tensorboardX is not installed (pip install "nabla[tensorboard]")')
pytest.importorskip("PIL", reason='Pillow is not installed (pip install "nabla[vision]")')
from nabla.utils.tensorboard import TensorBoardLogger  # noqa: E402


def _run(tmp_path, model, dataset, options, eval_limit=20, **settings):
    """Two steps (batch 4 unless given), evaluated once at the end; every step logged; the events read back."""
    skip_unless_dataset(dataset, MNIST5K[1])
    def make(run_folder):
        return TensorBoardLogger(tmp_path / "tb", log_every_n_steps=1, sample_grid=4, overlays=2)
    request = runs.Request(model=model, dataset=dataset, options=options,
                           settings={"max_steps": 2, "batch_size": 4, **settings}, out=str(tmp_path / "run"),
                           progress=False, eval_limit=eval_limit, callback_factories=(make,))
    runs.train(request, echo=lambda line: None)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    return read_events(tmp_path / "tb"), history, load_file(str(tmp_path / "run" / "last.safetensors"))


def _check_histograms(events, weights):
    """One weight histogram per parameter at the evaluation (step 2), its count and sum those of the checkpoint."""
    names = [t[len("weights/"):] for t in events if t.startswith("weights/")]
    assert names
    for name in names:
        key = next(k for k in weights if k.endswith(name))
        ((step, h),) = events[f"weights/{name}"]
        assert step == 2 and h.num == weights[key].size, name
        assert h.sum == pytest.approx(weights[key].astype(np.float64).sum(), abs=1e-3), name
    assert any(t.startswith("grads/") for t in events)


def test_a_tiny_gan_logs_both_learning_rates_and_a_grid_of_samples(tmp_path):
    events, history, weights = _run(tmp_path, "gan", "mnist-5k", {"hidden": "8"}, lr=0.001)
    assert [s for s, _ in events["train/g_loss"]] == [1, 2]
    # each step's figure, and their mean (two equal batches) the history's
    assert np.mean([v for _, v in events["train/g_loss"]]) == pytest.approx(history["g_loss"][-1], rel=1e-5)
    assert events["epoch/d_loss"] == [(2, pytest.approx(history["d_loss"][-1], rel=1e-5))]
    assert events["val/fid"] == [(2, pytest.approx(history["val_fid"][-1], rel=1e-5))]
    # the discriminator's optimizer and the generator's, each at the rate asked for
    assert [v for _, v in events["train/lr"]] == [v for _, v in events["train/lr_1"]] == pytest.approx([1e-3] * 2)
    _check_histograms(events, weights)
    assert any(t.startswith("weights/generator.") for t in events)
    assert any(t.startswith("weights/discriminator.") for t in events)
    ((_, config),) = events["run/config/text_summary"]
    assert '"model": "gan"' in config and '"dataset": "mnist-5k"' in config, config
    ((step, grid),) = events["samples"]
    assert step == 2 and (grid.height, grid.width) == (2 * 30 + 2, 2 * 30 + 2)   # 2 x 2 of 28x28, padding 2


def test_a_tiny_segmentation_run_logs_its_figures_and_the_overlays(tmp_path):
    events, history, weights = _run(tmp_path, "unet", "mnist-scenes", {"width": "2", "depth": "1"})
    assert events["val/miou"] == [(2, pytest.approx(history["val_miou"][-1], rel=1e-5))]
    assert events["epoch/loss"] == [(2, pytest.approx(history["loss"][-1], rel=1e-5))]
    assert [s for s, _ in events["train/loss"]] == [1, 2] and all(v > 0 for _, v in events["train/samples_per_sec"])
    _check_histograms(events, weights)
    ((_, config),) = events["run/config/text_summary"]
    assert '"model": "unet"' in config and '"dataset": "mnist-scenes"' in config
    ((step, grid),) = events["segmentation"]
    # two 64x64 validation images enlarged to 128x128, side by side, padding 2, in colour
    assert step == 2 and (grid.height, grid.width, grid.colorspace) == (132, 262, 3)


def test_a_tiny_detection_run_logs_map_and_the_boxes_drawn(tmp_path):
    options = {"widths": "4,8,8,8", "representation_size": "16"}
    events, history, _ = _run(tmp_path, "faster-rcnn", "mnist-scenes", options, eval_limit=4, batch_size=2)
    assert events["val/map"] == [(2, pytest.approx(history["val_map"][-1], rel=1e-5, abs=1e-9))]
    assert {"train/loss_classifier", "train/loss_objectness"} <= set(events)   # each loss term of the step
    ((step, grid),) = events["detections"]
    assert step == 2 and (grid.height, grid.width, grid.colorspace) == (132, 262, 3)
