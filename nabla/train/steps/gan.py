"""The GAN step: two optimizers, discriminator first, then generator (Goodfellow et al. 2014, Algorithm 1 with
k = 1 and the non-saturating generator loss; the PyTorch DCGAN example's loop).  With s the sigmoid, BCE the
binary cross-entropy on logits (mean over the batch), x a real batch and z ~ N(0, I) from the step's own
generator:

    fake   = G(z)                                                  (one generator pass, kept for (b))
    (a) L_D = BCE(D(x), 1) + BCE(D(fake.detach()), 0)              D's grads only -> before_optimizer_step(D)
                                                                   -> d_optimizer.step()
    (b) L_G = BCE(D(fake), 1) = -mean log s(D(G(z)))               (non-saturating), through the updated D;
                                                                   G's grads only -> before_optimizer_step(G)
                                                                   -> g_optimizer.step()

Both models' gradients are cleared before each backward, and in (b) D's parameters are frozen for the
backward (they get no gradient: nothing of pass (b) can reach D's next step, and D's weight gradients,
which nothing would use, are not computed).  Conditional models: the batch's labels go to D with the real
images; the fake images' labels are drawn uniformly from the same generator as z.

Logged per step: ``loss`` = L_D + L_G, ``d_loss``, ``g_loss``, ``d_real`` = mean s(D(x)) and ``d_fake`` =
mean s(D(fake)) (before D's update).  ``evaluate(loader)`` gives the same losses on the loader's real
images (eval mode; the noise from a fixed seed), and with ``fid`` (a callable taking ``eval_samples``
generated images (N, C, H, W) in [0, 1], the same fixed-seed noise at every evaluation, balanced labels
for a conditional model, and returning a dict such as ``{"fid": ..., "coverage": ...}``) its numeric entries.

The checkpoint picks by ``val_fid`` (lower is better) when ``fid`` is given.  Without it there is no
measure of sample quality; the step then monitors ``val_g_loss`` (min): the generator whose samples the
current discriminator rejects least, a weak proxy (the two losses trade off) -- pass ``fid`` for real runs.

Resume is exact: ``state_dict`` holds the model, both optimizers and the noise generator's state.

Data parallelism (the Trainer's strategy has N ranks, each with its shard of B real images): every rank draws
the whole step's N*B noise vectors (and fake labels) from the same generator and keeps its own rows
``[rank*B, (rank+1)*B)``; so the N ranks together see the fakes one process with batch N*B sees, every
rank's noise generator stays in the same state (the checkpoint is rank 0's), and because both losses are
means over the batch, the averaged gradients equal that process's.  ``evaluate(loader, whole=False)`` leaves
out the sample figures (``fid``): they are not means over the loader's images, so the strategy computes them
once, on rank 0 (``whole_figures``), and broadcasts them.  The validation losses' fake side draws its
fixed-seed noise per shard: its figures are the same estimate as one process's, not the same numbers.
"""
from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor
from ...nn import functional as F
from .base import Step


def _split(batch):
    """``(images, labels or None)`` from an ``(images, labels)`` pair or a bare image batch."""
    if isinstance(batch, (tuple, list)):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _images(x, model) -> Tensor:
    """A batch of images as a tensor in the model's dtype."""
    return model.as_tensor(x)


def _labels(y):
    return None if y is None else np.asarray(y.data if isinstance(y, Tensor) else y, dtype=np.int64)


def _bce(logits, target: float):
    """Mean binary cross-entropy of ``logits`` (N,) against the constant ``target`` (1 real, 0 fake)."""
    return F.binary_cross_entropy_with_logits(logits, np.full(logits.shape, target, dtype=logits.dtype))


def _mean_prob(logits) -> float:
    """Mean s(logits), computed stably."""
    x = logits.data.astype(np.float64)
    return float(np.mean(np.exp(-np.logaddexp(0.0, -x))))


