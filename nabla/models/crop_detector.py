"""Detectors that classify image crops: the sliding-window detector and R-CNN share everything but where
their regions come from.

    image (B, C, H, W) -> regions (windows, or selective-search proposals) per image
      -> each region, dilated by a context margin, warped to S x S by bilinear RoIAlign on the image
         (aligned=True: a region's pixels map exactly onto the crop's grid)
      -> CropNet: conv3x3-BN-ReLU-maxpool stages -> fc -> ReLU        (one CNN pass per region)
      -> FastRCNNPredictor: K + 1 class scores, class-specific box deltas (BoxCoder weights 10, 10, 5, 5)

Training and inference go through ``nabla.vision.roi_heads.RoIHeads``: the ground-truth boxes join the
regions, regions at IoU >= 0.5 with a box are its class (d + 1), the rest background (0); 64 regions
sampled per image with at most 25 % foreground; loss = cross-entropy + smooth L1 on the true class's
deltas; at inference softmax, decoding, clipping, score > score_thresh, per-class NMS, the best
detections_per_img.  Labels come back in 0..K-1.

Context (R-CNN, Girshick et al. 2014, appendix A): the region is dilated so that, once warped to 227 px,
16 px of image surround it on every side: a margin of ``context`` = 16/227 of the crop on each side, i.e.
the region grows by ``context / (1 - 2 context)`` of its width (height) on each side.  Warping is
anisotropic ("warp" in the paper), out-of-image samples are zero (the scenes' background).

At inference the regions of a batch pass through the CNN in chunks of ``eval_chunk`` (a sliding-window
detector has hundreds of windows per image); the predictions are the same as in one pass (BatchNorm uses
its running statistics).
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections import OrderedDict

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..vision.roi_align import roi_align
from ..vision.roi_heads import FastRCNNPredictor, RoIHeads, flatten_boxes

# R-CNN's context: 16 px of a 227 px warped crop on each side
RCNN_CONTEXT = 16.0 / 227.0


class WarpCrops(nn.Module):
    """Regions -> crops (R, C, S, S): each region dilated by ``context`` (see the module docstring) and
    warped by roi_align(aligned=True, sampling_ratio) at spatial scale 1 on the image itself.  Called as
    RoIHeads calls its RoI op: ``(images, rois (R, 5) of (image index, x0, y0, x1, y1), image_shapes)``."""

    def __init__(self, output_size: int = 24, context: float = RCNN_CONTEXT, sampling_ratio: int = -1):
        super().__init__()
        if not 0 <= context < 0.5:
            raise ValueError(f"WarpCrops: context must be in [0, 0.5) of the crop, got {context}")
        self.output_size, self.context, self.sampling_ratio = int(output_size), float(context), int(sampling_ratio)

    def dilate(self, boxes: np.ndarray) -> np.ndarray:
        """Boxes (R, 4) grown by context / (1 - 2 context) of their size on each side."""
        grow = self.context / (1.0 - 2.0 * self.context)
        wh = np.concatenate([boxes[:, 2:] - boxes[:, :2]] * 2, axis=1) * np.array([-grow, -grow, grow, grow])
        return (boxes + wh).astype(boxes.dtype, copy=False)

    def forward(self, images, rois, image_shapes=None):
        rois = np.asarray(rois, dtype=np.float32).reshape(-1, 5)
        boxes = np.concatenate([rois[:, :1], self.dilate(rois[:, 1:])], axis=1)
        # the adaptive sampling ratio (-1) averages ceil(region / crop) samples a bin: antialiasing
        return roi_align(images, boxes, self.output_size, 1.0, self.sampling_ratio, aligned=True)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, context={self.context:.4f}, sampling_ratio={self.sampling_ratio}"


class CropNet(nn.Sequential):
    """The per-region CNN (RoIHeads' box head): conv3x3-BN-ReLU-maxpool2 stages of ``widths`` on S x S
    crops, flatten, fc to ``representation_size``, ReLU.  ``out_features`` is that size."""

    def __init__(self, in_channels: int, crop_size: int, widths=(16, 32, 64), representation_size: int = 128):
        side, layers, c = int(crop_size), OrderedDict(), in_channels
        if side >> len(widths) < 1:
            raise ValueError(f"CropNet: {len(widths)} pooling stages need crops of at least {2 ** len(widths)} px, "
                             f"got {crop_size}")
        for i, w in enumerate(widths):
            layers[f"conv{i + 1}"] = nn.Conv2d(c, w, kernel_size=3, padding=1, bias=False)
            layers[f"bn{i + 1}"] = nn.BatchNorm2d(w)
            layers[f"relu{i + 1}"] = nn.ReLU()
            layers[f"pool{i + 1}"] = nn.MaxPool2d(2)
            c, side = w, side // 2
        layers["flatten"] = nn.Flatten()
        layers["fc"] = nn.Linear(c * side * side, representation_size)
        layers["relu_fc"] = nn.ReLU()
        super().__init__(layers)
        self.out_features = int(representation_size)


def crop_heads(in_channels: int, num_classes: int, crop_size: int, context: float, widths, representation_size: int,
               **head_options) -> RoIHeads:
    """RoIHeads whose RoI op warps image crops (WarpCrops), box head CropNet, predictor K + 1 classes."""
    net = CropNet(in_channels, crop_size, widths, representation_size)
    return RoIHeads(net, FastRCNNPredictor(net.out_features, num_classes + 1),
                    box_roi_pool=WarpCrops(crop_size, context), **head_options)


class CropDetector(nn.Module, metaclass=ABCMeta):
    """regions -> warped crops -> CropNet -> K + 1 scores and deltas, under the detector contract
    (``forward(images, targets=None)``: a loss dict in training with targets, else per-image dicts of boxes,
    scores, labels in 0..K-1).  Subclasses give the regions: ``propose(images) -> list of (n_i, 4) float32``."""

    def __init__(self, roi_heads: RoIHeads, num_classes: int, eval_chunk: int = 4096):
        super().__init__()
        self.roi_heads = roi_heads
        self.num_classes = int(num_classes)
        self.eval_chunk = int(eval_chunk)

    @abstractmethod
    def propose(self, images) -> list:
        """The regions of each image: a list of (n_i, 4) float32 xyxy arrays (windows or proposals)."""

    def forward(self, images, targets=None):
        if images.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected images (B, C, H, W), got shape {tuple(images.shape)}")
        regions = self.propose(images)
        shapes = [tuple(images.shape[-2:])] * images.shape[0]
        if self.training and targets is not None:
            _, losses = self.roi_heads(images, regions, shapes, targets)
            return losses
        return self.detect(images, regions, shapes)

    def detect(self, images, regions, shapes) -> list:
        """Per-image detections: the regions' scores and deltas in chunks, then RoIHeads' post-processing."""
        heads = self.roi_heads
        rois, image_index = flatten_boxes(regions)
        roi5 = np.concatenate([image_index[:, None].astype(np.float32), rois], axis=1)
        logits, deltas = [], []
        with no_grad():
            for start in range(0, len(roi5), self.eval_chunk):
                crops = heads.box_roi_pool(images, roi5[start:start + self.eval_chunk], shapes)
                cls, reg = heads.box_predictor(heads.box_head(crops))
                logits.append(cls.data)
                deltas.append(reg.data)
        k1 = self.num_classes + 1
        logits = np.concatenate(logits) if logits else np.zeros((0, k1), np.float32)
        deltas = np.concatenate(deltas) if deltas else np.zeros((0, 4 * k1), np.float32)
        return heads.postprocess_flat(logits, deltas, rois, image_index, shapes)


def image_array(images) -> np.ndarray:
    """The images' NumPy array (a Tensor's data)."""
    return images.data if isinstance(images, Tensor) else np.asarray(images)


__all__ = ["CropDetector", "CropNet", "WarpCrops", "crop_heads", "RCNN_CONTEXT", "image_array"]
