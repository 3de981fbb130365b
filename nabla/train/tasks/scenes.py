"""What the detection and segmentation tasks share: their data sets' splits, the input shape, and the
training loader (fresh scenes each epoch, or a fixed set: ``--train-scenes``; ``--augment`` shifts each image
with its boxes or mask)."""
from __future__ import annotations

from ...data.datasets import get_dataset
from ...data.detection_transforms import RandomShift
from ..steps.scene_batches import SceneBatches

EVAL_BATCH = 50
AUGMENT_SHIFT = 4


def load_split(name: str, split: str, download: bool, seed: int = 0, **kwargs):
    """The ``split`` ("train", "valid", "test") of data set ``name``; the training split draws from ``seed``."""
    kwargs.update(split=split, download=download)
    if split == "train":
        kwargs["seed"] = seed
    return get_dataset(name, **kwargs)


def in_shape(dataset) -> tuple:
    return (int(getattr(dataset, "channels", 1)),) + tuple(dataset.image_shape)


def check_channels(test, config: dict, options: dict) -> None:
    """``nabla eval`` on another data set: its images must have the channels the checkpoint's model takes."""
    channels, trained = in_shape(test)[0], tuple(config.get("in_shape") or ())
    if trained and channels != trained[0]:
        raise ValueError(f"{config['model']} from {options['checkpoint']} takes {trained[0]}-channel images "
                         f"({config.get('dataset')}); {options['dataset']} has {channels}")


def training_batches(data, settings) -> SceneBatches:
    """The training loader; also sets ``data.sizes`` (the opening line's description of the data)."""
    fixed = settings.get("train_scenes") or None
    if fixed is not None and fixed > len(data.train):
        raise ValueError(f"--train-scenes {fixed} is more than the {len(data.train):,} training images of "
                         f"{data.train.name}")
    transform = RandomShift(AUGMENT_SHIFT) if settings["augment"] else None
    loader = SceneBatches(data.train, settings["batch_size"], shuffle=True, seed=settings["seed"],
                          limit=fixed, fixed=fixed is not None, transform=transform)
    fresh = hasattr(data.train, "set_epoch") and fixed is None
    train_desc = (f"{len(data.train):,} fresh training scenes an epoch" if fresh
                  else f"a fixed {loader.size:,} training images")
    data.sizes = f"{train_desc} / {len(data.val):,} validation"
    return loader


def eval_batches(dataset, limit=None) -> SceneBatches:
    return SceneBatches(dataset, EVAL_BATCH, shuffle=False, limit=limit)
