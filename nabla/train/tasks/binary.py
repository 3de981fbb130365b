"""Binary classification: one logit per image, ``BCEWithLogitsLoss``, on a data set with the fact ``binary``.

The image classifiers (``mlp``, ``lenet5``, ``resnet20``... whose registry entries say "classification") train
here when the data set is binary (``mnist-odd-even``): the task lists "classification" in ``model_tasks``, and
the run layer picks it for a classifier on a data set whose ``tasks`` say "binary" (``tasks.base.task_for``).
The model is built with one output (``num_classes = 1``); the rest -- standardised inputs, a validation tenth,
shifted crops -- is image classification's.  The test figures are set against the best constant prediction
(the majority class; the labels' entropy as log loss; AUC 1/2), so that a model is seen to read the images.

Data-parallel (``mpiexec -n N nabla train``): each rank trains on its ``DistributedSampler`` shard, as image
classification; validation and the final test evaluation are sharded, and since ROC AUC and F1 are not means
over samples, the ranks' logits and targets are put together and every figure computed from the whole split
(``BinaryStep.evaluate_sums``): the printed test figures are one process's, and rank 0 alone prints and writes.
"""
from __future__ import annotations

from ...data import DataLoader
from ..binary_metrics import constant_baseline
from ..steps.binary import BinaryStep
from .base import register_task
from .classification import EVAL_BATCH, ClassificationTask


def with_baseline(result: dict) -> dict:
    """The figures with the best constant prediction's beside them (``baseline_accuracy``, ``baseline_loss``...)."""
    return {**result, **{f"baseline_{k}": v for k, v in constant_baseline(result["positives"]).items()}}


class BinaryTask(ClassificationTask):
    name = "binary"
    model_tasks = ("classification",)
    step_class = BinaryStep
    data_parallel = True  # figures from the whole split's logits, gathered from the ranks (BinaryStep.evaluate_sums)

    def load(self, dataset, settings, download, config=None):
        data = super().load(dataset, settings, download, config)
        if not getattr(data.train, "binary", False) or len(data.train.classes) != 2:
            raise ValueError(f"the binary task needs a data set of two classes with the fact binary = True; "
                             f"{dataset} has {len(data.train.classes)} classes")
        data.num_classes = 1  # one logit: p(positive class) = sigmoid(z)
        data.config["classes"] = list(data.train.classes)
        return data

    def final_report(self, trainer, data, settings, run, echo):
        result = with_baseline(trainer.evaluate(DataLoader(data.extra["test"], batch_size=EVAL_BATCH)))
        echo(f"test (last weights): {self.score(result)}  (training time {run['elapsed']:.1f} s)")
        return result

    def evaluate(self, model, config, options, echo):
        return with_baseline(super().evaluate(model, config, options, echo))

    @staticmethod
    def score(result) -> str:
        base = constant_baseline(result["positives"])
        return (f"accuracy {result['accuracy'] * 100:.2f}%, ROC AUC {result['auc']:.4f}, log loss "
                f"{result['loss']:.4f}, precision {result['precision']:.4f}, recall {result['recall']:.4f}, "
                f"F1 {result['f1']:.4f}; best constant prediction (positives {result['positives'] * 100:.1f}%): "
                f"accuracy {base['accuracy'] * 100:.2f}%, ROC AUC 0.5, log loss {base['loss']:.4f}")


register_task(BinaryTask())
