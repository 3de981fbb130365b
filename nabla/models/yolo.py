"""YOLO v1 (Redmon, Divvala, Girshick & Farhadi, CVPR 2016): detection as one regression from the image to an
S x S grid of B boxes with confidences and per-cell class probabilities, one forward pass.

    image (C, H, W) -> backbone: [conv3x3-BN-LeakyReLU(0.1), maxpool 2x2] x 3  (stride 8)
                                 -> conv3x3-BN-LeakyReLU(0.1) for each further width
                    -> head: conv1x1 to B*5 + K channels per cell  ->  (S_h, S_w, B*5 + K), S = H / 8

The paper's 24 conv layers + 2 full layers on 448x448 images (7x7 grid) shrink here to a small backbone
for 64x64 (8x8 grid) and 96x96 scenes (12x12 grid), trained from scratch with batch norm (YOLO v2's
addition; v1 had none); the head is a 1x1 convolution rather than full layers, so any image size works.
Per predictor (x, y, sqrt w, sqrt h, confidence) are sigmoids (the paper's outputs are linear; the
sigmoid keeps offsets inside the cell and sizes inside the image), the K class scores a softmax.
Parametrisation, assignment (one object per cell: the largest wins) and loss: ``nabla.vision.yolo``.

Default widths 16,32,64,96,96,96: 247k parameters for 10 classes, a receptive field of 70 px per cell
(the hard scenes' digits reach 49 px), ~24 MMAC per 64x64 image forward.

At test time each predictor's class-specific score is confidence * Pr(class | object) (the paper's
equation 2), a detection for every predictor and class above ``score_thresh``; the top ``_PRE_NMS_TOP_N``
of an image then go through per-class NMS (IoU > ``nms_thresh`` suppresses) and the best
``detections_per_img`` are kept.  NMS is the only per-image loop.

Training defaults (registry): Adam, lr 2e-3, batch 64, 3 epochs of 20,000 fresh scenes, cosine schedule.
Measured with them on this project's 2-core machine (shared, so wall times vary; images are the firm axis):
mnist-scenes test map_50 0.992, map_75 0.944, map 0.794 (valid map_50 0.983 after the first 20k images),
13.9 min wall; mnist-scenes-hard test map_50 0.930, map_75 0.687, map 0.595, 20.4 min wall.  Steady
training speed on the idle machine: ~220 images/s (64x64), ~95 images/s (96x96).
"""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..autograd.tensor import from_numpy
from ..vision.boxes import _nms_arrays
from ..vision.yolo import CONF_TARGETS, decode_boxes, yolo_v1_loss, yolo_v1_targets
from .options import parse_ints
from .registry import Option, register_model

_STRIDE_POOLS = 3          # three 2x2 max-pools: stride 8
_PRE_NMS_TOP_N = 1000      # candidates per image kept for NMS (an untrained model scores every one)


def parse_widths(widths) -> tuple:
    """"16,32,64,96,96,96" (or a sequence) -> (16, 32, 64, 96, 96, 96); at least 3 widths (one per pool)."""
    return parse_ints(widths, "widths", at_least=_STRIDE_POOLS, who="YOLOv1")


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict([("conv", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
                                      ("bn", nn.BatchNorm2d(c_out)), ("act", nn.LeakyReLU(0.1))]))


