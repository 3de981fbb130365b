"""What the ``segmenters`` experiment measures beyond mIoU: accuracy near digit edges, and the memory each
decoder keeps from its encoder.

Boundary band: the pixels within ``r`` pixels (Chebyshev distance, a (2r + 1)^2 square) of a digit edge are
those the digit mask's dilation covers and its erosion does not,

    band = dilate(D, r) & ~erode(D, r),      erode(D, r) = ~dilate(~D, r),

with D the ground truth's digit pixels (any class but 0; ignored pixels are left out).  A dilation is a max
filter, separable: a max over the 2r + 1 shifted rows, then over the 2r + 1 shifted columns, all images of a
batch at once (``sliding_window_view``).  Boundary accuracy = correctly labelled band pixels / band pixels:
the thin strokes' edges, where a coarse (stride-32) prediction fails and pixel accuracy, ~94% background,
hardly notices.

Decoder memory: what must be held from the encoder until the decoder runs, per image, read from the tensors a
forward pass of one image produces (forward hooks, not a formula): U-Net's skip maps (every contracting
level's output, float32), FCN-16s's / 8s's pool4 / pool3 maps that its score layers read (FCN-32s: nothing),
and SegNet's max-pool indices as nabla stores them (int64 flat positions, 8 bytes per pooled value) and as the
paper counts them (2 bits per 2x2 window: which of the four held the maximum).
"""
from __future__ import annotations

import numpy as np

import nabla as nb
from ..models.fcn import FCN, STAGES
from ..models.segnet import SegNet
from ..models.unet import UNet
from ..nn import functional as F

__all__ = ["dilate", "boundary_band", "decoder_memory"]


def dilate(masks: np.ndarray, r: int) -> np.ndarray:
    """Boolean (B, H, W) -> its dilation by a (2r + 1) x (2r + 1) square (pixels beyond the border count as
    False)."""
    from numpy.lib.stride_tricks import sliding_window_view
    k = 2 * r + 1
    padded = np.pad(masks, ((0, 0), (r, r), (r, r)))
    rows = sliding_window_view(padded, k, axis=1).max(axis=-1)          # (B, H, W + 2r)
    return sliding_window_view(rows, k, axis=2).max(axis=-1)            # (B, H, W)


def boundary_band(target: np.ndarray, r: int = 2, ignore_index: int = 255) -> np.ndarray:
    """Boolean (B, H, W): the scored pixels within ``r`` pixels of a digit edge of ``target`` (int masks)."""
    digits = (target > 0) & (target != ignore_index)
    eroded = ~dilate(~digits, r)
    return dilate(digits, r) & ~eroded & (target != ignore_index)


def _kept(model, x) -> list:
    """The arrays the decoder keeps from the encoder in one forward pass of ``x`` (see the module docstring)."""
    kept, hooks = [], []
    if isinstance(model, UNet):
        modules, take = list(model.down), (lambda out: [out.data])
    elif isinstance(model, FCN):
        modules, take = [model.stages[STAGES - 2 - k] for k in range(model.skips)], (lambda out: [out.data])
    elif isinstance(model, SegNet):   # the indices the encoder's pooling makes of each stage's output
        modules = list(model.encoder)
        take = lambda out: [F.max_pool2d(out, 2, 2, return_indices=True)[1].data]   # noqa: E731
    else:
        raise ValueError(f"decoder_memory: no rule for {type(model).__name__}; expected a UNet, FCN or SegNet")
    for m in modules:
        hooks.append(m.register_forward_hook(lambda mod, inputs, out: kept.extend(take(out))))
    try:
        model.eval()
        with nb.no_grad():
            model(nb.from_numpy(x))
    finally:
        for h in hooks:
            h.remove()
        model.train()
    return kept


def decoder_memory(model, image_shape) -> dict:
    """Bytes kept for the decoder per image of ``image_shape`` (C, H, W): ``decoder bytes`` (as nabla holds
    them) and ``decoder bytes (paper)``: SegNet's indices at 2 bits per window, the others as held."""
    kept = _kept(model, np.zeros((1,) + tuple(image_shape), np.float32))
    held = int(sum(a.nbytes for a in kept))
    paper = int(sum(np.ceil(a.size * 2 / 8) for a in kept)) if isinstance(model, SegNet) else held
    return {"decoder bytes": held, "decoder bytes (paper)": paper}
