"""The pinned reference classifiers whose features make nabla's classifier FID (``nabla.metrics.generative``).

Architecture (fixed, so that FID figures compare across runs and models)::

    x in [0, 1] (N, 1, 28, 28) -> (x - mean) / std               (constants of the training split, buffers)
    -> conv3x3 32 pad 1 -> ReLU -> maxpool 2                     (N, 32, 14, 14)
    -> conv3x3 64 pad 1 -> ReLU -> maxpool 2                     (N, 64, 7, 7)
    -> flatten -> fc 128 -> ReLU        = features(x)            (N, 128)   the FID features
    -> fc 10                            = head(features), the logits (N, 10); forward(x) = head(features(x))

421,642 parameters (1.7 MB as float32).  Trained 2 epochs on the whole training split (60,000 images), seed 0
(``nabla.manual_seed(0)`` for the initial weights, the DataLoader's shuffle seed 0), Adam lr 1e-3, batch 128,
cross-entropy, no augmentation.  The shipped weights (``nabla/metrics/reference/<dataset>.safetensors``) were
made on a shared 2-core CPU (NumPy 2.4.6, nabla of 2026-12) by::

    OPENBLAS_NUM_THREADS=1 python -m nabla.metrics.reference_classifier --dataset mnist \\
        --out nabla/metrics/reference/mnist.safetensors                  # test accuracy 98.86% (319 s)
    OPENBLAS_NUM_THREADS=1 python -m nabla.metrics.reference_classifier --dataset fashion-mnist \\
        --out nabla/metrics/reference/fashion-mnist.safetensors          # test accuracy 89.21% (419 s)

The file (written by ``nabla.save``) holds ``{"model": state_dict, "dataset", "test_accuracy", "epochs",
"seed", "command"}``; :func:`load_classifier` reads it back.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..autograd.tensor import Tensor, from_numpy
from ..backend import manual_seed
from ..data import DataLoader
from ..data.datasets import get_dataset
from ..nn import functional as F
from ..optim import Adam
from ..serialization import load, save

__all__ = ["ReferenceClassifier", "train_reference_classifier", "evaluate_accuracy", "load_classifier",
           "reference_path", "REFERENCE_DIR", "main"]

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
EPOCHS, SEED, LR, BATCH = 2, 0, 1e-3, 128


class ReferenceClassifier(nn.Module):
    """The pinned 2-conv + fc128 classifier (see the module docstring); takes [0, 1] images."""

    def __init__(self, mean: float = 0.0, std: float = 1.0, num_classes: int = 10):
        super().__init__()
        self.register_buffer("mean", from_numpy(np.array([mean], np.float32)))
        self.register_buffer("std", from_numpy(np.array([std], np.float32)))
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, num_classes)

    def features(self, x) -> Tensor:
        """The 128 post-ReLU activations of fc1: (N, 128)."""
        x = (x - self.mean) / self.std
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        return F.relu(self.fc1(x.flatten(1)))

    def head(self, features) -> Tensor:
        """The logits (N, 10) from the features (N, 128): fc2."""
        return self.fc2(features)

    def forward(self, x) -> Tensor:
        return self.head(self.features(x))


def reference_path(dataset: str) -> Path:
    """Where the shipped weights of ``dataset`` ("mnist" or "fashion-mnist") live."""
    return REFERENCE_DIR / f"{dataset}.safetensors"


def load_classifier(path) -> ReferenceClassifier:
    """A ReferenceClassifier with the weights of the file ``path`` (as :func:`main` writes it), in eval mode."""
    state = load(path)["model"]
    model = ReferenceClassifier()
    model.load_state_dict({k: from_numpy(np.asarray(v.data if isinstance(v, Tensor) else v, np.float32))
                           for k, v in state.items()})
    return model.eval()


def evaluate_accuracy(model, dataset, batch: int = 1000) -> float:
    """Top-1 accuracy of ``model`` on ``dataset`` (a data set with ``get_batch``), eval mode, no_grad."""
    model.eval()
    correct = 0
    with no_grad():
        for a in range(0, len(dataset), batch):
            x, y = dataset.get_batch(np.arange(a, min(a + batch, len(dataset))))
            correct += int((model(from_numpy(x)).data.argmax(1) == y).sum())
    return correct / len(dataset)


def train_reference_classifier(dataset: str = "mnist", epochs: int = EPOCHS, seed: int = SEED, lr: float = LR,
                               batch_size: int = BATCH, download: bool = True, echo=print):
    """Train the pinned classifier on ``dataset``'s training split; returns (model, test accuracy)."""
    train = get_dataset(dataset, train=True, download=download)
    test = get_dataset(dataset, train=False, download=download)
    pixels = train.data.data.astype(np.float64) / train.max_value
    manual_seed(seed)
    model = ReferenceClassifier(float(pixels.mean()), float(pixels.std()), num_classes=len(train.classes))
    optimizer = Adam(model.parameters(), lr=lr)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, seed=seed)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for step, (x, y) in enumerate(loader):
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if step % 100 == 0:
                echo(f"epoch {epoch + 1} step {step}/{len(loader)} loss {float(loss.item()):.4f} "
                     f"({time.perf_counter() - start:.0f} s)")
    accuracy = evaluate_accuracy(model, test)
    echo(f"{dataset}: test accuracy {accuracy * 100:.2f}% after {epochs} epochs ({time.perf_counter() - start:.0f} s)")
    return model, accuracy


def main(argv=None) -> float:
    p = argparse.ArgumentParser(prog="python -m nabla.metrics.reference_classifier",
                                description="Train the pinned reference classifier of the classifier FID.")
    p.add_argument("--dataset", default="mnist", choices=("mnist", "fashion-mnist"))
    p.add_argument("--out", required=True, help="the .safetensors file to write")
    p.add_argument("--epochs", type=int, default=EPOCHS, help=f"default {EPOCHS} (the pinned protocol)")
    args = p.parse_args(argv)
    model, accuracy = train_reference_classifier(args.dataset, epochs=args.epochs)
    command = "python -m nabla.metrics.reference_classifier " + " ".join(sys.argv[1:] if argv is None else argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save({"model": model.state_dict(), "dataset": args.dataset, "test_accuracy": accuracy, "epochs": args.epochs,
          "seed": SEED, "command": command}, args.out)
    print(f"wrote {args.out}")
    return accuracy


if __name__ == "__main__":
    main()
