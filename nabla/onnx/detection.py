"""ONNX export of the detectors' networks: their raw outputs, several graph outputs; decoding and NMS stay in nabla.

A detector's ``forward`` ends in per-image, data-dependent post-processing (box decoding, thresholds, NMS,
variable-length lists), so the detector itself is refused; ``raw_outputs(detector)`` wraps it in a module whose
forward is the network alone, and that module exports:

  YOLOv1                 images -> boxes (N, S_h, S_w, B, 4) sigmoid (x, y, sqrt w, sqrt h), confidence
                         (N, S_h, S_w, B), class_probs (N, S_h, S_w, K)   (``YOLOv1.grid_outputs``; decode with
                         ``detector.postprocess(boxes, confidence, class_probs, (H, W))``)
  FasterRCNN             images, rois -> objectness (N, A, h, w), rpn_box_deltas (N, 4A, h, w) (the RPN head),
                         class_logits (R, K + 1), box_regression (R, 4 (K + 1)) for the given rois
  FastRCNN               images, rois -> class_logits, box_regression
  RCNN                   images, rois -> class_logits, box_regression (each roi dilated by the context and warped)
  SlidingWindowDetector  images -> class_logits (N, n, K + 1), box_regression (N, n, 4 (K + 1)) for its n fixed
                         windows ``detector.windows((H, W))``, built into the graph
``rois`` is nabla's (R, 5) float32 of (image index, x0, y0, x1, y1) in image pixels (the proposals: from
nabla's RPN post-processing of objectness and rpn_box_deltas, or selective search).  The RoI ops map to ONNX
RoiAlign (avg, ``coordinate_transformation_mode="half_pixel"``: nabla's aligned=True; sampling ratio <= 0 is
ONNX's adaptive 0) and MaxRoiPool (Fast R-CNN's RoIPool: the rounding and +1 extent of Caffe's and
torchvision's kernels, which ONNX's operator is).  ``detector.roi_heads.postprocess_flat(class_logits,
box_regression, boxes, image_index, image_shapes)`` turns the heads' outputs into detections.
Registered for ``nabla export`` as the "detection" task's target.

Faster R-CNN also exports as two graphs, the backbone run once: ``faster_rcnn_split.py``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd import Tensor
from ..models.crop_detector import CropDetector, WarpCrops
from ..models.fast_rcnn import FastRCNN
from ..models.faster_rcnn import FasterRCNN, TwoStageDetector
from ..models.sliding_window import SlidingWindowDetector
from ..models.yolo import YOLOv1
from ..vision.roi_heads import FastRCNNPredictor, RoIFeatures, TwoMLPHead
from .checkpoint import ExportTarget, export_target
from .graph import Value, onnx_emitter, unsupported
from .models import flatten1, relu


class RawOutputs(nn.Module):
    """``detector``'s network without its post-processing: ``forward(images[, rois])`` -> a tuple of tensors
    (the module docstring lists them per detector)."""

    def __init__(self, detector):
        super().__init__()
        if not isinstance(detector, (YOLOv1, TwoStageDetector, CropDetector)):
            raise TypeError(f"raw_outputs: no raw-output export for {type(detector).__name__}")
        self.detector = detector
        self.training = detector.training  # the wrapper's mode is the detector's (export restores it)

    @property
    def needs_rois(self) -> bool:
        return not isinstance(self.detector, (YOLOv1, SlidingWindowDetector))

    @property
    def output_names(self) -> list:
        d = self.detector
        if isinstance(d, YOLOv1):
            return ["boxes", "confidence", "class_probs"]
        rpn = ["objectness", "rpn_box_deltas"] if isinstance(d, FasterRCNN) else []
        return rpn + ["class_logits", "box_regression"]

    def forward(self, images, rois=None):
        d = self.detector
        if isinstance(d, YOLOv1):
            return d.grid_outputs(images)
        shapes = [tuple(images.shape[-2:])] * images.shape[0]
        heads = d.roi_heads
        if isinstance(d, SlidingWindowDetector):
            windows = d.windows(images.shape[-2:])
            rois = window_rois(windows, images.shape[0])
        rois = np.asarray(getattr(rois, "data", rois), np.float32)
        if isinstance(d, TwoStageDetector):
            features = d.backbone(images)
            pooled = heads.box_roi_pool(features, rois, shapes)
        else:
            pooled = heads.box_roi_pool(images, rois, shapes)
        cls, reg = heads.box_predictor(heads.box_head(pooled))
        if isinstance(d, SlidingWindowDetector):
            n = images.shape[0]
            cls, reg = cls.reshape(n, -1, cls.shape[-1]), reg.reshape(n, -1, reg.shape[-1])
        if isinstance(d, FasterRCNN):
            objectness, deltas = d.rpn.head([features])
            return objectness[0], deltas[0], cls, reg
        return cls, reg


def raw_outputs(detector) -> RawOutputs:
    """The exportable network of ``detector`` (see the module docstring)."""
    return RawOutputs(detector)


def window_rois(windows: np.ndarray, n_images: int) -> np.ndarray:
    """(n_images n, 5) rois: every image's copy of the same (n, 4) windows, image-major."""
    index = np.repeat(np.arange(n_images, dtype=np.float32), len(windows))[:, None]
    return np.concatenate([index, np.tile(windows.astype(np.float32), (n_images, 1))], axis=1)


