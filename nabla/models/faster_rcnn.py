"""Faster R-CNN (Ren, He, Girshick & Sun 2015), sized for MNIST scenes, with torchvision's structure
(``torchvision.models.detection.FasterRCNN``: backbone -> RPN -> RoI heads):

    image (B, 1, H, W) -> backbone: conv3x3-BN-ReLU stages, 2x2 max pools after the first three (stride 8)
      -> RPN: 3x3 conv, per anchor an objectness logit and 4 deltas; anchors of sizes 14, 22 px and h/w ratios
         1, 2, 4 on the stride-8 map (64x64 scenes; 96x96 scenes get 16, 26, 40 px); proposals by NMS 0.7
      -> RoIAlign 7x7 (sampling_ratio 2, aligned) of each proposal -> fc 256 -> fc 256
      -> sibling outputs: K + 1 class scores, class-specific box deltas (weights 10, 10, 5, 5)

trained end to end on the sum of loss_objectness, loss_rpn_box_reg, loss_classifier and loss_box_reg.
The RPN's counts are the calibration run's (shared/VISION-GENERATIVE.md section 6.2), not the paper's
(objects per scene are few): 200 anchors before NMS, 50 proposals after it in training, 30 at test; 256
anchors and 64 RoIs sampled per image.

``Backbone`` and ``TwoStageDetector`` are shared with Fast R-CNN (``fast_rcnn.py``), which replaces the
RPN by selective-search proposals.
"""
from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections import OrderedDict

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor, from_numpy
from ..vision.anchors import AnchorGenerator
from ..vision.roi_heads import FastRCNNPredictor, RoIFeatures, RoIHeads, TwoMLPHead
from ..vision.rpn import RegionProposalNetwork, RPNHead
from .options import parse_floats, parse_ints
from .registry import Option, register_model

ROI_SIZE = 7
POOLED_STAGES = 3  # a 2x2 max pool after each of the first three stages: stride 8


class Backbone(nn.Sequential):
    """conv3x3-BN-ReLU stages of the given widths, a 2x2 max pool after each of the first three (stride 8);
    ``out_channels`` is the last width (torchvision's backbone attribute)."""

    def __init__(self, in_channels: int, widths=(16, 32, 64, 64, 64)):
        if len(widths) < POOLED_STAGES:
            raise ValueError(f"Backbone: needs at least {POOLED_STAGES} widths (stride 8), got {tuple(widths)}")
        layers, c = OrderedDict(), in_channels
        for i, w in enumerate(widths):
            layers[f"conv{i + 1}"] = nn.Conv2d(c, w, kernel_size=3, padding=1, bias=False)
            layers[f"bn{i + 1}"] = nn.BatchNorm2d(w)
            layers[f"relu{i + 1}"] = nn.ReLU()
            if i < POOLED_STAGES:
                layers[f"pool{i + 1}"] = nn.MaxPool2d(2)
            c = w
        super().__init__(layers)
        self.out_channels = c


def box_heads(out_channels: int, num_classes: int, representation_size: int, roi_op: str, **head_options):
    """RoIHeads with RoI features (align or pool, 7x7), TwoMLPHead and FastRCNNPredictor (K + 1 classes)."""
    return RoIHeads(TwoMLPHead(out_channels * ROI_SIZE * ROI_SIZE, representation_size),
                    FastRCNNPredictor(representation_size, num_classes + 1),
                    box_roi_pool=RoIFeatures(ROI_SIZE, sampling_ratio=2, op=roi_op), **head_options)


class TwoStageDetector(nn.Module, metaclass=ABCMeta):
    """backbone -> proposals -> roi_heads, under the detector contract (``forward(images, targets=None)``:
    a loss dict in training with targets, else per-image dicts of boxes, scores, labels in 0..K-1).
    Subclasses say where proposals come from: ``proposals(images, features, targets) -> (list, losses)``."""

    def __init__(self, backbone, roi_heads, num_classes: int):
        super().__init__()
        self.backbone = backbone
        self.roi_heads = roi_heads
        self.num_classes = int(num_classes)

    @abstractmethod
    def proposals(self, images, features, targets):
        """``(list of per-image (n_i, 4) boxes, dict of proposal losses)``: the RPN's, or external ones."""

    def propose(self, images) -> list:
        """The class-agnostic proposals the box head would see for ``images`` (eval mode, no targets): one
        (n_i, 4) array per image; the detectors experiment counts them and measures their recall."""
        images = images if isinstance(images, Tensor) else from_numpy(np.ascontiguousarray(images, np.float32))
        with no_grad():
            boxes, _ = self.proposals(images, self.backbone(images), None)
        return [np.asarray(b.data if isinstance(b, Tensor) else b) for b in boxes]

    def forward(self, images, targets=None):
        if images.ndim != 4:
            raise ValueError(f"{type(self).__name__}: expected images (B, C, H, W), got shape {tuple(images.shape)}")
        training = self.training and targets is not None
        features = self.backbone(images)
        proposals, losses = self.proposals(images, features, targets if training else None)
        image_shapes = [tuple(images.shape[-2:])] * images.shape[0]
        heads_training = self.roi_heads.training
        self.roi_heads.training = training  # without targets the heads post-process even in training mode
        try:
            detections, head_losses = self.roi_heads(features, proposals, image_shapes, targets if training else None)
        finally:
            self.roi_heads.training = heads_training
        return {**losses, **head_losses} if training else detections


