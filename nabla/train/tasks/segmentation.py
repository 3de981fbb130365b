"""Semantic segmentation: scenes (or a folder of images and masks) in, a class per pixel out, scored by mean IoU.

Data: the data set's ``train`` split with ``target_type="segmentation"`` (a scene generator draws fresh
scenes each epoch; ``--train-scenes N`` fixes the first N), ``valid`` picks the best checkpoint (highest
``miou``), ``test`` is scored once at the end.  Images stay in [0, 1] (the models normalise with batch norm);
``--augment`` shifts each training image by up to 4 pixels, its mask with it (``RandomShift``; no mirroring:
digits are not mirror-symmetric).

Classes: the model predicts K mask classes.  A data set that says its mask classes (``mask_classes``, a list
of names with the background first, as ``SegmentationFolder``) gives K = len(mask_classes); otherwise the
mask is the scenes' convention, 0 background and 1 + k for the data set's class k, and K = 1 + len(classes):
11 on the MNIST scenes.  Mask pixels of 255 are ignored (loss and scores).

The last line of ``nabla train`` and ``nabla eval`` on a segmentation model is ``miou=... miou_digits=...
pixel_acc=...``, then the worst class and its IoU, images/s and the number of parameters
(``nabla.train.steps.segmentation.format_segmentation``); the line before it gives each class's IoU.

Data-parallel (``mpiexec -n N nabla train``): every rank draws the same scenes and the same epoch order and
trains on its ``DistributedSampler`` share of it (``SceneBatches.shard``); validation and the final test
evaluation score each rank's share of the batches and add the confusion matrices
(``SegmentationStep.evaluate_sums``), so the printed mIoU and pixel accuracy are one process's; rank 0 alone
prints and writes.
"""
from __future__ import annotations

from ..steps.segmentation import SegmentationStep, format_segmentation
from .base import RunData, Task, register_task
from .scenes import check_channels, eval_batches, in_shape as _in_shape, load_split, training_batches


def _split(name: str, split: str, download: bool, seed: int = 0):
    return load_split(name, split, download, seed, target_type="segmentation")


def mask_classes(dataset) -> list:
    """The names of the K mask classes, background first (see the module docstring)."""
    given = getattr(dataset, "mask_classes", None)
    if given is not None:
        return [str(c) for c in given]
    return ["background"] + [str(c) for c in dataset.classes]


def _class_line(result: dict, names) -> str:
    pairs = [f"{i}:{v:.3f}" for i, v in enumerate(result.get("iou_per_class", [])) if v >= 0]
    return f"IoU per class (0 = {names[0] if names else 'background'}): " + " ".join(pairs)


def _report(step, loader, names, parameters, echo, evaluate=None) -> dict:
    """The per-class line and the last line; ``evaluate(loader)``: the trainer's (sharded over the ranks of a
    data-parallel run), else the step's."""
    step.per_class = True
    try:
        result = (evaluate or step.evaluate)(loader)
    finally:
        step.per_class = False
    echo(_class_line(result, names))
    echo(format_segmentation(result, parameters))
    return result


class SegmentationTask(Task):
    name = "segmentation"
    data_parallel = True  # confusion matrices add over the ranks' shares (SegmentationStep.evaluate_sums)

    def load(self, dataset, settings, download, config=None):
        train = _split(dataset, "train", download, settings["seed"])
        val = _split(dataset, "valid", download)
        names = mask_classes(train)
        return RunData(train=train, val=val, in_shape=_in_shape(train), num_classes=len(names),
                       config={"classes": names}, extra={"download": download})

    def make_step(self, entry, model, optimizer, data, settings):
        loader = training_batches(data, settings)
        step = SegmentationStep(model, optimizer, data.num_classes, dice_weight=settings.get("dice_weight") or 0.0)
        return step, loader, eval_batches(data.val)

    def final_report(self, trainer, data, settings, run, echo):
        test = _split(run["dataset"], "test", run["download"])
        loader = eval_batches(test, run.get("eval_limit"))
        echo(f"test set: {loader.size:,} images of {run['dataset']} (last weights; training time "
             f"{run['elapsed']:.1f} s)")
        return _report(trainer.step, loader, data.config["classes"], trainer.model.num_parameters(), echo,
                       trainer.evaluate)

    def evaluate(self, model, config, options, echo):
        test = _split(options["dataset"], "test", options["download"])
        check_channels(test, config, options)
        names = config.get("classes") or mask_classes(test)
        if hasattr(test, "check_num_classes"):   # a folder of masks: name the first mask the model cannot score
            test.check_num_classes(int(config["num_classes"]))
        if len(mask_classes(test)) > int(config["num_classes"]):
            raise ValueError(f"{config['model']} from {options['checkpoint']} predicts {config['num_classes']} mask "
                             f"classes; {options['dataset']} has {len(mask_classes(test))}")
        loader = eval_batches(test, options.get("eval_limit"))
        echo(f"{config['model']} from {options['checkpoint']} (epoch {options['epoch']}) on {options['dataset']} "
             f"test ({loader.size:,} images)")
        step = SegmentationStep(model, None, int(config["num_classes"]))
        return _report(step, loader, names, model.num_parameters(), echo)


register_task(SegmentationTask())
