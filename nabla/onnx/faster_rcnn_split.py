"""Faster R-CNN as two ONNX graphs, so that a pipeline runs the backbone once.

The split (``split_faster_rcnn``,
``export_faster_rcnn_split(detector, in_shape, "model.onnx")`` -> model.features.onnx, model.heads.onnx; ``nabla
export`` writes both beside its model.onnx):

  graph 1  images -> features (N, C, h, w) (the backbone's map), objectness (N, A, h, w), rpn_box_deltas (N, 4A, h, w)
  graph 2  features, rois -> class_logits (R, K + 1), box_regression (R, 4 (K + 1))

and a pipeline (``two_graph_detections``) runs graph 1; ``rpn_proposals`` (nabla's RPN post-processing:
``concat_box_prediction_layers``, the anchor generator's anchors, ``decode_boxes``, ``rpn.filter_proposals``:
top-n, clip, min size, NMS); ``proposal_rois`` (the (R, 5) rois); graph 2; ``roi_heads.postprocess_flat``.
"""
from __future__ import annotations

import math
import os

import numpy as np

from .. import nn
from ..autograd import Tensor, no_grad
from ..models.faster_rcnn import FasterRCNN
from ..vision.roi_heads import flatten_boxes
from ..vision.rpn import concat_box_prediction_layers
from .checkpoint import ExportTarget
from .detection import _heads, _rpn_head, random_rois, roi_features
from .export import export
from .graph import onnx_emitter


class FasterRCNNFeatures(nn.Module):
    """Graph 1 of a split Faster R-CNN: ``forward(images)`` -> (features (N, C, h, w): the backbone's map,
    objectness (N, A, h, w), rpn_box_deltas (N, 4A, h, w)): the backbone runs once, its map is kept for graph 2."""

    output_names = ["features", "objectness", "rpn_box_deltas"]

    def __init__(self, detector):
        super().__init__()
        if not isinstance(detector, FasterRCNN):
            raise TypeError(f"split_faster_rcnn: expected a FasterRCNN, got {type(detector).__name__}")
        self.detector = detector
        self.training = detector.training

    def forward(self, images):
        features = self.detector.backbone(images)
        objectness, deltas = self.detector.rpn.head([features])
        return features, objectness[0], deltas[0]


class FasterRCNNBoxHeads(nn.Module):
    """Graph 2 of a split Faster R-CNN: ``forward(features, rois)`` -> (class_logits (R, K + 1), box_regression
    (R, 4 (K + 1))): the RoI heads on a given feature map, for images of ``image_size`` (H, W) (the RoI op's
    spatial scale 2 ** round(log2(h / H)) is built into the graph)."""

    output_names = ["class_logits", "box_regression"]

    def __init__(self, detector, image_size):
        super().__init__()
        if not isinstance(detector, FasterRCNN):
            raise TypeError(f"split_faster_rcnn: expected a FasterRCNN, got {type(detector).__name__}")
        self.detector = detector
        self.image_size = tuple(int(s) for s in image_size)
        self.training = detector.training

    def forward(self, features, rois):
        heads = self.detector.roi_heads
        pooled = heads.box_roi_pool(features, np.asarray(getattr(rois, "data", rois), np.float32), [self.image_size])
        return heads.box_predictor(heads.box_head(pooled))


def split_faster_rcnn(detector, image_size) -> tuple:
    """(FasterRCNNFeatures, FasterRCNNBoxHeads) of ``detector`` for images of ``image_size`` (H, W); their
    weights are the detector's (its state_dict names)."""
    return FasterRCNNFeatures(detector), FasterRCNNBoxHeads(detector, image_size)


@onnx_emitter(FasterRCNNFeatures)
def _features_graph(g, module, images, path):
    d = module.detector
    features = g.emit(d.backbone, images, path=f"{path}.backbone")
    return (features, *_rpn_head(g, d.rpn.head, features, f"{path}.rpn.head"))


@onnx_emitter(FasterRCNNBoxHeads)
def _box_heads_graph(g, module, features, rois, path):
    heads = module.detector.roi_heads
    scale = 2.0 ** round(math.log2(features.shape[-2] / module.image_size[0]))
    pooled_tensor = heads.box_roi_pool(features.tensor, rois.tensor.data, [module.image_size])
    pooled = roi_features(g, heads.box_roi_pool, features, rois, f"{path}.roi_heads.box_roi_pool", pooled_tensor,
                          scale)
    return _heads(g, heads, pooled, f"{path}.roi_heads")


SPLIT_AXES = ({"images": {0: "batch"}, "features": {0: "batch"}, "objectness": {0: "batch"},
               "rpn_box_deltas": {0: "batch"}},
              {"features": {0: "batch"}, "rois": {0: "num_rois"}, "class_logits": {0: "num_rois"},
               "box_regression": {0: "num_rois"}})


