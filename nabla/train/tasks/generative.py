"""Generative models: the VAE, the GANs and PixelCNN learn the distribution of a set of images and draw new ones.

Three tasks, one per family (a registry entry's ``task``): ``"vae"`` (``VAEStep``: reconstruction + KL),
``"gan"`` (``GANStep``: discriminator, then generator, two optimizers) and ``"autoregressive"``
(``AutoregressiveStep``: exact NLL).  They share the data and the report:

* Data: the image set's training split less a held-out tenth (validation, picks the best checkpoint), the test
  split scored once at the end.  ``binarized-mnist`` redraws its training bits each epoch (the loader passes the
  epoch on); the GANs see [-1, 1] (their entry's ``normalize``), the others [0, 1].
* The last line of ``nabla train`` and ``nabla eval``:

      vae             neg_elbo=... rec=... kl=... iwae_nll=... fid=... coverage=... inception_score=...
      gan             fid=... fid_floor=... coverage=... class_kl=... inception_score=...
      autoregressive  nll=... bits_per_dim=...

  (nats per image; ``iwae_nll`` the importance-weighted bound with ``k`` samples on a stated number of test
  images; FID from the shipped reference classifier between 10,000 samples and the 10,000 test images, and
  ``fid_floor`` that of 10,000 real training images: the best a model can hope for with this extractor).
* ``nabla train`` also writes ``samples.png`` (64 samples) into the run folder; ``nabla sample CKPT`` draws a
  grid, a class (``--label``), a latent walk (``--interpolate``, VAE) or completions of a half image
  (``--inpaint``) -- ``nabla.train.generative_sampling``.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod

import numpy as np

from ...data import DataLoader, Subset, random_split
from ...data.datasets import get_dataset, get_dataset_class
from ...data.transforms import Normalize
from .. import settings as S
from ..steps.autoregressive import AutoregressiveStep
from ..steps.gan import GANStep
from ..steps.vae import VAEStep
from .base import RunData, Task, register_task

VAL_FRACTION = 0.1
EVAL_BATCH = 500
SCORED_SAMPLES = 10_000    # samples scored by FID at the end (as the test set's size)
VAL_SAMPLES = 2_000        # samples scored by FID at each validation
GRID_SAMPLES = 64          # samples.png in the run folder
IWAE_K, IWAE_IMAGES = 1000, 1000


class EpochLoader:
    """A DataLoader that passes the epoch on to a data set that redraws its samples each epoch (binarized
    MNIST: fresh Bernoulli bits) and to the loader's sampler where it has ``set_epoch`` (a data-parallel
    run's ``DistributedSampler``: ``nabla.distributed.strategy.distribute`` swaps ``.loader``); the rest is
    the loader's."""

    def __init__(self, loader: DataLoader, dataset):
        self.loader, self.dataset = loader, dataset

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        if hasattr(getattr(self.loader, "sampler", None), "set_epoch"):
            self.loader.sampler.set_epoch(epoch)

    def __iter__(self):
        return iter(self.loader)

    def __len__(self) -> int:
        return len(self.loader)

    def state_dict(self) -> dict:
        return self.loader.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.loader.load_state_dict(state)


def load_images(name: str, train: bool, download: bool, seed: int = 0):
    """A split of image set ``name``; a set that binarizes draws its training bits from ``seed``."""
    cls = get_dataset_class(name)
    kwargs = {"seed": seed} if getattr(cls, "binarized", False) and train else {}
    return get_dataset(name, train=train, download=download, **kwargs)


def _normalize(dataset, normalize) -> None:
    if tuple(normalize) != (0.0, 1.0):
        dataset.transform = Normalize([normalize[0]], [normalize[1]])


def scores_for(dataset: str, download: bool = True):
    """The classifier scores (FID, coverage, inception score) against the test images of ``dataset``."""
    from ...metrics.generative import GenerativeScores
    return GenerativeScores(dataset, download=download)


def sample_images(model, n: int, seed: int = 0, labels=None, batch: int = 1000) -> np.ndarray:
    """``n`` samples in [0, 1] (N, C, H, W), in batches, from one seeded generator; a conditional model gets
    the classes in turn (0, 1, ..., 9, 0, ...) unless ``labels`` are given."""
    rng = np.random.default_rng(seed)
    if labels is None and getattr(model, "conditional", False):
        labels = np.arange(n) % model.num_classes
    parts = []
    for start in range(0, n, batch):
        part_labels = None if labels is None else np.asarray(labels)[start:start + batch]
        parts.append(model.sample(min(batch, n - start), labels=part_labels, generator=rng))
    return np.concatenate(parts)


def first(dataset, limit):
    """The first ``limit`` images of ``dataset`` (``--eval-limit``), or all of it."""
    return dataset if not limit or limit >= len(dataset) else Subset(dataset, np.arange(int(limit)))


def figures_line(result: dict) -> str:
    """The last line: ``name=value`` for each figure the family reports, in a fixed order."""
    order = ("neg_elbo", "rec", "kl", "iwae_nll", "nll", "bits_per_dim", "fid", "fid_floor", "coverage",
             "class_kl", "inception_score")
    parts = []
    for k in order:
        if k in result:
            v = result[k]
            parts.append(f"{k}={v}" if isinstance(v, (int, np.integer)) else f"{k}={v:.4f}")
    return " ".join(parts)