class YOLOv1(nn.Module):
    """The detector of the module docstring; ``forward(images, targets=None)`` follows nabla's detector
    contract: a dict of the four losses in training mode with targets, else a list of per-image dicts
    {"boxes" (n, 4) xyxy pixels, "scores" (n,), "labels" (n,) int64} in descending score."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, widths="16,32,64,96,96,96",
                 boxes_per_cell: int = 2, lambda_coord: float = 5.0, lambda_noobj: float = 0.5,
                 conf_target: str = "iou", score_thresh: float = 0.01, nms_thresh: float = 0.5,
                 detections_per_img: int = 100):
        super().__init__()
        if conf_target not in CONF_TARGETS:
            raise ValueError(f"YOLOv1: conf_target must be one of {CONF_TARGETS}, got {conf_target!r}")
        if boxes_per_cell < 1 or num_classes < 1 or detections_per_img < 1:
            raise ValueError(f"YOLOv1: boxes_per_cell ({boxes_per_cell}), num_classes ({num_classes}) and "
                             f"detections_per_img ({detections_per_img}) must be positive")
        widths = parse_widths(widths)
        self.num_classes, self.boxes_per_cell = int(num_classes), int(boxes_per_cell)
        self.lambda_coord, self.lambda_noobj, self.conf_target = float(lambda_coord), float(lambda_noobj), conf_target
        self.score_thresh, self.nms_thresh = float(score_thresh), float(nms_thresh)
        self.detections_per_img = int(detections_per_img)
        layers, c = OrderedDict(), in_channels
        for i, width in enumerate(widths):
            layers[f"conv{i + 1}"] = _conv_block(c, width)
            if i < _STRIDE_POOLS:
                layers[f"pool{i + 1}"] = nn.MaxPool2d(2, 2)
            c = width
        self.backbone = nn.Sequential(layers)
        self.head = nn.Conv2d(c, self.boxes_per_cell * 5 + self.num_classes, 1)

    def grid_outputs(self, images):
        """(box params (N, S_h, S_w, B, 4), confidence (N, S_h, S_w, B), class probs (N, S_h, S_w, K))."""
        out = self.head(self.backbone(images)).permute(0, 2, 3, 1)
        n, s_h, s_w, _ = out.shape
        nb = self.boxes_per_cell * 5
        boxes = out[..., :nb].sigmoid().reshape(n, s_h, s_w, self.boxes_per_cell, 5)
        return boxes[..., :4], boxes[..., 4], out[..., nb:].softmax(-1)

    def forward(self, images, targets=None):
        if images.ndim != 4:
            raise ValueError(f"YOLOv1: expected images of shape (N, C, H, W), got {tuple(images.shape)}")
        size = tuple(images.shape[-2:])
        if self.training and targets is not None:
            params, conf, probs = self.grid_outputs(images)
            t = yolo_v1_targets(targets, params.data, size, self.num_classes, self.conf_target)
            return yolo_v1_loss(params, conf, probs, t, self.lambda_coord, self.lambda_noobj)
        with no_grad():  # detections are index-valued arrays: no graph to keep
            params, conf, probs = self.grid_outputs(images)
            return self.postprocess(params.data, conf.data, probs.data, size)

    def postprocess(self, params: np.ndarray, conf: np.ndarray, probs: np.ndarray, image_size) -> list:
        """Class-specific scores conf * Pr(class), threshold, per-class NMS, best detections_per_img."""
        n, k = len(params), self.num_classes
        h, w = image_size
        boxes = decode_boxes(params, image_size).reshape(n, -1, 4)
        boxes = np.clip(boxes, 0, np.array([w, h, w, h], boxes.dtype))
        scores = (conf[..., None] * probs[:, :, :, None, :]).reshape(n, -1)   # (N, S_h S_w B K)
        out = []
        for i in range(n):  # NMS is per image (variable sizes), as torchvision's postprocess
            cand = np.flatnonzero(scores[i] > self.score_thresh)
            if len(cand) > _PRE_NMS_TOP_N:
                cand = cand[np.argpartition(-scores[i, cand], _PRE_NMS_TOP_N)[:_PRE_NMS_TOP_N]]
            b, s, lab = boxes[i, cand // k], scores[i, cand], cand % k
            keep = _nms_arrays(b, s, self.nms_thresh, groups=lab)[:self.detections_per_img]
            out.append({"boxes": from_numpy(np.ascontiguousarray(b[keep], np.float32)),
                        "scores": from_numpy(np.ascontiguousarray(s[keep], np.float32)),
                        "labels": from_numpy(lab[keep].astype(np.int64))})
        return out


@register_model("yolo", "YOLO v1 (Redmon et al. 2016): S x S grid, B boxes + confidence per cell, per-cell "
                "classes, sum-squared loss; stride 8", task="detection", default_dataset="mnist-scenes",
                training={"optimizer": "adam", "lr": 2e-3, "batch_size": 64, "epochs": 3},
                widths=Option("16,32,64,96,96,96", str, help="backbone conv widths; the first 3 each end in a 2x2 "
                              "max-pool (stride 8)"),
                boxes_per_cell=Option(2, int, help="B, predictors per grid cell"),
                lambda_coord=Option(5.0, float, help="weight of the box coordinate terms"),
                lambda_noobj=Option(0.5, float, help="weight of the confidence term of predictors without object"),
                conf_target=Option("iou", str, choices=CONF_TARGETS, help="confidence target of a responsible "
                                   "predictor: its IoU with the object (the paper) or 1"),
                score_thresh=Option(0.01, float, help="lowest class-specific score kept"),
                nms_thresh=Option(0.5, float, help="per-class NMS IoU threshold"),
                detections_per_img=Option(100, int, help="most detections per image"))
def _yolo(in_shape, num_classes, **options):
    return YOLOv1(num_classes=num_classes, in_channels=in_shape[0], **options)