@onnx_emitter(YOLOv1, FasterRCNN, FastRCNN, CropDetector)
def _refuse_detector(g, module, *values, path):
    raise unsupported(module, path, "its forward ends in box decoding and NMS; export "
                                    "nabla.onnx.detection.raw_outputs(detector), the network's raw outputs")


def _i64(g, values, hint: str) -> str:
    return g.constant(np.array(values, np.int64), hint)


def _slice(g, x: str, start: int, end: int, axis: int, hint: str) -> str:
    return g.node("Slice", [x, _i64(g, [start], f"{hint}.start"), _i64(g, [end], f"{hint}.end"),
                            _i64(g, [axis], f"{hint}.axis")], hint)


def _yolo(g, d, x: Value, path: str, out) -> tuple:
    """head(backbone(x)) permuted to (N, S_h, S_w, B 5 + K); sigmoid of the B 5 box channels reshaped to
    (N, S_h, S_w, B, 5) -> params (..., :4) and confidence (..., 4); softmax of the K class channels."""
    h = g.emit(d.head, g.emit(d.backbone, x, path=f"{path}.backbone"), path=f"{path}.head")
    t = g.node("Transpose", [h.name], f"{path}.nhwc", perm=[0, 2, 3, 1])
    nb, channels = d.boxes_per_cell * 5, h.shape[1]
    s_h, s_w = h.shape[2:]
    boxes = g.node("Sigmoid", [_slice(g, t, 0, nb, 3, f"{path}.box_channels")], f"{path}.box_sigmoid")
    boxes = g.node("Reshape", [boxes, _i64(g, [0, s_h, s_w, d.boxes_per_cell, 5], f"{path}.box_shape")],
                   f"{path}.per_box")
    params = _slice(g, boxes, 0, 4, 4, f"{path}.params")
    conf = g.node("Squeeze", [_slice(g, boxes, 4, 5, 4, f"{path}.conf5"), _i64(g, [4], f"{path}.axis4")],
                  f"{path}.confidence")
    probs = g.node("Softmax", [_slice(g, t, nb, channels, 3, f"{path}.class_channels")], f"{path}.class_probs",
                   axis=-1)
    return tuple(Value(name, o) for name, o in zip((params, conf, probs), out))


def roi_features(g, module, features: Value, rois: Value, path: str, out, scale: float) -> Value:
    """RoIAlign (aligned, avg) -> ONNX RoiAlign(half_pixel) on rois[:, 1:] with batch indices rois[:, 0];
    RoIPool -> ONNX MaxRoiPool on the (R, 5) rois as they are."""
    p = module.output_size
    ph, pw = (p, p) if isinstance(p, int) else p
    if isinstance(module, RoIFeatures) and module.op == "pool":
        return Value(g.node("MaxRoiPool", [features.name, rois.name], path, pooled_shape=[int(ph), int(pw)],
                            spatial_scale=float(scale)), out)
    boxes = _slice(g, rois.name, 1, 5, 1, f"{path}.boxes")
    index = g.node("Cast", [g.node("Squeeze", [_slice(g, rois.name, 0, 1, 1, f"{path}.index_col"),
                                               _i64(g, [1], f"{path}.axis1")], f"{path}.index_f")],
                   f"{path}.batch_indices", to=7)  # 7: INT64
    if isinstance(module, WarpCrops):
        boxes = _dilate(g, boxes, module.context, path)
    return Value(g.node("RoiAlign", [features.name, boxes, index], path, mode="avg", output_height=int(ph),
                        output_width=int(pw), sampling_ratio=max(int(module.sampling_ratio), 0),
                        spatial_scale=float(scale), coordinate_transformation_mode="half_pixel"), out)