class FasterRCNN(TwoStageDetector):
    """Backbone, RegionProposalNetwork and RoIHeads (see the module docstring)."""

    def __init__(self, backbone, rpn, roi_heads, num_classes: int):
        super().__init__(backbone, roi_heads, num_classes)
        self.rpn = rpn

    def proposals(self, images, features, targets):
        return self.rpn(images, [features], targets)


def default_anchor_sizes(image_size: int) -> tuple:
    """Anchor sizes (sqrt(w h), px) for the digits of a scene set: native MNIST digits (boxes ~16 x 20)
    in 64x64 scenes, digits resized to 20-49 px in 96x96 ones."""
    return (14, 22) if image_size <= 64 else (16, 26, 40)


def faster_rcnn(in_shape, num_classes: int, widths="16,32,64,64,64", representation_size: int = 256,
                anchor_sizes="", aspect_ratios="1,2,4", rpn_pre_nms_top_n_train: int = 200,
                rpn_post_nms_top_n_train: int = 50, rpn_pre_nms_top_n_test: int = 200,
                rpn_post_nms_top_n_test: int = 30, rpn_batch_size_per_image: int = 256,
                box_batch_size_per_image: int = 64, roi_op: str = "align", score_thresh: float = 0.01,
                nms_thresh: float = 0.5, detections_per_img: int = 100) -> FasterRCNN:
    """A FasterRCNN for images of in_shape (C, H, W) and num_classes foreground classes."""
    backbone = Backbone(in_shape[0], parse_ints(widths, "widths"))
    sizes = parse_ints(anchor_sizes, "anchor_sizes") if anchor_sizes else default_anchor_sizes(max(in_shape[1:]))
    ratios = parse_floats(aspect_ratios, "aspect_ratios")
    anchors = AnchorGenerator((sizes,), (ratios,))
    rpn = RegionProposalNetwork(
        anchors, RPNHead(backbone.out_channels, anchors.num_anchors_per_location()[0]),
        batch_size_per_image=rpn_batch_size_per_image,
        pre_nms_top_n={"training": rpn_pre_nms_top_n_train, "testing": rpn_pre_nms_top_n_test},
        post_nms_top_n={"training": rpn_post_nms_top_n_train, "testing": rpn_post_nms_top_n_test})
    heads = box_heads(backbone.out_channels, num_classes, representation_size, roi_op,
                      batch_size_per_image=box_batch_size_per_image, score_thresh=score_thresh,
                      nms_thresh=nms_thresh, detections_per_img=detections_per_img)
    return FasterRCNN(backbone, rpn, heads, num_classes)


@register_model(
    "faster-rcnn", "Faster R-CNN (Ren et al. 2015): conv backbone, region proposal network, RoIAlign box head",
    task="detection", default_dataset="mnist-scenes",
    # the rate follows the time budget down (warmup-cosine without warm-up), so a slow machine still ends
    # on a decayed rate; 1,200 s leaves room for evaluation inside 30 minutes
    training={"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "time_budget": 1200.0, "epochs": 5,
              "scheduler": "warmup-cosine", "warmup": 0, "min_lr_ratio": 0.02},
    widths=Option("16,32,64,64,64", help="backbone widths (stride 8: pools after the first three)"),
    representation_size=Option(256, help="width of the two fc layers of the box head"),
    anchor_sizes=Option("", help="anchor sizes in px, e.g. '14,22' (empty: by image size)"),
    aspect_ratios=Option("1,2,4", help="anchor h/w ratios"),
    rpn_pre_nms_top_n_train=200, rpn_post_nms_top_n_train=50, rpn_pre_nms_top_n_test=200,
    rpn_post_nms_top_n_test=30, rpn_batch_size_per_image=256, box_batch_size_per_image=64,
    roi_op=Option("align", choices=("align", "pool"), help="RoIAlign 7x7 or RoIPool 7x7"),
    score_thresh=0.01, nms_thresh=0.5, detections_per_img=100)
def _faster_rcnn(in_shape, num_classes, **options):
    return faster_rcnn(in_shape, num_classes, **options)


__all__ = ["FasterRCNN", "TwoStageDetector", "Backbone", "box_heads", "faster_rcnn"]