class GenerativeTask(Task, ABC):
    """What the three families share; a subclass names the step and the figures of the report."""

    def load(self, dataset, settings, download, config=None):
        train = load_images(dataset, True, download, settings["seed"])
        test = load_images(dataset, False, download)
        if len(getattr(train, "image_shape", ())) != 2:
            raise ValueError(f"{dataset} is not an image data set; generative models train on images "
                             "(mnist, binarized-mnist, fashion-mnist, ...)")
        return RunData(train=train, val=None, in_shape=(1,) + tuple(train.image_shape),
                       num_classes=len(train.classes),
                       config={"classes": [str(c) for c in train.classes],
                               "binarized": bool(getattr(train, "binarized", False))},
                       extra={"test": test})

    def make_step(self, entry, model, optimizer, data, settings):
        train, test = data.train, data.extra["test"]
        normalize = tuple(entry.normalize) if entry.normalize is not None else (0.0, 1.0)
        data.config["normalize"] = list(normalize)
        _normalize(train, normalize)
        _normalize(test, normalize)
        n_val = max(1, int(round(len(train) * VAL_FRACTION)))
        fit_set, val_set = random_split(train, [len(train) - n_val, n_val], generator=settings["seed"])
        loader = EpochLoader(DataLoader(fit_set, batch_size=settings["batch_size"], shuffle=True,
                                        seed=settings["seed"]), train)
        redraw = " (binarized afresh each epoch)" if data.config["binarized"] else ""
        data.sizes = f"{len(fit_set):,} train{redraw} / {len(val_set):,} validation / {len(test):,} test"
        data.extra["val_set"] = val_set
        step = self.step_for(model, optimizer, data, settings)
        return step, loader, DataLoader(val_set, batch_size=EVAL_BATCH)

    @abstractmethod
    def step_for(self, model, optimizer, data, settings):
        """The family's step; ``optimizer``, ``data`` and ``settings`` are None for ``nabla eval``."""

    def final_report(self, trainer, data, settings, run, echo):
        """The test figures; in a data-parallel run, rank 0's (the figures of samples against a whole image set
        do not split over ranks, and the weights are the same on every rank) broadcast to the others."""
        return trainer.strategy.on_global_zero(lambda: self._final_report(trainer, data, run, echo))

    def _final_report(self, trainer, data, run, echo):
        test = data.extra["test"]
        echo(f"test set: {len(first(test, run.get('eval_limit'))):,} images of {run['dataset']} (last weights; "
             f"training time {run['elapsed']:.1f} s)")
        result = self.report(trainer.step, trainer.model, test, run["dataset"], run, echo)
        if run.get("folder"):
            self.write_grid(trainer.model, os.path.join(run["folder"], "samples.png"), echo)
        return result

    def evaluate(self, model, config, options, echo):
        test = load_images(options["dataset"], False, options["download"])
        trained = tuple(config.get("in_shape") or ())
        shape = (1,) + tuple(getattr(test, "image_shape", ()))
        if trained and shape != trained:
            raise ValueError(f"{config['model']} from {options['checkpoint']} takes {'x'.join(map(str, trained))} "
                             f"images ({config.get('dataset')}); {options['dataset']} has "
                             f"{'x'.join(map(str, shape))}")
        _normalize(test, config.get("normalize") or (0.0, 1.0))
        echo(f"{config['model']} from {options['checkpoint']} (epoch {options['epoch']}) on {options['dataset']} "
             f"test ({len(test):,} images)")
        step = self.step_for(model, None, None, None)
        return self.report(step, model, test, options["dataset"], options, echo)

    @abstractmethod
    def report(self, step, model, test, dataset, options, echo) -> dict:
        """The family's figures on the test split (echoed, the last line ``figures_line``) as a dict."""

    @staticmethod
    def sample_scores(model, dataset: str, with_floor: bool, echo, download: bool = True, n: int | None = None) -> dict:
        """FID, coverage, class KL and inception score of ``n`` (default ``SCORED_SAMPLES``) samples, and the
        real floor (as many training images)."""
        scores = scores_for(dataset, download)
        n = int(n or SCORED_SAMPLES)
        result = scores.score(sample_images(model, n, seed=0))
        result["scored_samples"] = n
        if with_floor:
            result["fid_floor"] = scores.floor(n=n)
        shares = result.pop("shares", None)
        if shares is not None:
            echo("sample share per class: " + " ".join(f"{k}:{s:.3f}" for k, s in enumerate(shares)))
        return result

    def write_grid(self, model, path, echo) -> None:
        from ...vision.utils import save_image
        try:
            save_image(sample_images(model, GRID_SAMPLES, seed=0), path, nrow=8)
            echo(f"samples: {path}")
        except ImportError as e:   # no Pillow: the figures stand, the picture is skipped
            echo(f"samples not drawn: {e}")

    def sample(self, model, config, options, echo):
        from ..generative_sampling import sample_command
        return sample_command(model, config, options, echo)