def _dilate(g, boxes: str, context: float, path: str) -> str:
    """WarpCrops.dilate: boxes + [-k, -k, k, k] * [w, h, w, h], k = context / (1 - 2 context)."""
    k = context / (1.0 - 2.0 * context)
    wh = g.node("Sub", [_slice(g, boxes, 2, 4, 1, f"{path}.corner1"), _slice(g, boxes, 0, 2, 1, f"{path}.corner0")],
                f"{path}.wh")
    wh2 = g.node("Concat", [wh, wh], f"{path}.whwh", axis=1)
    grow = g.constant(np.array([-k, -k, k, k], np.float32), f"{path}.grow")
    return g.node("Add", [boxes, g.node("Mul", [wh2, grow], f"{path}.margin")], f"{path}.dilated")


def _heads(g, heads, pooled: Value, path: str) -> tuple:
    """box_head (TwoMLPHead, or CropNet: a Sequential) then box_predictor: (class_logits, box_regression)."""
    feats = g.emit(heads.box_head, pooled, path=f"{path}.box_head")
    return g.emit(heads.box_predictor, feats, path=f"{path}.box_predictor")


@onnx_emitter(TwoMLPHead)
def _two_mlp_head(g, module, x, path):
    h = relu(g, g.emit(module.fc6, flatten1(g, x, path), path=f"{path}.fc6"), f"{path}.fc6")
    return relu(g, g.emit(module.fc7, h, path=f"{path}.fc7"), f"{path}.fc7")


@onnx_emitter(FastRCNNPredictor)
def _predictor(g, module, x, path):
    x = flatten1(g, x, path) if len(x.shape) != 2 else x
    return g.emit(module.cls_score, x, path=f"{path}.cls_score"), g.emit(module.bbox_pred, x, path=f"{path}.bbox_pred")


def _window_rois(g, images: Value, windows: np.ndarray, path: str) -> Value:
    """The (N n, 5) rois of ``window_rois`` for the graph's own batch size N: image index repeat(arange(N), n)
    beside the windows tiled N times."""
    n = len(windows)
    batch = g.node("Gather", [g.node("Shape", [images.name], f"{path}.image_shape"), _i64(g, [0], f"{path}.zero")],
                   f"{path}.batch")                                                            # (1,)
    shape3 = g.node("Concat", [batch, _i64(g, [n, 4], f"{path}.n4")], f"{path}.tile_shape", axis=0)
    tiled = g.node("Expand", [g.constant(windows[None].astype(np.float32), f"{path}.windows"), shape3],
                   f"{path}.tiled")
    index = g.node("Range", [g.constant(np.array(0, np.int64), f"{path}.r0"),
                             g.node("Squeeze", [batch], f"{path}.n_images"),
                             g.constant(np.array(1, np.int64), f"{path}.r1")], f"{path}.image_index")
    index = g.node("Cast", [g.node("Unsqueeze", [index, _i64(g, [1, 2], f"{path}.axes12")], f"{path}.index3")],
                   f"{path}.index_f", to=1)  # 1: FLOAT
    shape1 = g.node("Concat", [batch, _i64(g, [n, 1], f"{path}.n1")], f"{path}.index_shape", axis=0)
    index = g.node("Expand", [index, shape1], f"{path}.index_tiled")
    rois = g.node("Concat", [index, tiled], f"{path}.rois3", axis=2)
    rois = g.node("Reshape", [rois, _i64(g, [-1, 5], f"{path}.flat")], f"{path}.rois")
    return Value(rois, Tensor(window_rois(windows, images.shape[0])))


