"""What the detector tests share: real scenes (or a skip naming what to install), the OpenCV check of the
selective-search tests, and "train on one batch until its map_50 reaches 1"."""
import numpy as np
import pytest

import nabla as nb
from nabla.data.datasets import MNIST, MNISTScenes
from nabla.metrics import MeanAveragePrecision


def scenes(n: int, split: str = "train"):
    """``(images, targets)`` of the first ``n`` scenes of ``split``; a skip when MNIST is not installed."""
    if not MNIST.is_present():
        pytest.skip(f"MNIST is not installed here; install it with: {MNIST.install_hint()}")
    return MNISTScenes(split=split, download=True).get_batch(np.arange(n))


def has_ximgproc() -> bool:
    try:
        import cv2
    except ImportError:
        return False
    return hasattr(cv2, "ximgproc")


needs_ximgproc = pytest.mark.skipif(not has_ximgproc(), reason="selective search needs OpenCV's ximgproc "
                                    "(pip install opencv-contrib-python-headless)")


def batch_map_50(model, x, targets) -> float:
    """The detector's map_50 on the batch it sees, in eval mode (its mode is restored)."""
    mode = model.training
    model.eval()
    with nb.no_grad():
        out = model(x)
    model.train(mode)
    metric = MeanAveragePrecision()
    metric.update([{k: v.data for k, v in d.items()} for d in out], targets)
    return float(metric.compute()["map_50"])


def overfit_to_map_50(model, images, targets, steps: int, lr: float, start: int = 40, every: int = 10) -> float:
    """Adam on one batch, all loss terms summed; from step ``start`` on, every ``every`` steps, the batch's
    map_50; the best reached (stops at 1.0)."""
    optimizer = nb.optim.Adam(model.parameters(), lr=lr)
    x, best = nb.from_numpy(images), 0.0
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        sum(model(x, targets).values()).backward()
        optimizer.step()
        if step >= start and step % every == 0:
            best = max(best, batch_map_50(model, x, targets))
            if best == 1.0:
                break
    return best
