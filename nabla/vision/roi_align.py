"""RoIAlign (He et al., Mask R-CNN 2017) with torchvision's name, signature and semantics
(``torchvision.ops.roi_align``, its C++ kernel).

Each RoI (x0, y0, x1, y1), scaled by spatial_scale (and shifted by -0.5 when aligned, Detectron2's
pixel-centre fix), is cut into output_size bins; each bin averages a grid of sampling_ratio x sampling_ratio
bilinear samples (sampling_ratio <= 0: ceil(roi_size / output_size) per axis, per RoI) taken at

    y = y0 + ph * bin_h + (iy + 0.5) * bin_h / grid_h          (x alike)

A sample outside [-1, H] x [-1, W] counts as 0; one inside is clamped at 0 and at the last row/column.
With aligned=False a RoI is at least 1 x 1 feature pixel (legacy), with aligned=True it is not.

Bilinear sampling is separable, so the whole op is linear in the features with per-RoI weight matrices
Wy (output_h x H) and Wx (output_w x W), built once for all RoIs and bins at once:

    out[k] = Wy[k] @ features[b_k] @ Wx[k]^T      (per channel),
    d features[n] = sum over RoIs k of image n of  Wy[k]^T @ g[k] @ Wx[k]

Forward and backward are each other's adjoint (RoIAlign / RoIAlignAdjoint), so gradients of any order
exist w.r.t. the features.  The RoI coordinates get no gradient (as torchvision).
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..nn.module import Module
from ..ops._util import as_tensor


def _axis_weights(start, bin_size, grid, pooled: int, size: int, dtype) -> np.ndarray:
    """(K, pooled, size): each bin's averaged bilinear weights over one feature axis of length size."""
    k = len(start)
    g = max(int(grid.max()) if k else 1, 1)
    i = np.arange(g, dtype=dtype)
    p = np.arange(pooled, dtype=dtype)
    den = np.maximum(grid, 1).astype(dtype)[:, None, None]
    bs = bin_size[:, None, None]
    y = start[:, None, None] + p[None, :, None] * bs + (i[None, None, :] + dtype.type(0.5)) * bs / den  # (K, P, G)
    inside = (i[None, None, :] < grid[:, None, None]) & (y >= -1.0) & (y <= size)
    y = np.maximum(y, 0)
    low = y.astype(np.int64)
    top = low >= size - 1
    low = np.where(top, size - 1, low)
    high = np.where(top, size - 1, low + 1)
    frac = np.where(top, 0, y - low)
    scale = inside / den
    rows = (np.arange(k)[:, None, None] * pooled + np.arange(pooled)[None, :, None]) * size
    n = k * pooled * size
    w = (np.bincount((rows + low).ravel(), ((1 - frac) * scale).ravel(), minlength=n)
         + np.bincount((rows + high).ravel(), (frac * scale).ravel(), minlength=n))
    return w.reshape(k, pooled, size).astype(dtype)


class _Plan:
    """What both directions need: per-RoI weights Wy (K, PH, H), Wx (K, PW, W), the RoIs of each image."""

    def __init__(self, shape, rois, output_size, spatial_scale, sampling_ratio, aligned, dtype):
        n, _, h, w = shape
        ph, pw = output_size
        r = rois.astype(dtype)
        offset = 0.5 if aligned else 0.0
        x0, y0 = r[:, 1] * spatial_scale - offset, r[:, 2] * spatial_scale - offset
        x1, y1 = r[:, 3] * spatial_scale - offset, r[:, 4] * spatial_scale - offset
        rw, rh = x1 - x0, y1 - y0
        if not aligned:
            rw, rh = np.maximum(rw, 1.0), np.maximum(rh, 1.0)
        if sampling_ratio > 0:
            gy = gx = np.full(len(r), sampling_ratio, dtype=np.int64)
        else:
            gy, gx = np.ceil(rh / ph).astype(np.int64), np.ceil(rw / pw).astype(np.int64)
        self.wy = _axis_weights(y0, rh / ph, gy, ph, h, dtype)
        self.wx = _axis_weights(x0, rw / pw, gx, pw, w, dtype)
        batch = r[:, 0].astype(np.int64)
        self.groups = [(b, np.flatnonzero(batch == b)) for b in np.unique(batch)]
        self.shape = shape
        self.output_size = (ph, pw)

    def apply(self, f: np.ndarray) -> np.ndarray:
        """features (N, C, H, W) -> (K, C, PH, PW)."""
        _, c, h, w = f.shape
        ph, pw = self.output_size
        out = np.zeros((len(self.wy), c, ph, pw), dtype=f.dtype)
        for b, idx in self.groups:
            k = len(idx)
            t = self.wy[idx].reshape(k * ph, h) @ f[b].transpose(1, 0, 2).reshape(h, c * w)  # (k PH, C W)
            t = t.reshape(k, ph * c, w) @ self.wx[idx].transpose(0, 2, 1)  # (k, PH C, PW)
            out[idx] = t.reshape(k, ph, c, pw).transpose(0, 2, 1, 3)
        return out

    def adjoint(self, g: np.ndarray) -> np.ndarray:
        """(K, C, PH, PW) -> features' shape (N, C, H, W): the transpose of apply."""
        n, c, h, w = self.shape
        ph, pw = self.output_size
        out = np.zeros((n, c, h, w), dtype=g.dtype)
        for b, idx in self.groups:
            k = len(idx)
            t = g[idx].reshape(k, c * ph, pw) @ self.wx[idx]  # (k, C PH, W)
            t = t.reshape(k, c, ph, w).transpose(0, 2, 1, 3).reshape(k * ph, c * w)
            out[b] = (self.wy[idx].reshape(k * ph, h).T @ t).reshape(h, c, w).transpose(1, 0, 2)
        return out


