"""Transforms over a whole batch of images at once (torchvision names, vectorised over the batch).

Every transform takes a batch ``(N, C, H, W)`` or ``(N, H, W)`` (a NumPy array or a nabla Tensor;
the result has the same kind) and works on all N images with array operations: random parameters
are drawn as arrays of N values, and images are gathered with one fancy-index, never a Python loop
over images.  Random transforms draw from ``generator`` (a numpy Generator or an int seed), or, when
it is None, from nabla's global generator at each call (so ``nabla.manual_seed`` fixes them).

The image data sets apply their ``transform`` to each batch after scaling it to float32 in [0, 1]
with a channel axis (N, 1, H, W), so a typical augmentation is ::

    Compose([RandomCrop(28, padding=2), Normalize((0.1307,), (0.3081,))])
"""
from __future__ import annotations

from numbers import Number

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.tensor import Tensor, from_numpy
from .dataset import as_generator

__all__ = ["Compose", "Lambda", "ToTensor", "Normalize", "Flatten", "RandomCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomAffine"]


def _unwrap(x, who: str, min_ndim: int = 3):
    is_tensor = isinstance(x, Tensor)
    arr = x.data if is_tensor else np.asarray(x)
    if arr.ndim < min_ndim:
        raise ValueError(f"{who}: expected a batch of images (N, C, H, W) or (N, H, W), got shape {arr.shape}")
    return arr, is_tensor


def _rewrap(arr, is_tensor):
    return from_numpy(arr) if is_tensor else arr


def _pair(v, who: str) -> tuple:
    if isinstance(v, Number):
        return int(v), int(v)
    v = tuple(int(a) for a in v)
    if len(v) != 2:
        raise ValueError(f"{who}: expected an int or a pair (h, w), got {v}")
    return v


