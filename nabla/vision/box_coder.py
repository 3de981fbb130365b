"""BoxCoder: boxes as regression targets relative to reference boxes (anchors or proposals), as
torchvision's ``models.detection._utils.BoxCoder`` (R-CNN's parametrisation, Girshick et al. 2014):

    encode:  dx = wx (gx - px) / pw    dy = wy (gy - py) / ph    dw = ww log(gw / pw)    dh = wh log(gh / ph)
    decode:  x = dx / wx * pw + px     y = dy / wy * ph + py     w = exp(min(dw / ww, clip)) pw    (h alike)

with (px, py, pw, ph) the reference box's centre and size, (gx, gy, gw, gh) the target box's, widths
x1 - x0 (exclusive edges, no "+1", as torchvision's current code), and ``clip = bbox_xform_clip``
(log(1000 / 16)) keeping exp from overflowing on wild predictions.  Both directions are compositions of
nabla ops, differentiable w.r.t. the codes and the boxes.
"""
from __future__ import annotations

import math

from ..autograd.tensor import Tensor
from ..ops._util import as_tensor
from ..ops.arithmetic import to
from ..ops.elementwise import clamp, exp, log
from ..ops.shape import cat, stack
from .boxes import _boxes


def _tensor(x) -> Tensor:
    return as_tensor(x)


class BoxCoder:
    """Encodes boxes against reference boxes and decodes them back (see the module docstring).

    weights: (wx, wy, ww, wh), the scales of the four codes: (10, 10, 5, 5) is Fast/Faster R-CNN's box
    head, (1, 1, 1, 1) its RPN.  bbox_xform_clip: the largest dw / ww, dh / wh that decode exponentiates."""

    def __init__(self, weights=(10.0, 10.0, 5.0, 5.0), bbox_xform_clip: float = math.log(1000.0 / 16)):
        if len(weights) != 4:
            raise ValueError(f"BoxCoder: weights must be 4 numbers (wx, wy, ww, wh), got {weights!r}")
        self.weights = tuple(float(w) for w in weights)
        self.bbox_xform_clip = float(bbox_xform_clip)

    def __repr__(self):
        return f"BoxCoder(weights={self.weights}, bbox_xform_clip={self.bbox_xform_clip:.6g})"

    # ------------------------------------------------------------------ one tensor
    def encode_single(self, reference_boxes, proposals) -> Tensor:
        """Codes (N, 4) of reference_boxes (N, 4) (the targets, e.g. ground truth) relative to proposals (N, 4)
        (the anchors or proposals they were matched to), both xyxy; in reference_boxes' dtype."""
        ref = _boxes(reference_boxes, "BoxCoder.encode_single", "reference_boxes", two_d=True)
        prop = _boxes(proposals, "BoxCoder.encode_single", "proposals", two_d=True)
        if len(ref) != len(prop):
            raise ValueError(f"BoxCoder.encode_single: reference_boxes {tuple(ref.shape)} and proposals "
                             f"{tuple(prop.shape)} must hold the same number of boxes")
        prop = to(prop, ref.dtype)
        wx, wy, ww, wh = self.weights
        ex_w = prop[:, 2] - prop[:, 0]
        ex_h = prop[:, 3] - prop[:, 1]
        ex_x = prop[:, 0] + 0.5 * ex_w
        ex_y = prop[:, 1] + 0.5 * ex_h
        gt_w = ref[:, 2] - ref[:, 0]
        gt_h = ref[:, 3] - ref[:, 1]
        gt_x = ref[:, 0] + 0.5 * gt_w
        gt_y = ref[:, 1] + 0.5 * gt_h
        return stack((wx * (gt_x - ex_x) / ex_w, wy * (gt_y - ex_y) / ex_h,
                      ww * log(gt_w / ex_w), wh * log(gt_h / ex_h)), dim=1)

    def decode_single(self, rel_codes, boxes) -> Tensor:
        """Boxes (N, 4k) in xyxy from codes rel_codes (N, 4k) (k boxes per reference, e.g. one per class)
        relative to boxes (N, 4); in rel_codes' dtype."""
        codes = _tensor(rel_codes)
        if codes.ndim != 2 or codes.shape[1] % 4:
            raise ValueError(f"BoxCoder.decode_single: expected rel_codes of shape (N, 4k), got {tuple(codes.shape)}")
        ref = to(_boxes(boxes, "BoxCoder.decode_single", "boxes", two_d=True), codes.dtype)
        if len(ref) != len(codes):
            raise ValueError(f"BoxCoder.decode_single: rel_codes {tuple(codes.shape)} and boxes {tuple(ref.shape)} "
                             "must have the same number of rows")
        n = len(ref)
        d = codes.reshape(n, -1, 4)
        widths = (ref[:, 2] - ref[:, 0])[:, None]
        heights = (ref[:, 3] - ref[:, 1])[:, None]
        ctr_x = ref[:, 0][:, None] + 0.5 * widths
        ctr_y = ref[:, 1][:, None] + 0.5 * heights
        wx, wy, ww, wh = self.weights
        dw = clamp(d[:, :, 2] / ww, max=self.bbox_xform_clip)
        dh = clamp(d[:, :, 3] / wh, max=self.bbox_xform_clip)
        pred_x = d[:, :, 0] / wx * widths + ctr_x
        pred_y = d[:, :, 1] / wy * heights + ctr_y
        half_w = 0.5 * (exp(dw) * widths)
        half_h = 0.5 * (exp(dh) * heights)
        out = stack((pred_x - half_w, pred_y - half_h, pred_x + half_w, pred_y + half_h), dim=2)
        return out.reshape(n, -1)

    # ------------------------------------------------------------------ lists (one tensor per image)
    def encode(self, reference_boxes, proposals):
        """encode_single over lists of per-image tensors; returns a tuple of per-image codes."""
        sizes = [len(b) for b in reference_boxes]
        codes = self.encode_single(cat([_boxes(b, "BoxCoder.encode") for b in reference_boxes], dim=0),
                                   cat([_boxes(p, "BoxCoder.encode") for p in proposals], dim=0))
        return tuple(codes.split(sizes, 0))

    def decode(self, rel_codes, boxes) -> Tensor:
        """decode_single for codes of all images against a list of per-image boxes: (sum N, k, 4)."""
        sizes = [len(b) for b in boxes]
        total = sum(sizes)
        concat = cat([_boxes(b, "BoxCoder.decode") for b in boxes], dim=0)
        codes = _tensor(rel_codes)
        if total > 0:
            codes = codes.reshape(total, -1)
        pred = self.decode_single(codes, concat)
        return pred.reshape(total, -1, 4) if total > 0 else pred


__all__ = ["BoxCoder"]
