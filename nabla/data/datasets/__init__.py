"""Real data sets from installed packages, and a registry of them by name.

``get_dataset("mnist", train=True)`` builds one by name; ``list_datasets()`` describes all of them
(for ``nabla datasets``).  See ``base`` for where files are looked for and how they are cached.  A name
``coco:ANNOTATIONS.json[:IMAGE_DIR]`` stands for a user's COCO-format detection set (``coco.CocoDetection``),
``masks:IMAGE_DIR:MASK_DIR`` for a folder of images with same-named PNG class masks (``masks.SegmentationFolder``).
"""
from __future__ import annotations

from .base import ImageDataset
from .binarized import BinarizedFashionMNIST, BinarizedMNIST, BinarizedMNIST5k
from .coco import CocoDetection, CocoFormatError, coco_dataset_class, is_coco_spec
from .masks import SegmentationFolder, is_masks_spec, masks_dataset_class
from .cache import ChecksumError, DatasetNotFoundError, FetchError, data_root
from .digits import Digits
from .idx import CorruptFileError, read_idx, write_idx
from .mnist import MNIST, MNIST5k, FashionMNIST
from .scenes import MNISTScenes, MNISTScenesHard, detection_collate
from .synthetic import LinearData, SineData
from .binary import OddEvenMNIST, OddEvenMNIST5k
from .series import CO2, SineSeries, Sunspots

__all__ = ["MNIST", "FashionMNIST", "MNIST5k", "BinarizedMNIST", "BinarizedFashionMNIST", "BinarizedMNIST5k", "Digits", "LinearData",
           "ImageDataset", "REGISTRY", "register",
           "get_dataset", "list_datasets", "dataset_names", "data_root", "read_idx", "write_idx",
           "ChecksumError", "CorruptFileError", "DatasetNotFoundError", "FetchError", "get_dataset_class",
           "datasets_for_task", "Sunspots", "CO2", "SineSeries", "SineData", "OddEvenMNIST", "OddEvenMNIST5k", "MNISTScenes", "MNISTScenesHard", "detection_collate", "CocoDetection",
           "CocoFormatError", "folder_name"]

# name -> class; later issues register more (CIFAR-like sets, text corpora)
REGISTRY: dict = {}
_ALIASES: dict = {}


def register(cls, *aliases):
    """Add a data set class to the registry under ``cls.name`` (and any aliases)."""
    REGISTRY[cls.name] = cls
    for a in aliases:
        _ALIASES[a] = cls.name
    return cls


register(MNIST)
register(FashionMNIST, "fashion_mnist", "fashionmnist", "fmnist")
register(MNIST5k, "mnist5k", "mnist_5k")
register(BinarizedMNIST, "binarized_mnist", "binarizedmnist")
register(BinarizedFashionMNIST, "binarized_fashion_mnist", "binarized-fashionmnist", "binarized-fmnist")
register(BinarizedMNIST5k, "binarized_mnist_5k", "binarized-mnist5k")
register(Digits, "optdigits")
register(LinearData)
register(MNISTScenes, "mnist_scenes", "mnistscenes")
register(MNISTScenesHard, "mnist_scenes_hard", "mnistsceneshard")
register(SineData)
register(OddEvenMNIST, "mnist_odd_even")
register(OddEvenMNIST5k, "mnist_5k_odd_even")
register(Sunspots)
register(CO2, "mauna-loa-co2")
register(SineSeries)


def dataset_names() -> list:
    return list(REGISTRY)


def _resolve(name: str):
    if is_coco_spec(name):
        return coco_dataset_class(name)
    if is_masks_spec(name):
        return masks_dataset_class(name)
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in REGISTRY:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(REGISTRY)}, or "
                         "coco:ANNOTATIONS.json[:IMAGE_DIR] or masks:IMAGE_DIR:MASK_DIR")
    return REGISTRY[key]


def get_dataset(name: str, *args, **kwargs):
    """Build the data set registered as ``name`` (case and ``_``/``-`` spellings accepted)."""
    return _resolve(name)(*args, **kwargs)


def get_dataset_class(name: str):
    """The class registered as ``name``: its facts (``task``, ``normalize``, ``mirror_preserves_labels``,
    ``metric``...) without loading any data."""
    return _resolve(name)


def folder_name(name: str) -> str:
    """The data set's name as a run folder takes it (``runs/MODEL-DATASET``): the registered name, or for a
    ``coco:PATH.json`` name a slug of its path (``coco-FOLDER-STEM``)."""
    cls = _resolve(name)
    return getattr(cls, "folder_name", cls.name)


def datasets_for_task(task: str) -> list:
    """The registered data sets of a task ("classification", "regression", "lm", "seq2seq", "vae", "gan",
    "autoregressive", ...): a class's ``tasks`` when it has them, else its one ``task``."""
    return [name for name, cls in REGISTRY.items() if task in getattr(cls, "tasks", (getattr(cls, "task", None),))]


def _source_label(cls) -> str:
    """Where a data set's files come from: a PyPI or Debian package (text sets: one per part), or generated."""
    if getattr(cls, "source", None) is not None:
        return cls.source.label
    parts = getattr(cls, "parts", None) or {}
    return ", ".join(sorted({src.label for src, _, _ in parts.values()})) or "generated"


def list_datasets(root=None) -> list:
    """One dict per registered data set: name, description, sizes (per split), image shape, number of
    classes, whether it is present locally (loadable without fetching), and how to install it."""
    out = []
    for name, cls in REGISTRY.items():
        out.append({"name": name, "task": getattr(cls, "task", None), "description": cls.description,
                    "sizes": dict(cls.sizes),
                    "train": cls.sizes.get("train"), "test": cls.sizes.get("test"),
                    "shape": (1,) + tuple(cls.image_shape), "num_classes": len(cls.classes),
                    "present": cls.is_present(root), "install": cls.install_hint(),
                    "source": _source_label(cls),
                    "location": str(cls.folder(root))})
    return out
from . import text_registry  # noqa: E402,F401  (the text data sets: nabla.data.text)