class _Random:
    """Holds the transform's generator: its own (from a seed or Generator) or, when None, the global one."""

    def __init__(self, generator):
        self.generator = None if generator is None else as_generator(generator)

    def _rng(self) -> np.random.Generator:
        return self.generator if self.generator is not None else as_generator(None)


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class Lambda:
    """Apply a user function to the batch."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


class ToTensor:
    """uint8 pixels to float32 in [0, 1] (``x / 255``); other dtypes are cast to float32 unscaled.

    ``(N, H, W)`` becomes ``(N, 1, H, W)`` (a channel axis, as torchvision's ToTensor gives grey images);
    with ``channels_last=True`` an ``(N, H, W, C)`` batch becomes ``(N, C, H, W)``.  Returns a Tensor.
    """

    def __init__(self, channels_last: bool = False):
        self.channels_last = channels_last

    def __call__(self, x):
        arr, _ = _unwrap(x, "ToTensor")
        out = arr.astype(np.float32)
        if arr.dtype == np.uint8:
            out *= np.float32(1 / 255)
        if self.channels_last:
            if arr.ndim != 4:
                raise ValueError(f"ToTensor(channels_last=True): expected (N, H, W, C), got shape {arr.shape}")
            out = np.ascontiguousarray(out.transpose(0, 3, 1, 2))
        elif arr.ndim == 3:
            out = out[:, None]
        return from_numpy(out)


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel c (axis 1 of (N, C, H, W); one value for (N, H, W))."""

    def __init__(self, mean, std, inplace: bool = False):
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)
        if (self.std == 0).any():
            raise ValueError(f"Normalize: std evaluated to zero after conversion, got {std}; division by zero")
        self.inplace = inplace

    def __call__(self, x):
        arr, is_tensor = _unwrap(x, "Normalize")
        c = arr.shape[1] if arr.ndim == 4 else 1
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(f"Normalize: {name} has {v.size} values but the batch of shape {arr.shape} "
                                 f"has {c} channel(s)")
        dtype = arr.dtype if arr.dtype.kind == "f" else np.dtype(np.float32)
        shape = (1, -1, 1, 1) if arr.ndim == 4 else (1,) * arr.ndim
        mean = self.mean.astype(dtype).reshape(shape)
        inv = (1 / self.std).astype(dtype).reshape(shape)
        if self.inplace and arr.dtype.kind == "f" and arr.flags.writeable:
            arr -= mean
            arr *= inv
            return x
        return _rewrap((arr.astype(dtype) - mean) * inv, is_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Flatten:
    """Flatten each image to a vector: ``(N, ...) -> (N, prod(...))`` (for MLPs)."""

    def __call__(self, x):
        arr, is_tensor = _unwrap(x, "Flatten", min_ndim=1)
        return _rewrap(arr.reshape(arr.shape[0], -1), is_tensor)


class RandomCrop(_Random):
    """Pad by ``padding`` (int, (lr, tb) or (l, t, r, b)), then cut a ``size`` window at a random place,
    independently for each image.

    ``padding_mode``: "constant" (``fill``), "edge", "reflect" or "symmetric", as np.pad.
    ``pad_if_needed`` pads images smaller than ``size`` up to it.
    """

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant",
                 generator=None):
        super().__init__(generator)
        self.size = _pair(size, "RandomCrop")
        if padding is None:
            padding = 0
        p = (padding,) * 4 if isinstance(padding, Number) else tuple(padding)
        if len(p) == 2:
            p = (p[0], p[1], p[0], p[1])
        if len(p) != 4 or any(int(a) < 0 for a in p):
            raise ValueError(f"RandomCrop: padding must be a non-negative int or a sequence of 2 or 4, got {padding}")
        self.padding = tuple(int(a) for a in p)  # left, top, right, bottom
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(f"RandomCrop: padding_mode must be constant, edge, reflect or symmetric, "
                             f"got {padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def __call__(self, x):
        arr, is_tensor = _unwrap(x, "RandomCrop")
        n, h, w = arr.shape[0], arr.shape[-2], arr.shape[-1]
        x4 = arr.reshape(n, -1, h, w)
        left, top, right, bottom = self.padding
        th, tw = self.size
        if self.pad_if_needed:
            top, bottom = top + max(0, th - (h + top + bottom)), bottom + max(0, th - (h + top + bottom))
            left, right = left + max(0, tw - (w + left + right)), right + max(0, tw - (w + left + right))
        if left or top or right or bottom:
            kw = {"constant_values": self.fill} if self.padding_mode == "constant" else {}
            x4 = np.pad(x4, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=self.padding_mode, **kw)
        ph, pw = x4.shape[-2:]
        if th > ph or tw > pw:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image size {(ph, pw)}")
        rng = self._rng()
        oy = rng.integers(0, ph - th + 1, size=n)
        ox = rng.integers(0, pw - tw + 1, size=n)
        # all windows as a view, then one gather: (N, C, H', W', th, tw)[n, :, oy, ox] -> (N, C, th, tw)
        win = sliding_window_view(x4, (th, tw), axis=(-2, -1))
        out = win[np.arange(n), :, oy, ox]
        return _rewrap(out.reshape(arr.shape[:-2] + (th, tw)), is_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(_Random):
    """Mirror each image left-right with probability ``p``."""

    axis = -1

    def __init__(self, p: float = 0.5, generator=None):
        super().__init__(generator)
        if not 0 <= p <= 1:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, x):
        arr, is_tensor = _unwrap(x, type(self).__name__)
        flip = self._rng().random(arr.shape[0]) < self.p
        out = arr.copy()
        out[flip] = np.flip(arr[flip], axis=self.axis)
        return _rewrap(out, is_tensor)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror each image top-bottom with probability ``p``."""

    axis = -2


class RandomAffine(_Random):
    """A random affine map per image: rotation, translation (shift) and scale, about the image centre.

    * ``degrees``: angle drawn uniformly from (-d, d) or (a, b); positive turns counter-clockwise.
    * ``translate=(a, b)``: shifts drawn uniformly from ``(-a W, a W)`` and ``(-b H, b H)``, rounded to
      whole pixels (as torchvision).  With no rotation and scale this is an exact random shift.
    * ``scale=(lo, hi)``: zoom factor drawn uniformly.
    Each output pixel takes the nearest source pixel (inverse mapping); pixels from outside get ``fill``.
    """

    def __init__(self, degrees=0, translate=None, scale=None, fill=0, generator=None):
        super().__init__(generator)
        d = (-abs(float(degrees)), abs(float(degrees))) if isinstance(degrees, Number) else tuple(map(float, degrees))
        if len(d) != 2:
            raise ValueError(f"RandomAffine: degrees must be a number or a pair, got {degrees}")
        self.degrees = d
        if translate is not None:
            translate = tuple(float(t) for t in translate)
            if len(translate) != 2 or not all(0 <= t <= 1 for t in translate):
                raise ValueError(f"RandomAffine: translate must be a pair of fractions in [0, 1], got {translate}")
        if scale is not None:
            scale = tuple(float(s) for s in scale)
            if len(scale) != 2 or not all(s > 0 for s in scale):
                raise ValueError(f"RandomAffine: scale must be a pair of positive numbers, got {scale}")
        self.translate, self.scale, self.fill = translate, scale, fill

    def __call__(self, x):
        arr, is_tensor = _unwrap(x, "RandomAffine")
        n, h, w = arr.shape[0], arr.shape[-2], arr.shape[-1]
        rng = self._rng()
        theta = np.deg2rad(rng.uniform(*self.degrees, size=n)) if self.degrees != (0.0, 0.0) else np.zeros(n)
        if self.translate is not None:
            tx = np.round(rng.uniform(-self.translate[0] * w, self.translate[0] * w, size=n))
            ty = np.round(rng.uniform(-self.translate[1] * h, self.translate[1] * h, size=n))
        else:
            tx = ty = np.zeros(n)
        s = rng.uniform(*self.scale, size=n) if self.scale is not None else np.ones(n)
        # inverse map: source = c + A^-1 (p - c - t), A = s R(theta); y points down, so a visually
        # counter-clockwise turn is R = [[cos, sin], [-sin, cos]] in (x, y) and A^-1 = R^T / s
        cy, cx = (h - 1) / 2, (w - 1) / 2
        yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        dx = xx[None] - cx - tx[:, None, None]
        dy = yy[None] - cy - ty[:, None, None]
        cos, sin = (np.cos(theta) / s)[:, None, None], (np.sin(theta) / s)[:, None, None]
        sx = np.rint(cx + cos * dx - sin * dy).astype(np.int64)
        sy = np.rint(cy + sin * dx + cos * dy).astype(np.int64)
        inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
        x4 = arr.reshape(n, -1, h, w)
        # one gather for the whole batch: (N, C, H, W)[n, :, sy, sx] -> (N, H, W, C)
        out = x4[np.arange(n)[:, None, None], :, np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)]
        out[~inside] = self.fill
        out = np.ascontiguousarray(out.transpose(0, 3, 1, 2)).reshape(arr.shape)
        return _rewrap(out, is_tensor)

    def __repr__(self) -> str:
        return f"RandomAffine(degrees={self.degrees}, translate={self.translate}, scale={self.scale})"
