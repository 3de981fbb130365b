"""Object detection: scenes (or a COCO-format set) in, boxes out, scored by mean average precision.

Data: the data set's ``train`` split is the training set (a scene generator draws fresh scenes each epoch;
``--train-scenes N`` fixes the first N, as R-CNN's cached proposals need), ``valid`` picks the best checkpoint,
``test`` is scored once at the end.  Images stay in [0, 1] (the detectors normalise with batch norm);
``--augment`` shifts each training image by up to 4 pixels with its boxes (no mirroring: digits are not
mirror-symmetric).

The last line of ``nabla train`` and ``nabla eval`` on a detector is ``map=... map_50=... map_75=...`` (the
names of ``nabla.train.steps.detection.REPORTED``); the run's JSON keeps the same figures and the AP of
each class.

Data-parallel (``mpiexec -n N nabla train``): each rank trains on its share of every epoch's scenes
(``SceneBatches.shard``), with its own draws of the sampled anchors and proposals; validation is sharded and
mAP computed once from every rank's detections (``DetectionStep.evaluate_sums``), so the printed figures are
one process's.  The test report goes through the same ``trainer.evaluate`` (rank 0's batch-norm statistics,
the checkpoint's, broadcast first), its proposals riding in the same sums, and is printed by rank 0 alone.
"""
from __future__ import annotations

from ..steps.detection import DetectionStep, format_detection
from .base import RunData, Task, register_task
from .scenes import check_channels, eval_batches, in_shape as _in_shape, load_split as _split, training_batches


def _class_line(result: dict) -> str:
    pairs = [f"{c}:{ap:.3f}" for c, ap in zip(result.get("classes", []), result.get("map_per_class", []))
             if ap >= 0]
    return "AP per class (COCO AP@[.5:.95]): " + " ".join(pairs)


def report_figures(step, loader, evaluate=None) -> dict:
    """The test report's figures over all of ``loader``: mAP with the AP of each class, and the proposal
    figures of a two-stage detector, from one pass (``DetectionStep.per_class`` and ``proposals`` set around
    it).  ``evaluate(loader)``: the trainer's (sharded over the ranks of a data-parallel run, with rank 0's
    buffers broadcast first), else the step's."""
    step.per_class = step.proposals = True
    try:
        return (evaluate or step.evaluate)(loader)
    finally:
        step.per_class = step.proposals = False


class DetectionTask(Task):
    name = "detection"
    data_parallel = True

    def load(self, dataset, settings, download, config=None):
        train = _split(dataset, "train", download, settings["seed"])
        val = _split(dataset, "valid", download)
        return RunData(train=train, val=val, in_shape=_in_shape(train), num_classes=len(train.classes),
                       config={"classes": [str(c) for c in train.classes]},
                       extra={"download": download})

    def make_step(self, entry, model, optimizer, data, settings):
        return DetectionStep(model, optimizer), training_batches(data, settings), eval_batches(data.val)

    def final_report(self, trainer, data, settings, run, echo):
        test = _split(run["dataset"], "test", run["download"])
        loader = eval_batches(test, run.get("eval_limit"))
        result = report_figures(trainer.step, loader, trainer.evaluate)
        echo(f"test set: {loader.size:,} images of {run['dataset']} (last weights; training time "
             f"{run['elapsed']:.1f} s)")
        if "proposals_per_image" in result:
            echo(f"proposals: {result['proposals_per_image']:.1f} per test image, recall "
                 f"{result['proposal_recall_50']:.3f} at IoU 0.5")
        echo(_class_line(result))
        echo(format_detection(result))
        return result

    def evaluate(self, model, config, options, echo):
        test = _split(options["dataset"], "test", options["download"])
        check_channels(test, config, options)
        loader = eval_batches(test, options.get("eval_limit"))
        result = DetectionStep(model, None).evaluate(loader, per_class=True)
        echo(f"{config['model']} from {options['checkpoint']} (epoch {options['epoch']}) on {options['dataset']} "
             f"test ({loader.size:,} images)")
        echo(_class_line(result))
        echo(format_detection(result))
        return result


register_task(DetectionTask())