class GANStep(Step):
    """Discriminator step then generator step per batch; see the module docstring."""

    def __init__(self, model, d_optimizer, g_optimizer, fid=None, eval_samples: int = 2000, seed: int = 0):
        super().__init__({"model": model}, {"discriminator": d_optimizer, "generator": g_optimizer})
        self.model, self.d_optimizer, self.g_optimizer = model, d_optimizer, g_optimizer
        self.fid, self.eval_samples, self.seed = fid, int(eval_samples), int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.monitor = ("val_fid", "min") if fid is not None else ("val_g_loss", "min")

    def optimizers(self) -> list:
        """Both, discriminator first (the Trainer's schedulers and learning-rate log drive each)."""
        return [o for o in (self.d_optimizer, self.g_optimizer) if o is not None]

    # ------------------------------------------------------------------ training
    def _fake_labels(self, n: int, rng):
        return rng.integers(0, self.model.num_classes, n) if self.model.conditional else None

    def _draw(self, n: int) -> tuple:
        """This rank's ``(z, fake labels)`` for a batch of ``n``: rows ``[rank*n, (rank+1)*n)`` of the whole
        step's ``N*n`` draws (one process: all ``n``), so every rank's generator advances alike."""
        strategy = getattr(self.trainer, "strategy", None)
        rank, size = (strategy.rank, strategy.world_size) if strategy is not None else (0, 1)
        z, fake_y = self.model.noise(n * size, self.rng), self._fake_labels(n * size, self.rng)
        rows = slice(rank * n, (rank + 1) * n)
        return z[rows], None if fake_y is None else fake_y[rows]

    def _check(self, value: float) -> float:
        if self.trainer is not None:
            self.trainer.check_finite(value)
        return value

    def train_step(self, batch) -> dict:
        images, labels = _split(batch)
        x, y = _images(images, self.model), _labels(labels) if self.model.conditional else None
        n = x.shape[0]
        gen, disc = self.model.generator, self.model.discriminator
        z, fake_y = self._draw(n)
        fake = self.model.generate(z, fake_y)

        # (a) the discriminator: real -> 1, generated (detached: no gradient into G) -> 0
        gen.zero_grad()
        disc.zero_grad()
        real_logits = self.model.discriminate(x, y)
        fake_logits = self.model.discriminate(fake.detach(), fake_y)
        d_loss = _bce(real_logits, 1.0) + _bce(fake_logits, 0.0)
        d_value = self._check(float(d_loss.item()))
        d_loss.backward()
        self.optimizer_step(self.d_optimizer, list(disc.parameters()))

        # (b) the generator, non-saturating: G's samples -> 1 through the updated D, whose parameters are frozen
        gen.zero_grad()
        disc.zero_grad()
        frozen = [(p, p.requires_grad) for p in disc.parameters()]
        try:
            for p, _ in frozen:
                p.requires_grad_(False)
            g_loss = _bce(self.model.discriminate(fake, fake_y), 1.0)
            g_value = self._check(float(g_loss.item()))
            g_loss.backward()
        finally:
            for p, flag in frozen:
                p.requires_grad_(flag)
        self.optimizer_step(self.g_optimizer, list(gen.parameters()))
        return {"loss": d_value + g_value, "d_loss": d_value, "g_loss": g_value,
                "d_real": _mean_prob(real_logits), "d_fake": _mean_prob(fake_logits), "batch_size": n}

    # ------------------------------------------------------------------ evaluation
    def eval_labels(self, n: int):
        """Balanced labels 0, 1, ..., K-1, 0, ... for a conditional model's evaluation samples (else None)."""
        return np.arange(n) % self.model.num_classes if self.model.conditional else None

    def _losses(self, loader) -> dict:
        rng = np.random.default_rng((self.seed, 1))   # the same noise at every evaluation
        sums, total = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}, 0
        for batch in loader:
            images, labels = _split(batch)
            x, y = _images(images, self.model), _labels(labels) if self.model.conditional else None
            n = x.shape[0]
            fake_y = self._fake_labels(n, rng)
            real_logits = self.model.discriminate(x, y)
            fake_logits = self.model.discriminate(self.model.generate(self.model.noise(n, rng), fake_y), fake_y)
            parts = {"d_loss": float((_bce(real_logits, 1.0) + _bce(fake_logits, 0.0)).item()),
                     "g_loss": float(_bce(fake_logits, 1.0).item()),
                     "d_real": _mean_prob(real_logits), "d_fake": _mean_prob(fake_logits)}
            for k, v in parts.items():
                sums[k] += v * n
            total += n
        if not total:
            return {}
        result = {k: v / total for k, v in sums.items()}
        result["loss"] = result["d_loss"] + result["g_loss"]
        return result

    def generate_eval_samples(self) -> np.ndarray:
        """The ``eval_samples`` images (N, C, H, W) in [0, 1] that ``fid`` scores: fixed noise (seed, 2)."""
        n = self.eval_samples
        return self.model.sample(n, labels=self.eval_labels(n), generator=np.random.default_rng((self.seed, 2)))

    def whole_figures(self) -> dict:
        """``fid``'s numeric figures of the fixed-seed evaluation samples ({} without ``fid``): not means over a
        loader's images, so a data-parallel evaluation computes them on one rank."""
        if self.fid is None:
            return {}
        scores = self.fid(self.generate_eval_samples())
        return {k: float(v) for k, v in scores.items()
                if isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)}

    def evaluate(self, loader, whole: bool = True) -> dict:
        """The mean losses and D's mean probabilities on ``loader`` (None: none), plus (``whole``) ``fid``'s
        numbers."""
        result = self.run_eval(self._losses, loader) if loader is not None else {}
        if whole:
            result.update(self.whole_figures())
        return result

    # ------------------------------------------------------------------ state
    def _named_optimizers(self) -> dict:
        return {k: o for k, o in (("discriminator", self.d_optimizer), ("generator", self.g_optimizer))
                if o is not None}

    def state_dict(self) -> dict:
        """``{"model", "optimizers": {"discriminator", "generator"}, "noise_rng"}`` (an evaluation-only step,
        built with no optimizers, has none to save)."""
        return {"model": self.model.state_dict(),
                "optimizers": {k: o.state_dict() for k, o in self._named_optimizers().items()},
                "noise_rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        for k, o in self._named_optimizers().items():
            o.load_state_dict(state["optimizers"][k])
        if "noise_rng" in state:
            self.rng.bit_generator.state = state["noise_rng"]
