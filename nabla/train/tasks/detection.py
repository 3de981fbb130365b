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
one process's.  The test report is sharded the same way, with rank 0's batch-norm statistics (the
checkpoint's) broadcast first, and printed by rank 0 alone.
"""
from __future__ import annotations

from ... import comm
from ..steps.detection import DetectionStep, format_detection, proposal_figures_from, proposal_lists
from .base import RunData, Task, register_task
from .scenes import check_channels, eval_batches, in_shape as _in_shape, load_split as _split, training_batches


def _class_line(result: dict) -> str:
    pairs = [f"{c}:{ap:.3f}" for c, ap in zip(result.get("classes", []), result.get("map_per_class", []))
             if ap >= 0]
    return "AP per class (COCO AP@[.5:.95]): " + " ".join(pairs)


def report_figures(step, loader, rank: int = 0, world_size: int = 1) -> dict:
    """The test report's figures over all of ``loader``: mAP with the AP of each class, and the proposal
    figures of a two-stage detector.  With several ranks (every rank calls it) each scores its share of the
    batches after rank 0's buffers are broadcast (the running statistics the checkpoint holds), and the
    shards are gathered in rank order, so the figures are one process's, on every rank."""
    if world_size > 1:
        buffers = list(step.model.buffers())
        for buffer, value in zip(buffers, comm.broadcast_object([b.data for b in buffers] if rank == 0 else None)):
            buffer.copy_(value)
        loader = loader.shard(rank, world_size)

    def gather(part) -> list:
        return comm.all_gather_object(part) if world_size > 1 else [part]

    result = step.figures_from_sums(step.add_sums(gather(step.evaluate_sums(loader))), per_class=True)
    lists = gather(proposal_lists(step.model, loader))
    if lists[0] is not None:
        result.update(proposal_figures_from([p for part in lists for p in part[0]],
                                            [t for part in lists for t in part[1]]))
    return result


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
        strategy = trainer.strategy
        result = report_figures(trainer.step, loader, strategy.rank, strategy.world_size)
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
