"""Measures the ``generative`` experiment takes of a trained model beyond its own loss: sharpness of the samples,
the time to draw them, and a linear probe on a VAE's latent means."""
from __future__ import annotations

import time

import numpy as np

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import from_numpy
from ..nn import functional as F

PROBE_STEPS, PROBE_BATCH, PROBE_LR = 1500, 256, 1e-2


def sharpness(images01: np.ndarray) -> float:
    """Mean gradient magnitude of images (N, C, H, W) in [0, 1]: the mean over pixels of
    sqrt(dx^2 + dy^2) with forward differences.  Blurry samples (a VAE's Bernoulli means) score low, sharp
    strokes high; compare with the same number on real images."""
    x = np.asarray(images01, np.float64)
    dx = np.diff(x, axis=-1)[..., :-1, :]
    dy = np.diff(x, axis=-2)[..., :, :-1]
    return float(np.sqrt(dx * dx + dy * dy).mean())


def time_to_sample(model, n: int = 64, seed: int = 0) -> float:
    """Seconds to draw ``n`` samples (one call, the model's own batching)."""
    model.eval()
    start = time.perf_counter()
    model.sample(n, labels=(np.arange(n) % model.num_classes) if getattr(model, "conditional", False) else None,
                 generator=np.random.default_rng(seed))
    return time.perf_counter() - start


def latent_means(model, images01: np.ndarray, batch: int = 1000) -> np.ndarray:
    """The VAE encoder's means mu(x) (N, latent) of images in [0, 1]."""
    model.eval()
    with no_grad():
        parts = [model.encode(from_numpy(np.ascontiguousarray(images01[i:i + batch], np.float32)))[0].data
                 for i in range(0, len(images01), batch)]
    return np.concatenate(parts)


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 seed: int = 0) -> float:
    """Test accuracy of a softmax regression (one nn.Linear, Adam, cross-entropy) trained on features
    ``train_x``; the features are standardised by the training set's mean and std first."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    tx, ex = ((train_x - mean) / std).astype(np.float32), ((test_x - mean) / std).astype(np.float32)
    rng = np.random.default_rng(seed)
    from .. import backend
    backend.manual_seed(seed)
    probe = nn.Linear(tx.shape[1], int(max(train_y.max(), test_y.max())) + 1)
    opt = optim.Adam(probe.parameters(), lr=PROBE_LR)
    for _ in range(PROBE_STEPS):
        idx = rng.integers(0, len(tx), PROBE_BATCH)
        opt.zero_grad()
        F.cross_entropy(probe(from_numpy(tx[idx])), np.asarray(train_y[idx], np.int64)).backward()
        opt.step()
    with no_grad():
        pred = probe(from_numpy(ex)).data.argmax(1)
    return float((pred == test_y).mean())


def random_projection(images01: np.ndarray, dim: int, seed: int = 0) -> np.ndarray:
    """The images flattened and projected on ``dim`` random Gaussian directions: the baseline a learned
    ``dim``-dimensional code should beat."""
    flat = images01.reshape(len(images01), -1).astype(np.float64)
    w = np.random.default_rng(seed).normal(size=(flat.shape[1], dim)) / np.sqrt(flat.shape[1])
    return flat @ w
