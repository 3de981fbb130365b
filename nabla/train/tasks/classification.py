"""Image classification and regression on ``(x, y)`` data sets: standardised inputs, a validation tenth
held out of the training split, optional shifted crops (and mirror images where the data set's labels
survive them), the test split scored at the end."""
from __future__ import annotations

import copy

import numpy as np

from ...data import DataLoader, Subset, random_split
from ...data.datasets import get_dataset
from ...data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip
from ..steps import ClassificationStep, RegressionStep
from .base import RunData, Task, register_task

VAL_FRACTION = 0.1
EVAL_BATCH = 1000
MAX_PRINTED_PARAMETERS = 10  # a regression model with no more numbers than this has them printed after training


def standardizer(train) -> tuple:
    """Mean and std of the training pixels (in [0, 1]) for input standardisation."""
    images = train.data.data
    scale = 1.0 / train.max_value
    return float(images.mean(dtype=np.float64) * scale), float(images.std(dtype=np.float64) * scale)


def _normalization(entry, train) -> tuple:
    if entry.normalize is not None:  # the model's own (a GAN's [-1, 1])
        return tuple(entry.normalize)
    if getattr(train, "normalize", None) == "standardize":
        return standardizer(train)
    return 0.0, 1.0


def _apply(dataset, normalize) -> None:
    if tuple(normalize) != (0.0, 1.0):
        dataset.transform = Normalize([normalize[0]], [normalize[1]])


def _augmented(train, fit_set):
    """The training part with a random shift by up to 2 pixels, and a mirror image unless it changes labels."""
    if len(getattr(train, "image_shape", ())) != 2:
        raise ValueError(f"--augment needs an image data set, got {type(train).__name__}")
    shifted = copy.copy(train)
    flip = [RandomHorizontalFlip()] if getattr(train, "mirror_preserves_labels", False) else []
    shifted.transform = Compose([RandomCrop(train.image_shape, padding=2)] + flip
                                + ([train.transform] if train.transform else []))
    return Subset(shifted, fit_set.indices)


class ClassificationTask(Task):
    name = "classification"
    step_class = ClassificationStep
    data_parallel = True  # (x, y) batches, loss and accuracy (or MSE) are means over samples

    def load(self, dataset, settings, download, config=None):
        train = get_dataset(dataset, train=True, download=download)
        test = get_dataset(dataset, train=False, download=download)
        normalize = tuple(config["normalize"]) if config and "normalize" in config else None
        return RunData(train=train, val=None, in_shape=(1,) + tuple(train.image_shape),
                       num_classes=len(train.classes), config={"normalize": list(normalize or ())},
                       extra={"test": test})

    def make_step(self, entry, model, optimizer, data, settings):
        train, test = data.train, data.extra["test"]
        normalize = tuple(data.config["normalize"]) or _normalization(entry, train)
        data.config["normalize"] = list(normalize)
        _apply(train, normalize)
        _apply(test, normalize)
        n_val = max(1, int(round(len(train) * VAL_FRACTION)))
        fit_set, val_set = random_split(train, [len(train) - n_val, n_val], generator=settings["seed"])
        if settings["augment"]:
            fit_set = _augmented(train, fit_set)
        loader = DataLoader(fit_set, batch_size=settings["batch_size"], shuffle=True, seed=settings["seed"])
        data.sizes = f"{len(fit_set):,} train / {len(val_set):,} validation / {len(test):,} test"
        step = self.step_class(model, optimizer, loss_fn=entry.training_loss(self.step_class.default_loss()))
        return step, loader, DataLoader(val_set, batch_size=EVAL_BATCH)

    def final_report(self, trainer, data, settings, run, echo):
        result = trainer.evaluate(DataLoader(data.extra["test"], batch_size=EVAL_BATCH))
        echo(f"test accuracy (last weights): {result['accuracy'] * 100:.2f}%  (test loss {result['loss']:.4f}, "
             f"training time {run['elapsed']:.1f} s)")
        return result

    def evaluate(self, model, config, options, echo):
        test = get_dataset(options["dataset"], train=False, download=options["download"])
        shape, trained = (1,) + tuple(getattr(test, "image_shape", ())), tuple(config.get("in_shape") or ())
        if trained and shape != trained:  # else a shape error deep inside the model
            raise ValueError(f"{config['model']} from {options['checkpoint']} takes {'x'.join(map(str, trained))} "
                             f"inputs ({config.get('dataset')}); {options['dataset']} has "
                             f"{'x'.join(map(str, shape))}: evaluate it on a data set of the same shape")
        _apply(test, config.get("normalize") or (0.0, 1.0))
        step = self.step_class(model, None)
        result = step.evaluate(DataLoader(test, batch_size=EVAL_BATCH))
        echo(f"{config['model']} from {options['checkpoint']} (epoch {options['epoch']}) on {options['dataset']} "
             f"test ({len(test):,} samples): {self.score(result)}")
        return result

    @staticmethod
    def score(result) -> str:
        return f"accuracy {result['accuracy'] * 100:.2f}%, loss {result['loss']:.4f}"


class RegressionTask(ClassificationTask):
    name = "regression"
    step_class = RegressionStep

    def final_report(self, trainer, data, settings, run, echo):
        result = trainer.evaluate(DataLoader(data.extra["test"], batch_size=EVAL_BATCH))
        echo(f"test MSE (last weights): {result['loss']:.4f}  (training time {run['elapsed']:.1f} s)")
        state = trainer.model.state_dict()
        if sum(t.data.size for t in state.values()) <= MAX_PRINTED_PARAMETERS:  # a line's w and b, not an MLP's
            weights = {k: [round(float(v), 4) for v in t.data.ravel()] for k, t in state.items()}
            echo(f"learned parameters: {weights}")
        return result

    @staticmethod
    def score(result) -> str:
        return f"MSE {result['loss']:.4f}"


register_task(ClassificationTask())
register_task(RegressionTask())
