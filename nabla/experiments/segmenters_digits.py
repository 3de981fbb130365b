"""The ``segmenters`` experiment's baseline: a digit classifier (the registry's ``lenet5``) trained on the same
numbers of MNIST digits as the segmenters see scenes, its test accuracy read at the same points, and its cost
per image (training and inference images/s, measured as the segmenters' are).

``CurveRecorder`` reads a score at chosen steps of a Trainer run and keeps the time it takes apart, so the
training images/s of both sides leaves the evaluations out.
"""
from __future__ import annotations

import time

import nabla as nb
from ..data import DataLoader
from ..models.registry import build_model, get_model_entry
from ..train import Callback, ClassificationStep, Trainer
from ..train.settings import make_optimizer, resolve
from .common import evaluate, load_images

__all__ = ["CurveRecorder", "digit_classifier_curve"]

CLASSIFIER = "lenet5"
N_TEST_DIGITS, QUICK_N_TEST_DIGITS = 1000, 200


class CurveRecorder(Callback):
    """Calls ``score()`` after each step of ``at``: ``[training images, score]`` rows in ``points``; the time
    it takes is summed in ``seconds``."""

    def __init__(self, at, batch: int, score):
        self.at, self.batch, self.score = set(at), batch, score
        self.points, self.seconds = [], 0.0

    def on_batch_end(self, trainer, batch, loss):
        if trainer.global_step in self.at:
            start = time.perf_counter()
            self.points.append([trainer.global_step * self.batch, float(self.score())])
            self.seconds += time.perf_counter() - start


def digit_classifier_curve(image_counts, batch: int, quick: bool, download: bool, echo) -> dict:
    """``{"curve": [[images, test accuracy], ...], "training images/s", "inference images/s", "parameters",
    "model"}`` of the classifier trained on up to ``max(image_counts)`` MNIST digits, batch ``batch``."""
    n_test = QUICK_N_TEST_DIGITS if quick else N_TEST_DIGITS
    train, test = load_images("mnist", n_train=int(max(image_counts)), n_test=n_test, download=download)
    settings = dict(resolve("classification", get_model_entry(CLASSIFIER).training))
    nb.manual_seed(0)
    model = build_model(CLASSIFIER, (1, 28, 28), 10)
    step = ClassificationStep(model, make_optimizer(settings, model.parameters()))
    curve = CurveRecorder([n // batch for n in image_counts], batch, lambda: evaluate(model, test)["accuracy"])
    trainer = Trainer(step, callbacks=[curve], progress=False)
    start = time.perf_counter()
    trainer.fit(DataLoader(train, batch_size=batch, shuffle=True, seed=0), max_steps=max(image_counts) // batch)
    train_time = time.perf_counter() - start - curve.seconds
    start = time.perf_counter()
    accuracy = evaluate(model, test, batch_size=50)["accuracy"]
    infer = len(test) / max(time.perf_counter() - start, 1e-9)
    images = trainer.global_step * batch
    echo(f"segmenters: digit classifier ({CLASSIFIER}): {images:,} training digits in {train_time:.1f} s; test "
         f"accuracy {accuracy:.3f}, {infer:.0f} images/s")
    return {"model": CLASSIFIER, "curve": curve.points, "training images/s": images / max(train_time, 1e-9),
            "inference images/s": infer, "parameters": model.num_parameters(), "accuracy": float(accuracy),
            "test digits": len(test)}
