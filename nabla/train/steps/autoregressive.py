"""Autoregressive image models (PixelCNN): maximum likelihood, the exact negative log-likelihood as the loss.

A model of this family has ``nll(images) -> Tensor (N,)``, -log p(x) in nats per image: the sum over the
pixels of -log p(x_i | x_<i), all of them from one forward pass (``nabla.models.pixelcnn``).  One step:

    loss = mean_n nll(x_n)   (nats per image)  -> backward -> before_optimizer_step -> step()

Evaluation scores every image of the loader without a graph and reports

    nll            mean -log p(x) over the images, nats per image (the figure papers quote on binarized MNIST)
    bits_per_dim   nll / (C H W ln 2)
    loss           = nll (the training loss on the evaluation images)

and the best checkpoint is the one with the lowest validation ``nll``.  Batches are ``(images, labels)`` pairs
(the labels are not used) or images alone; images are Tensors or arrays in [0, 1] (binary for a Bernoulli
model; grey / 255 for a 256-level one, whose targets are round(255 x)).

Data parallelism: ``nll`` is a mean over images and ``bits_per_dim`` a fixed multiple of it, so a sharded
evaluation weights each rank's figures by its image count, sum_r n_r nll_r / sum_r n_r = one process's mean
(``DDPStrategy.evaluate``); ``images`` is a count (``count_figures``): the ranks' are added.
"""
from __future__ import annotations

import math
import time

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from .base import Step


def _images(batch) -> Tensor:
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    return x if isinstance(x, Tensor) else from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def bits_per_dim(nll: float, shape) -> float:
    """nats per image -> bits per dimension: nll / (C H W ln 2), ``shape`` = (C, H, W)."""
    return float(nll) / (math.prod(shape) * math.log(2))


class AutoregressiveStep(Step):
    """Mean NLL per image as the loss; the test NLL (nats) and bits/dim in evaluation."""

    monitor = ("val_nll", "min")
    count_figures = ("images",)  # a count, not a mean: a data-parallel evaluation adds the ranks'

    def __init__(self, model, optimizer):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer = model, optimizer

    def train_step(self, batch) -> dict:
        images = _images(batch)
        self.optimizer.zero_grad()
        loss = self.model.nll(images).mean()
        value = self.minimize(loss, self.optimizer)
        return {"loss": value, "bits_per_dim": bits_per_dim(value, images.shape[1:]), "batch_size": len(images)}

    def _evaluate(self, loader) -> dict:
        total, n, seconds, shape = 0.0, 0, 0.0, None
        for batch in loader:
            images = _images(batch)
            start = time.perf_counter()
            total += float(self.model.nll(images).data.astype(np.float64).sum())
            seconds += time.perf_counter() - start
            n, shape = n + len(images), images.shape[1:]
        nll = total / max(n, 1)
        return {"nll": nll, "bits_per_dim": bits_per_dim(nll, shape) if shape else 0.0, "loss": nll,
                "images": n, "images_per_s": n / seconds if seconds > 0 else 0.0}

    def evaluate(self, loader) -> dict:
        """The figures of the module docstring over all of ``loader`` (eval mode, no graph)."""
        return self.run_eval(self._evaluate, loader)
