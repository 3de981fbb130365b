"""The variational autoencoder's step: minimise the negative evidence lower bound, averaged over the images

    loss = 1/N sum_n (rec_n + kl_n),   rec_n = -log p(x_n | z_n), z_n ~ q(z | x_n),   kl_n = KL(q(z|x_n) || N(0, I))

(``nabla.models.vae.elbo_terms``: one reparameterised sample per image, the KL in closed form) -> backward ->
``before_optimizer_step`` -> step().  Evaluation reports, in nats per image over the whole loader,

    neg_elbo   rec + kl (also ``loss``), the figure that picks the best checkpoint (lowest)
    rec, kl    its two terms

drawing the evaluation's z from its own generator (seed ``eval_seed``), so that the figure is repeatable
and evaluating never moves the training run's random stream.  Batches are ``(images, labels)`` pairs
(the labels are ignored) of images in [0, 1]; the importance-weighted NLL (``iwae_nll``) is the task's.
"""
from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ...models.vae import elbo_terms
from .base import Step


def _images(batch) -> Tensor:
    x = batch[0] if isinstance(batch, (tuple, list)) else batch
    x = x if isinstance(x, Tensor) else from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    low, high = float(x.data.min(initial=0.0)), float(x.data.max(initial=1.0))
    if low < 0.0 or high > 1.0:
        raise ValueError(f"VAEStep: images must lie in [0, 1] (a Bernoulli decoder), got values in [{low:g}, "
                         f"{high:g}]; is a [-1, 1] normalisation applied?")
    return x


class VAEStep(Step):
    """-ELBO per image, one sample of z per image; see the module docstring."""

    monitor = ("val_neg_elbo", "min")
    count_figures = ("images",)  # a count, not a mean: a data-parallel evaluation adds the ranks' (DDPStrategy)

    def __init__(self, model, optimizer, eval_seed: int = 0):
        super().__init__({"model": model}, {"optimizer": optimizer} if optimizer is not None else {})
        self.model, self.optimizer, self.eval_seed = model, optimizer, int(eval_seed)

    def train_step(self, batch) -> dict:
        images = _images(batch)
        self.optimizer.zero_grad()
        rec, kl = elbo_terms(self.model, images)
        loss = (rec + kl).mean()
        return {"loss": self.minimize(loss, self.optimizer), "rec": float(rec.data.mean()),
                "kl": float(kl.data.mean()), "batch_size": len(images)}

    def _evaluate(self, loader) -> dict:
        generator = np.random.default_rng(self.eval_seed)
        rec_sum = kl_sum = 0.0
        n = 0
        for batch in loader:
            images = _images(batch)
            rec, kl = elbo_terms(self.model, images, generator=generator)
            rec_sum += float(rec.data.sum(dtype=np.float64))
            kl_sum += float(kl.data.sum(dtype=np.float64))
            n += len(images)
        rec, kl = rec_sum / max(n, 1), kl_sum / max(n, 1)
        return {"neg_elbo": rec + kl, "rec": rec, "kl": kl, "loss": rec + kl, "images": n}

    def evaluate(self, loader) -> dict:
        """The figures of the module docstring over all of ``loader`` (eval mode, no graph)."""
        return self.run_eval(self._evaluate, loader)
