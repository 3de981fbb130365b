"""`nabla train ... --tensorboard [DIR]`: a short run's loss, learning rate, validation figures, weight and gradient
histograms and settings read back from the event files with the values the run's history and checkpoint hold;
without tensorboardX the flag fails in one line naming the extra, before any work."""
import json
import os

import numpy as np
import pytest

from nabla.cli import build_parser
from nabla.cli.train import request_from

from ..utils.events import read_events
from .helpers import assert_ok, assert_one_line_error, nabla, show

try:
    import tensorboardX  # noqa: F401
except ImportError:
    tensorboardX = None
# every test but the missing-extra one needs the extra itself
needs_tbx = pytest.mark.skipif(tensorboardX is None,
                               reason='tensorboardX is not installed (pip install "nabla[tensorboard]")')


def _request(*argv):
    return request_from(build_parser().parse_args(["train", *argv]))


@needs_tbx
def test_the_flag_hands_the_run_layer_a_logger_in_the_run_folder_or_the_given_one():
    assert _request("mlp").callback_factories == ()
    (make,) = _request("mlp", "--tensorboard").callback_factories
    assert make("runs/mlp-mnist").log_dir == os.path.join("runs/mlp-mnist", "tensorboard")
    (make,) = _request("mlp", "--tensorboard", "logs/tb").callback_factories
    assert make("runs/mlp-mnist").log_dir == "logs/tb"


@needs_tbx
def test_a_short_run_logs_what_its_history_and_checkpoint_hold(tmp_path, mnist5k):
    from safetensors.numpy import load_file
    assert_ok(nabla("train", "mlp", "--dataset", "mnist-5k", "--max-steps", "20", "--quiet", "--out", "run",
                    "--tensorboard", cwd=tmp_path))
    events = read_events(tmp_path / "run" / "tensorboard")
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    # every 10 steps: the step's loss and the learning rate
    assert [s for s, _ in events["train/loss"]] == [10, 20], sorted(events)
    assert all(np.isfinite(v) and v > 0 for _, v in events["train/loss"])
    assert [v for _, v in events["train/lr"]] == pytest.approx([history["lr"][-1]] * 2)
    assert all(v > 0 for _, v in events["train/samples_per_sec"])
    # the evaluation row, at the step it was taken
    assert events["epoch/loss"] == [(20, pytest.approx(history["loss"][-1], rel=1e-6))]
    assert events["val/accuracy"] == [(20, pytest.approx(history["val_accuracy"][-1], rel=1e-6))]
    # one weight and one gradient histogram per parameter, holding the last weights
    weights = load_file(str(tmp_path / "run" / "last.safetensors"))
    names = [t[len("weights/"):] for t in events if t.startswith("weights/")]
    assert names and sorted("grads/" + n for n in names) == sorted(t for t in events if t.startswith("grads/"))
    for name in names:
        key = next(k for k in weights if k.endswith(name))
        ((step, h),) = events[f"weights/{name}"]
        assert step == 20 and h.num == weights[key].size, name
        assert h.sum == pytest.approx(weights[key].astype(np.float64).sum(), abs=1e-3), name
        ((_, g),) = events[f"grads/{name}"]
        assert g.num == weights[key].size and g.max > g.min, name   # a real gradient, not zeros
    ((_, config),) = events["run/config/text_summary"]
    assert '"model": "mlp"' in config and '"dataset": "mnist-5k"' in config, config


def test_without_tensorboardx_the_flag_fails_in_one_line_before_any_work(tmp_path):
    fake = tmp_path / "fake"
    (fake / "tensorboardX").mkdir(parents=True)
    (fake / "tensorboardX" / "__init__.py").write_text("raise ImportError('No module named tensorboardX')\n")
    res = nabla("train", "mlp", "--dataset", "mnist-5k", "--max-steps", "1", "--quiet", "--tensorboard",
                cwd=tmp_path, pythonpath=[fake])
    assert_one_line_error(res, 1, 'pip install "nabla[tensorboard]"')
    assert not (tmp_path / "runs").exists(), show(res)
