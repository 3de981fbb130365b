"""The pinned reference classifiers: their architecture, the shipped weights, their accuracy, the training
command's file round trip."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

import nabla
from nabla.data.datasets import MNIST, MNIST5k, FashionMNIST
from nabla.metrics import load_reference_classifier
from nabla.metrics import reference_classifier as rc

REPO = Path(__file__).resolve().parents[2]


def _need(cls):
    if not cls.is_present():
        pytest.skip(f"{cls.__name__} is not installed here; install it with: {cls.install_hint()}")


def test_architecture_and_shapes():
    nabla.manual_seed(0)
    model = rc.ReferenceClassifier(0.13, 0.31)
    assert model.num_parameters() == 421_642
    assert list(model.state_dict()) == ["mean", "std", "conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
                                        "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    x = nabla.from_numpy(np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32))
    with nabla.no_grad():
        f = model.features(x)
        assert f.shape == (3, 128) and f.numpy().min() >= 0          # post-ReLU
        np.testing.assert_allclose(model(x).numpy(), model.head(f).numpy(), rtol=1e-6)
        assert model(x).shape == (3, 10)


@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_shipped_weights_are_small_tracked_and_load(dataset):
    path = rc.reference_path(dataset)
    assert path.is_file(), f"{path} is missing: python -m nabla.metrics.reference_classifier --dataset {dataset}"
    assert path.stat().st_size < 2_000_000
    ignored = subprocess.run(["git", "check-ignore", "-q", str(path.relative_to(REPO))], cwd=REPO)
    assert ignored.returncode == 1, f"{path} is ignored by .gitignore"
    stored = nabla.load(path)
    assert stored["dataset"] == dataset and stored["epochs"] == 2 and stored["seed"] == 0
    model = load_reference_classifier(dataset)
    assert not model.training
    assert 0.1 < float(model.mean.numpy()[0]) < 0.35 and 0.25 < float(model.std.numpy()[0]) < 0.4


def test_shipped_mnist_classifier_accuracy():
    """>= 98.5 % on the MNIST test set (every 5th image: 2,000, to stay fast); MNIST-5k's test digits when
    MNIST itself is not installed (they are real MNIST training digits, so the figure is only a check)."""
    model = load_reference_classifier("mnist")
    if MNIST.is_present():
        test = MNIST(train=False)
        idx = np.arange(0, len(test), 5)
    else:
        _need(MNIST5k)
        test = MNIST5k(train=False)
        idx = np.arange(len(test))
    x, y = test.get_batch(idx)
    with nabla.no_grad():
        acc = (model(nabla.from_numpy(x)).numpy().argmax(1) == y).mean()
    assert acc >= 0.985, acc


def test_shipped_fashion_classifier_accuracy():
    _need(FashionMNIST)
    test = FashionMNIST(train=False)
    x, y = test.get_batch(np.arange(0, len(test), 5))
    with nabla.no_grad():
        acc = (load_reference_classifier("fashion-mnist")(nabla.from_numpy(x)).numpy().argmax(1) == y).mean()
    assert acc >= 0.88, acc


def test_main_trains_and_writes_a_loadable_file(tmp_path, monkeypatch, capsys):
    """The training command end to end, on MNIST-5k's 1,000 test digits instead of MNIST (fast)."""
    _need(MNIST5k)
    monkeypatch.setattr(rc, "get_dataset", lambda name, train, download: MNIST5k(train=False))
    out = tmp_path / "ref.safetensors"
    accuracy = rc.main(["--dataset", "mnist", "--out", str(out), "--epochs", "1"])
    assert 0.5 < accuracy <= 1 and f"wrote {out}" in capsys.readouterr().out
    stored = nabla.load(out)
    assert stored["test_accuracy"] == accuracy and stored["command"].endswith(f"--out {out} --epochs 1")
    model = rc.load_classifier(out)
    assert rc.evaluate_accuracy(model, MNIST5k(train=False)) == pytest.approx(accuracy)
