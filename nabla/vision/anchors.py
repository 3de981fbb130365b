"""Anchor boxes over feature maps, as torchvision's ``models.detection.anchor_utils.AnchorGenerator``.

Each feature map gets its own sizes (side lengths sqrt(w h), in image pixels) and aspect ratios
(h / w).  The cell anchors of one map, ratios outer and sizes inner, are centred on the origin and
rounded to integers as torchvision does (``round`` halves to even):

    h_ratio = sqrt(ratio),  w_ratio = 1 / h_ratio,  w = w_ratio * size,  h = h_ratio * size,
    base = round((-w, -h, w, h) / 2)

and are repeated at every position of the map, shifted by (x * stride_w, y * stride_h): the shift is the
cell's top-left corner (torchvision's choice, not the cell centre), positions in row-major order (y
outer, x inner) and, within a position, the cell anchors in order.  The stride of a map is
image_size // map_size per axis.  The anchors are data, not learned: no gradient flows to them.
"""
from __future__ import annotations

import numpy as np

from ..autograd.tensor import Tensor
from ..backend import get_default_dtype
from ..nn.module import Module
from ..ops._util import _const


def generate_anchors(scales, aspect_ratios, dtype=None) -> Tensor:
    """The cell anchors (len(aspect_ratios) * len(scales), 4) in xyxy around the origin (rounded)."""
    dtype = np.dtype(dtype or get_default_dtype())
    s = np.asarray(scales, dtype=dtype)
    r = np.asarray(aspect_ratios, dtype=dtype)
    if s.ndim != 1 or r.ndim != 1 or (r <= 0).any() or (s <= 0).any():
        raise ValueError(f"generate_anchors: expected sequences of positive sizes and aspect ratios, got "
                         f"{scales!r} and {aspect_ratios!r}")
    h_ratios = np.sqrt(r)
    w_ratios = 1 / h_ratios
    ws = (w_ratios[:, None] * s[None, :]).reshape(-1)
    hs = (h_ratios[:, None] * s[None, :]).reshape(-1)
    return _const(np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2))


def grid_anchors_for(cell_anchors, grid_size, stride) -> Tensor:
    """cell_anchors (A, 4) placed at every position of a (H, W) grid with stride (sh, sw): (H * W * A, 4)."""
    base = cell_anchors.data if isinstance(cell_anchors, Tensor) else np.asarray(cell_anchors)
    (gh, gw), (sh, sw) = grid_size, stride
    shift_y, shift_x = np.meshgrid(np.arange(gh) * sh, np.arange(gw) * sw, indexing="ij")
    sx, sy = shift_x.reshape(-1), shift_y.reshape(-1)
    shifts = np.stack((sx, sy, sx, sy), axis=1).astype(base.dtype)
    return _const((shifts[:, None, :] + base[None, :, :]).reshape(-1, 4))


class AnchorGenerator(Module):
    """Anchors for a list of feature maps (torchvision's interface).

    sizes: one tuple of sizes per feature map (a flat tuple means one size per map);
    aspect_ratios: one tuple of h / w ratios per map (a flat tuple is shared by all maps).
    ``forward(images, feature_maps)`` -> a list with one (sum_i H_i W_i A_i, 4) Tensor per image, where
    images is a batch Tensor (N, C, H, W), an ImageList-like object (``.tensors``, ``.image_sizes``) or
    an (H, W) image size for a single image; feature_maps are (N, C_i, H_i, W_i)."""

    def __init__(self, sizes=((128, 256, 512),), aspect_ratios=((0.5, 1.0, 2.0),)):
        super().__init__()
        if not isinstance(sizes[0], (list, tuple)):
            sizes = tuple((s,) for s in sizes)
        if not isinstance(aspect_ratios[0], (list, tuple)):
            aspect_ratios = (aspect_ratios,) * len(sizes)
        if len(sizes) != len(aspect_ratios):
            raise ValueError(f"AnchorGenerator: {len(sizes)} tuples of sizes but {len(aspect_ratios)} of aspect "
                             "ratios; give one of each per feature map")
        self.sizes = tuple(tuple(s) for s in sizes)
        self.aspect_ratios = tuple(tuple(a) for a in aspect_ratios)
        self.cell_anchors = [generate_anchors(s, a) for s, a in zip(self.sizes, self.aspect_ratios)]

    def generate_anchors(self, scales, aspect_ratios, dtype=None) -> Tensor:
        return generate_anchors(scales, aspect_ratios, dtype)

    def num_anchors_per_location(self) -> list:
        return [len(s) * len(a) for s, a in zip(self.sizes, self.aspect_ratios)]

    def grid_anchors(self, grid_sizes, strides, dtype=None) -> list:
        """One (H * W * A, 4) Tensor per feature map, for grid sizes [(H, W), ...] and strides [(sh, sw), ...]."""
        if not (len(grid_sizes) == len(strides) == len(self.cell_anchors)):
            raise ValueError(f"AnchorGenerator: {len(grid_sizes)} feature maps and {len(strides)} strides, but "
                             f"anchors were configured for {len(self.cell_anchors)} maps (one sizes tuple each)")
        dtype = np.dtype(dtype or get_default_dtype())
        return [grid_anchors_for(base.data.astype(dtype), size, stride)
                for size, stride, base in zip(grid_sizes, strides, self.cell_anchors)]

    def forward(self, images, feature_maps) -> list:
        if isinstance(images, Tensor):
            image_size, n_images = tuple(images.shape[-2:]), images.shape[0]
        elif hasattr(images, "tensors"):
            image_size, n_images = tuple(images.tensors.shape[-2:]), len(images.image_sizes)
        else:
            image_size, n_images = tuple(images), 1
        grid_sizes = [tuple(f.shape[-2:]) for f in feature_maps]
        strides = [(image_size[0] // g[0], image_size[1] // g[1]) for g in grid_sizes]
        dtype = feature_maps[0].dtype if feature_maps and feature_maps[0].dtype.kind == "f" else None
        per_map = self.grid_anchors(grid_sizes, strides, dtype)
        all_maps = np.concatenate([a.data for a in per_map], axis=0)
        return [_const(all_maps.copy()) for _ in range(n_images)]

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, aspect_ratios={self.aspect_ratios}"


__all__ = ["AnchorGenerator", "generate_anchors", "grid_anchors_for"]