class VAETask(GenerativeTask):
    """Data parallel: each rank trains on its shard (the reparameterisation noise comes from nabla's global
    generator, seeded alike on every rank, as dropout's); the validation -ELBO is sharded and combined (each
    shard draws its own fixed-seed z: the same estimate as one process's, not the same number); the final
    report is rank 0's."""

    name = "vae"
    data_parallel = True

    def step_for(self, model, optimizer, data, settings):
        return VAEStep(model, optimizer)

    def report(self, step, model, test, dataset, options, echo):
        from ...models.vae import iwae_nll
        test = first(test, options.get("eval_limit"))
        result = step.evaluate(DataLoader(test, batch_size=EVAL_BATCH))
        k, n = int(options.get("iwae_k") or IWAE_K), min(IWAE_IMAGES, len(test))
        images = test.get_batch(np.arange(n))
        bound = step.run_eval(lambda: iwae_nll(model, images[0], k=k, generator=np.random.default_rng(0)))
        same = step.evaluate([images])["neg_elbo"]
        result.update(iwae_nll=float(np.mean(bound)), iwae_k=k, iwae_images=n)
        echo(f"test -ELBO {result['neg_elbo']:.2f} nats (reconstruction {result['rec']:.2f} + KL {result['kl']:.2f}) "
             f"on {len(test):,} images; IWAE NLL estimate {result['iwae_nll']:.2f} nats (k={k}) on the first {n:,} "
             f"(their -ELBO: {same:.2f})")
        result.update(step.run_eval(self.sample_scores, model, dataset, False, echo, options.get("download", True),
                                    options.get("eval_limit")))
        echo(figures_line(result))
        return result


class GANTask(GenerativeTask):
    """Data parallel: each rank trains on its shard and draws its rows of the step's noise (``GANStep``); the
    validation losses are sharded and combined, the validation FID and the final report's sample figures are
    computed on rank 0 alone (samples against whole image sets: they do not split) and broadcast."""

    name = "gan"
    data_parallel = True

    def step_for(self, model, optimizer, data, settings):
        if settings is None:   # nabla eval: the figures need no optimizers
            return GANStep(model, None, None)
        if settings["scheduler"] not in ("none", "warmup-cosine"):
            raise ValueError(f"--scheduler {settings['scheduler']}: a GAN trains two optimizers; use 'none' (a "
                             "constant rate, DCGAN's) or 'warmup-cosine' (it follows both)")
        d_opt = S.make_optimizer(settings, model.discriminator.parameters())
        g_opt = S.make_optimizer(settings, model.generator.parameters())
        return GANStep(model, d_opt, g_opt, fid=ValidationFID(data.extra["val_set"]), seed=settings["seed"],
                       eval_samples=VAL_SAMPLES)

    def report(self, step, model, test, dataset, options, echo):
        result = step.run_eval(self.sample_scores, model, dataset, True, echo, options.get("download", True),
                               options.get("eval_limit"))
        echo(f"classifier FID {result['fid']:.2f} of {result['scored_samples']:,} samples against the {len(test):,} "
             f"test images (real-versus-real floor {result['fid_floor']:.2f}); {result['coverage']} of "
             f"{model.num_classes} classes hold at least 5% of the samples")
        echo(figures_line(result))
        return result


class ValidationFID:
    """FID of samples against the held-out validation images (a tenth of the training split), for picking the
    best checkpoint without looking at the test set; the real features are computed once."""

    def __init__(self, val_set):
        self.val_set, self._scores = val_set, None

    def __call__(self, samples01) -> dict:
        from ...metrics.generative import GenerativeScores
        if self._scores is None:
            real = self.val_set.get_batch(np.arange(len(self.val_set)))[0]
            norm = getattr(self.val_set.dataset, "transform", None)
            if isinstance(norm, Normalize):   # back to [0, 1]: the classifier's input
                real = real * norm.std[0] + norm.mean[0]
            self._scores = GenerativeScores(self.val_set.dataset.name, real01=real)
        result = self._scores.score(samples01)
        result.pop("shares", None)
        return result


class AutoregressiveTask(GenerativeTask):
    """Data parallel: each rank trains on its shard of the training images (a binarized set redraws the same
    bits on every rank: the epoch and the seed are the same); the validation NLL is sharded and its ranks'
    means combined weighted by their image counts (``AutoregressiveStep.count_figures``): one process's mean
    NLL and bits/dim; the final report -- test NLL and ``samples.png`` -- is rank 0's, broadcast."""

    name = "autoregressive"
    data_parallel = True

    def step_for(self, model, optimizer, data, settings):
        return AutoregressiveStep(model, optimizer)

    def report(self, step, model, test, dataset, options, echo):
        test = first(test, options.get("eval_limit"))
        result = step.evaluate(DataLoader(test, batch_size=EVAL_BATCH))
        echo(f"test NLL {result['nll']:.2f} nats per image, {result['bits_per_dim']:.4f} bits per dimension "
             f"(exact, {len(test):,} images)")
        echo(figures_line(result))
        return result


register_task(VAETask())
register_task(GANTask())
register_task(AutoregressiveTask())