def split_paths(path) -> tuple:
    """Where the two graphs go for an export to ``path``: model.onnx -> (model.features.onnx, model.heads.onnx)."""
    root, ext = os.path.splitext(os.fspath(path))
    return f"{root}.features{ext or '.onnx'}", f"{root}.heads{ext or '.onnx'}"


def split_targets(detector, in_shape) -> tuple:
    """The ExportTargets of graph 1 (random normal images of ``in_shape`` (C, H, W)) and graph 2 (features |normal|
    of the backbone's map shape, as after its ReLU, and random rois, 3 per image); batch and roi count dynamic."""
    in_shape = tuple(int(d) for d in in_shape)
    features, heads = split_faster_rcnn(detector, in_shape[1:])
    map_shape = _map_shape(detector, in_shape)

    def images(batch, rng):
        return [rng.standard_normal((batch, *in_shape)).astype(np.float32)]

    def maps_and_rois(batch, rng):
        return [np.abs(rng.standard_normal((batch, *map_shape))).astype(np.float32),
                random_rois(rng, batch, in_shape[1:], 3)]
    shape = ", ".join(map(str, in_shape))
    return (ExportTarget(features, images, f"images (batch, {shape})", ["images"], features.output_names,
                         SPLIT_AXES[0]),
            ExportTarget(heads, maps_and_rois, f"features (batch, {', '.join(map(str, map_shape))}), rois "
                         f"(num_rois, 5) of ({shape}) images", ["features", "rois"], heads.output_names,
                         SPLIT_AXES[1]))


def _map_shape(detector, in_shape) -> tuple:
    """The backbone's (C, h, w) for images of in_shape, run in eval mode (training mode would move BN's stats)."""
    was_training = detector.training
    detector.eval()
    try:
        with no_grad():
            return tuple(detector.backbone(Tensor(np.zeros((1, *in_shape), np.float32))).shape[1:])
    finally:
        detector.train(was_training)


def export_faster_rcnn_split(detector, in_shape, path, opset_version: int = 17) -> tuple:
    """Write graph 1 (images -> features, objectness, rpn_box_deltas) and graph 2 (features, rois -> class_logits,
    box_regression) to ``split_paths(path)``, for images of ``in_shape`` (C, H, W); the batch and the number of
    rois are dynamic.  Returns the two paths."""
    paths = split_paths(path)
    for target, out in zip(split_targets(detector, in_shape), paths):
        export(target.module, target.inputs(2, np.random.default_rng(0)), out, opset_version,
               input_names=target.input_names, output_names=target.output_names, dynamic_axes=target.dynamic_axes)
    return paths


def rpn_proposals(detector, image_size, objectness, rpn_box_deltas) -> list:
    """Graph 1's objectness and deltas -> per-image (n_i, 4) proposals, as ``RegionProposalNetwork.forward`` makes
    them after its head: ``concat_box_prediction_layers``, the anchors of ``rpn.anchor_generator``, then
    ``rpn.proposals_from`` (decoding; top-n, clip, min size, NMS: the counts of the detector's mode, eval for
    inference)."""
    rpn = detector.rpn
    objectness, deltas = concat_box_prediction_layers([Tensor(np.asarray(objectness, np.float32))],
                                                      [Tensor(np.asarray(rpn_box_deltas, np.float32))])
    grid = np.empty((1, 1, *np.shape(rpn_box_deltas)[-2:]), np.float32)  # all the generator reads: h, w, dtype
    anchors = rpn.anchor_generator(tuple(image_size), [grid])[0].data.astype(np.float32)
    return rpn.proposals_from(objectness, deltas, anchors, [tuple(image_size)] * objectness.shape[0])


def proposal_rois(proposals) -> np.ndarray:
    """Per-image (n_i, 4) proposals -> graph 2's (R, 5) float32 rois (image index, x0, y0, x1, y1), image-major."""
    boxes, index = flatten_boxes(proposals)
    return np.concatenate([index[:, None].astype(np.float32), boxes], axis=1)


def two_graph_detections(detector, images, run_features, run_heads) -> list:
    """The split pipeline, backbone once: ``run_features(images)`` -> (features, objectness, rpn_box_deltas)
    (graph 1, e.g. an onnxruntime session), ``rpn_proposals``, ``proposal_rois``, ``run_heads(features, rois)``
    -> (class_logits, box_regression) (graph 2), ``detector.roi_heads.postprocess_flat``: per image a dict of
    boxes, scores, labels, as the detector in eval mode returns."""
    images = np.asarray(getattr(images, "data", images), np.float32)
    size = tuple(images.shape[-2:])
    features, objectness, deltas = run_features(images)
    rois = proposal_rois(rpn_proposals(detector, size, objectness, deltas))
    class_logits, box_regression = run_heads(features, rois)
    return detector.roi_heads.postprocess_flat(class_logits, box_regression, rois[:, 1:],
                                               rois[:, 0].astype(np.int64), [size] * len(images))