@onnx_emitter(RawOutputs)
def _raw_outputs(g, module, images, rois=None, path="model"):
    """The wrapped detector's network under the detector's own paths (weights keep its state_dict names)."""
    d = module.detector
    if module.needs_rois != (rois is not None):
        raise unsupported(d, path, f"export with inputs {'(images, rois)' if module.needs_rois else '(images,)'}")
    out = module(images.tensor, None if rois is None else rois.tensor)
    if isinstance(d, YOLOv1):
        return _yolo(g, d, images, path, out)
    heads = d.roi_heads
    if isinstance(d, SlidingWindowDetector):
        rois = _window_rois(g, images, d.windows(images.shape[-2:]), path)
    features, scale = images, 1.0
    if isinstance(d, TwoStageDetector):
        features = g.emit(d.backbone, images, path=f"{path}.backbone")
        scale = 2.0 ** round(math.log2(features.shape[-2] / images.shape[-2]))
    pooled_tensor = heads.box_roi_pool(features.tensor, rois.tensor.data, [tuple(images.shape[-2:])])
    pooled = roi_features(g, heads.box_roi_pool, features, rois, f"{path}.roi_heads.box_roi_pool", pooled_tensor,
                          scale)
    cls, reg = _heads(g, heads, pooled, f"{path}.roi_heads")
    if isinstance(d, SlidingWindowDetector):
        n = len(d.windows(images.shape[-2:]))
        shape = lambda v, h: _i64(g, [-1, n, v.shape[-1]], f"{path}.{h}_shape")  # noqa: E731
        cls = Value(g.node("Reshape", [cls.name, shape(cls, "cls")], f"{path}.class_logits"), out[0])
        reg = Value(g.node("Reshape", [reg.name, shape(reg, "reg")], f"{path}.box_regression"), out[1])
    if not isinstance(d, FasterRCNN):
        return cls, reg
    return (*_rpn_head(g, d.rpn.head, features, f"{path}.rpn.head"), cls, reg)


def _rpn_head(g, head, features: Value, path: str) -> tuple:
    """RPNHead on one map: relu(conv 3x3) -> (cls_logits 1x1: objectness, bbox_pred 1x1: deltas)."""
    t = relu(g, g.emit(head.conv, features, path=f"{path}.conv"), path)
    return g.emit(head.cls_logits, t, path=f"{path}.cls_logits"), g.emit(head.bbox_pred, t, path=f"{path}.bbox_pred")


def random_rois(rng, batch: int, size, per_image: int = 4) -> np.ndarray:
    """(batch per_image, 5) rois of random boxes, some crossing the image border (as proposals may)."""
    h, w = size
    n = batch * per_image
    x0, y0 = rng.uniform(-0.1 * w, 0.8 * w, n), rng.uniform(-0.1 * h, 0.8 * h, n)
    x1, y1 = x0 + rng.uniform(2, 0.6 * w, n), y0 + rng.uniform(2, 0.6 * h, n)
    index = np.repeat(np.arange(batch), per_image)
    return np.stack([index, x0, y0, x1, y1], axis=1).astype(np.float32)


@export_target("detection")
def detection_target(model, config) -> ExportTarget:
    """``raw_outputs(model)`` on random images of ``in_shape`` (and random rois, 4 per image, where it takes
    rois); the images' batch axis and the rois' count are dynamic.  A Faster R-CNN's split graphs come with it
    as companions (``nabla export --out model.onnx`` also writes model.features.onnx and model.heads.onnx)."""
    net = raw_outputs(model)
    in_shape = tuple(int(d) for d in config["in_shape"])

    def inputs(batch, rng):
        images = rng.standard_normal((batch, *in_shape)).astype(np.float32)
        return [images, random_rois(rng, batch, in_shape[1:])] if net.needs_rois else [images]
    names = ["images", "rois"] if net.needs_rois else ["images"]
    axes = {"images": {0: "batch"}, **({"rois": {0: "num_rois"}} if net.needs_rois else {})}
    for name in net.output_names:
        axes[name] = {0: "num_rois" if name in ("class_logits", "box_regression") and net.needs_rois else "batch"}
    what = f"images (batch, {', '.join(map(str, in_shape))})" + (", rois (num_rois, 5)" if net.needs_rois else "")
    split = ()
    if isinstance(model, FasterRCNN):
        from .faster_rcnn_split import split_targets  # it builds on this module's emitters
        split = tuple(zip(("features", "heads"), split_targets(model, in_shape)))
    return ExportTarget(net, inputs, what, input_names=names, output_names=net.output_names, dynamic_axes=axes,
                        companions=split)