class RoIAlignFunction(Function):
    """out[k] = Wy[k] features[b_k] Wx[k]^T;  d features = the adjoint (RoIAlignAdjoint) of g."""
    save_inputs = False

    def __init__(self, plan):
        self.plan = plan

    def forward(self, features):
        return self.plan.apply(features)

    def backward(self, g):
        return RoIAlignAdjoint.apply(g, plan=self.plan)


class RoIAlignAdjoint(Function):
    """d features[n] = sum_k Wy[k]^T g[k] Wx[k];  its gradient is RoIAlign again."""
    save_inputs = False

    def __init__(self, plan):
        self.plan = plan

    def forward(self, g):
        return self.plan.adjoint(g)

    def backward(self, u):
        return RoIAlignFunction.apply(u, plan=self.plan)


def _rois(boxes, n_images: int, op: str = "roi_align") -> np.ndarray:
    """(K, 5) rois (batch index, x0, y0, x1, y1) from a (K, 5) tensor or a list of per-image (L, 4) boxes
    (shared with roi_pool; op names the caller in errors)."""
    if isinstance(boxes, (list, tuple)):
        parts = [b.data if isinstance(b, Tensor) else np.asarray(b) for b in boxes]
        for p in parts:
            if p.ndim != 2 or p.shape[1] != 4:
                raise ValueError(f"{op}: expected each image's boxes of shape (L, 4), got {tuple(p.shape)}")
        if len(parts) != n_images:
            raise ValueError(f"{op}: {len(parts)} lists of boxes for a batch of {n_images} images")
        rois = [np.concatenate([np.full((len(p), 1), i, dtype=p.dtype), p], axis=1) for i, p in enumerate(parts)]
        return np.concatenate(rois, axis=0) if rois else np.zeros((0, 5))
    r = boxes.data if isinstance(boxes, Tensor) else np.asarray(boxes)
    if r.ndim != 2 or r.shape[1] != 5:
        raise ValueError(f"{op}: expected boxes as a (K, 5) tensor of (batch index, x0, y0, x1, y1) or a list "
                         f"of (L, 4) tensors, got shape {tuple(r.shape)}")
    if len(r) and (r[:, 0].min() < 0 or r[:, 0].max() >= n_images):
        raise IndexError(f"{op}: batch index out of range [0, {n_images - 1}] in boxes[:, 0]")
    return r


def roi_align(input, boxes, output_size, spatial_scale: float = 1.0, sampling_ratio: int = -1,
              aligned: bool = False) -> Tensor:
    """RoIAlign: input (N, C, H, W), boxes (K, 5) [batch index, x0, y0, x1, y1] or a list of N (L, 4) tensors
    (image coordinates, xyxy) -> (K, C, output_h, output_w).  Differentiable w.r.t. input."""
    x = as_tensor(input)
    if x.ndim != 4 or x.dtype.kind != "f":
        raise ValueError(f"roi_align: expected a float input of shape (N, C, H, W), got {tuple(x.shape)} {x.dtype}")
    size = (output_size, output_size) if isinstance(output_size, (int, np.integer)) else tuple(output_size)
    if len(size) != 2 or min(size) < 1:
        raise ValueError(f"roi_align: output_size must be a positive int or (height, width), got {output_size!r}")
    rois = _rois(boxes, x.shape[0])
    plan = _Plan(tuple(x.shape), rois, size, float(spatial_scale), int(sampling_ratio), bool(aligned), x.dtype)
    return RoIAlignFunction.apply(x, plan=plan)


class RoIAlign(Module):
    """See roi_align."""

    def __init__(self, output_size, spatial_scale: float, sampling_ratio: int, aligned: bool = False):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input, rois):
        return roi_align(input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
                f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}")


__all__ = ["roi_align", "RoIAlign"]
