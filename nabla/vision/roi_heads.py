"""The box head of Fast / Faster R-CNN (Girshick 2015; Ren et al. 2015) with torchvision's names
(``torchvision.models.detection.roi_heads.RoIHeads``, ``TwoMLPHead``, ``FastRCNNPredictor``).

Labels inside the head: 0 = background, d + 1 = class d of the targets; outputs are shifted back to d.

Training (``select_training_samples``): the ground-truth boxes are appended to each image's proposals;
each proposal takes the box it overlaps most (IoU >= fg_iou_thresh: foreground, < bg_iou_thresh:
background, in between: ignored); per image ``batch_size_per_image`` RoIs are sampled with at most
``positive_fraction`` foreground; regression targets are the matched boxes encoded against the RoIs by a
BoxCoder with ``bbox_reg_weights``.  The multi-task loss (``fastrcnn_loss``), over R sampled RoIs:

    loss_classifier = (1/R) sum_r CE(class_logits_r, u_r)
    loss_box_reg    = (1/R) sum_{r: u_r >= 1} smooth_l1_beta(t_r^{u_r} - v_r),   beta = 1/9

(torchvision divides the box loss by all sampled RoIs, not only the foreground ones).

Inference (``postprocess_detections``): softmax over the K + 1 classes, class-specific decoding of the
deltas, clipping to the image, removal of boxes under 0.01 px, scores > score_thresh, per-class NMS at
nms_thresh, the detections_per_img best.

The RoIs of all images are handled as one concatenated array with an image index: matching, sampling
(``det_utils``), the heads, the loss and the decoding are single vectorised calls for the whole batch;
only NMS loops over the images (variable sizes), as torchvision.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..nn import functional as F
from ..ops._util import _const
from .box_coder import BoxCoder
from .boxes import _nms_arrays
from .det_utils import BalancedPositiveNegativeSampler, Matcher, batched_iou, pad_boxes
from .roi_align import roi_align

# at inference, candidates per image kept (by score) before NMS: bounds NMS's cost for untrained models
_PRE_NMS_CANDIDATES = 1000


def as_array(x, dtype=None) -> np.ndarray:
    """A NumPy array from a Tensor or array-like (targets may come either way)."""
    a = x.data if isinstance(x, Tensor) else np.asarray(x)
    return a.astype(dtype, copy=False) if dtype is not None else a


def target_arrays(targets):
    """Per-image (boxes float32 (n, 4), labels int64 (n,)) from target dicts; other keys are ignored."""
    boxes = [as_array(t["boxes"], np.float32).reshape(-1, 4) for t in targets]
    labels = [as_array(t["labels"], np.int64).reshape(-1) for t in targets]
    return boxes, labels


def flatten_boxes(boxes_list):
    """Per-image (n_i, 4) boxes -> (sum n_i, 4) float32 and the image index (sum n_i,) of each row."""
    arrays = [as_array(b, np.float32).reshape(-1, 4) for b in boxes_list]
    counts = np.array([len(a) for a in arrays], dtype=np.int64)
    flat = np.concatenate(arrays, axis=0) if arrays else np.zeros((0, 4), np.float32)
    return flat, np.repeat(np.arange(len(arrays)), counts)


def encode_boxes(coder: BoxCoder, targets: np.ndarray, references: np.ndarray) -> np.ndarray:
    """BoxCoder.encode_single on arrays: codes (N, 4) float32 of targets against references."""
    if len(targets) == 0:
        return np.zeros((0, 4), np.float32)
    with no_grad():
        return coder.encode_single(_const(targets), _const(references)).data.astype(np.float32)


def decode_boxes(coder: BoxCoder, codes: np.ndarray, references: np.ndarray) -> np.ndarray:
    """BoxCoder.decode_single on arrays: codes (N, 4k) against references (N, 4) -> boxes (N, k, 4)."""
    if len(codes) == 0:
        return np.zeros((0, codes.shape[1] // 4, 4), np.float32)
    with no_grad():
        out = coder.decode_single(_const(codes), _const(references.astype(codes.dtype))).data
    return out.reshape(len(codes), -1, 4)


def clip_array(boxes: np.ndarray, heights: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Boxes (N, ..., 4) clipped to per-row image sizes heights, widths (N,) (clip_boxes_to_image's rule)."""
    shape = (len(boxes),) + (1,) * (boxes.ndim - 2)
    w, h = widths.reshape(shape), heights.reshape(shape)
    x = np.clip(boxes[..., 0::2], 0, w[..., None])
    y = np.clip(boxes[..., 1::2], 0, h[..., None])
    return np.stack((x[..., 0], y[..., 0], x[..., 1], y[..., 1]), axis=-1)


def nms_per_image(boxes, scores, groups, image_index, num_images, iou_threshold, top_n, pre_nms=None):
    """For each image: its candidates (at most pre_nms, by score) through per-group NMS, the top_n kept.
    Returns the kept indices per image (into the flat arrays), in descending score."""
    order = np.lexsort((-scores, image_index))  # by image, then descending score (stable)
    bounds = np.searchsorted(image_index[order], np.arange(num_images + 1))
    kept = []
    for i in range(num_images):
        idx = order[bounds[i]:bounds[i + 1]]
        if pre_nms is not None:
            idx = idx[:pre_nms]
        if len(idx) == 0:
            kept.append(idx)
            continue
        keep = _nms_arrays(boxes[idx], scores[idx], iou_threshold, None if groups is None else groups[idx])
        kept.append(idx[keep[:top_n]])
    return kept


class TwoMLPHead(nn.Module):
    """flatten -> fc6 -> ReLU -> fc7 -> ReLU (torchvision's box head for a 7x7 RoI feature)."""

    def __init__(self, in_channels: int, representation_size: int):
        super().__init__()
        self.fc6 = nn.Linear(in_channels, representation_size)
        self.fc7 = nn.Linear(representation_size, representation_size)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return F.relu(self.fc7(F.relu(self.fc6(x))))


class FastRCNNPredictor(nn.Module):
    """The sibling outputs: class scores (K + 1, background included) and class-specific deltas 4 (K + 1)."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.cls_score = nn.Linear(in_channels, num_classes)
        self.bbox_pred = nn.Linear(in_channels, num_classes * 4)

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        return self.cls_score(x), self.bbox_pred(x)


class RoIFeatures(nn.Module):
    """RoI features of one feature map: RoIAlign (sampling_ratio, aligned=True, He et al. 2017) or RoIPool
    (Fast R-CNN's max pooling, torchvision's roi_pool) to output_size.  The map's spatial scale is
    inferred from the image size, as torchvision's MultiScaleRoIAlign: 2 ** round(log2(feature / image))."""

    def __init__(self, output_size: int = 7, sampling_ratio: int = 2, op: str = "align"):
        super().__init__()
        if op not in ("align", "pool"):
            raise ValueError(f"RoIFeatures: op must be 'align' or 'pool', got {op!r}")
        self.output_size, self.sampling_ratio, self.op = output_size, sampling_ratio, op

    def forward(self, features, rois, image_shapes):
        """features (B, C, h, w); rois (R, 5) array of (image index, x0, y0, x1, y1) -> (R, C, P, P)."""
        image_h = max(s[0] for s in image_shapes)
        scale = 2.0 ** round(math.log2(features.shape[-2] / image_h))
        if self.op == "align":
            return roi_align(features, rois, self.output_size, scale, self.sampling_ratio, aligned=True)
        from .roi_pool import roi_pool  # written beside roi_align; imported here so align works without it
        return roi_pool(features, rois, self.output_size, scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, sampling_ratio={self.sampling_ratio}, op={self.op!r}"


class RoIHeads(nn.Module):
    """Sampling, the box head, its loss and post-processing (see the module docstring).

    box_head: RoI features (R, C, P, P) -> (R, D); box_predictor: (R, D) -> (class_logits (R, K + 1),
    box_regression (R, 4 (K + 1))); box_roi_pool (an extra keyword, torchvision's first argument): the RoI
    feature op, default RoIFeatures(7, sampling_ratio=2, op="align").  generator: a numpy Generator for the
    sampling, default nabla's global one.  The methods work alone for detectors whose RoI features come
    from elsewhere (R-CNN's crops)."""

    def __init__(self, box_head, box_predictor, fg_iou_thresh=0.5, bg_iou_thresh=0.5, batch_size_per_image=64,
                 positive_fraction=0.25, bbox_reg_weights=(10.0, 10.0, 5.0, 5.0), score_thresh=0.01,
                 nms_thresh=0.5, detections_per_img=100, box_roi_pool=None, generator=None):
        super().__init__()
        self.box_roi_pool = box_roi_pool if box_roi_pool is not None else RoIFeatures()
        self.box_head = box_head
        self.box_predictor = box_predictor
        self.proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=False)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)
        self.box_coder = BoxCoder(bbox_reg_weights if bbox_reg_weights is not None else (10.0, 10.0, 5.0, 5.0))
        self.score_thresh = float(score_thresh)
        self.nms_thresh = float(nms_thresh)
        self.detections_per_img = int(detections_per_img)
        self.generator = generator

    # ------------------------------------------------------------------ training targets
    def sample_flat(self, proposals, targets):
        """select_training_samples on concatenated arrays: (rois (R, 4), image index (R,), labels (R,) int64,
        regression targets (R, 4) float32), R the RoIs kept over all images, in image order."""
        gt_boxes, gt_labels = target_arrays(targets)
        if len(gt_boxes) != len(proposals):
            raise ValueError(f"RoIHeads: {len(proposals)} images of proposals but {len(gt_boxes)} targets")
        # the ground truth joins the proposals (torchvision's add_gt_proposals)
        props, image_index = flatten_boxes([np.concatenate([as_array(p, np.float32).reshape(-1, 4), g])
                                            for p, g in zip(proposals, gt_boxes)])
        gt, valid = pad_boxes(gt_boxes)
        lab = np.zeros(valid.shape, np.int64)
        for i, g in enumerate(gt_labels):
            lab[i, :len(g)] = g
        # each RoI against its own image's boxes: (R, G, 1)
        iou = batched_iou(gt[image_index], valid[image_index], props[:, None, :])
        matched = self.proposal_matcher(iou)[:, 0]
        safe = np.maximum(matched, 0)
        labels = np.where(matched >= 0, lab[image_index, safe] + 1, np.where(matched == -1, 0, -1))
        pos, neg = self.fg_bg_sampler(labels, image_index, len(proposals), self.generator)
        keep = np.flatnonzero(pos | neg)
        rois, image_index, labels, matched = props[keep], image_index[keep], labels[keep], matched[keep]
        # background RoIs regress onto themselves (their targets are never used)
        target_boxes = np.where((matched >= 0)[:, None], gt[image_index, np.maximum(matched, 0)], rois)
        return rois, image_index, labels, encode_boxes(self.box_coder, target_boxes, rois)

    def select_training_samples(self, proposals, targets):
        """proposals: per-image (n_i, 4) arrays; targets: dicts with boxes, labels (0..K-1) ->
        (proposals, labels (0 = background, d + 1 = class d), regression_targets), one array per image."""
        rois, image_index, labels, reg = self.sample_flat(proposals, targets)
        cuts = np.searchsorted(image_index, np.arange(1, len(proposals)))
        return np.split(rois, cuts), np.split(labels, cuts), np.split(reg, cuts)

    # ------------------------------------------------------------------ loss
    @staticmethod
    def fastrcnn_loss(class_logits, box_regression, labels, regression_targets):
        """(loss_classifier, loss_box_reg): see the module docstring.  labels and regression_targets are
        per-image lists or already concatenated arrays."""
        labels = np.concatenate(labels) if isinstance(labels, (list, tuple)) else as_array(labels)
        reg = (np.concatenate(regression_targets) if isinstance(regression_targets, (list, tuple))
               else as_array(regression_targets))
        r = len(labels)
        if class_logits.shape[0] != r or box_regression.shape[0] != r:
            raise ValueError(f"fastrcnn_loss: {r} labels but class_logits {tuple(class_logits.shape)} and "
                             f"box_regression {tuple(box_regression.shape)}")
        loss_classifier = F.cross_entropy(class_logits, _const(labels.astype(np.int64)))
        pos = np.flatnonzero(labels > 0)
        deltas = box_regression.reshape(r, -1, 4)[pos, labels[pos]]  # (P, 4): the true class's deltas
        box_loss = F.smooth_l1_loss(deltas, _const(reg[pos].astype(deltas.dtype)), reduction="sum", beta=1.0 / 9)
        return loss_classifier, box_loss / max(r, 1)

    # ------------------------------------------------------------------ inference
    def postprocess_detections(self, class_logits, box_regression, proposals, image_shapes):
        """Per image a dict of boxes (n, 4), scores (n,), labels (n,) in 0..K-1, by descending score;
        proposals: per-image (n_i, 4) arrays, in the order of the rows of class_logits."""
        props, image_index = flatten_boxes(proposals)
        return self.postprocess_flat(class_logits, box_regression, props, image_index, image_shapes)

    def postprocess_flat(self, class_logits, box_regression, props, image_index, image_shapes):
        """postprocess_detections for concatenated RoIs props (R, 4) of images image_index (R,)."""
        logits = as_array(class_logits)
        k1 = logits.shape[1]
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        scores = (z / z.sum(axis=1, keepdims=True))[:, 1:]  # (R, K), background dropped
        boxes = decode_boxes(self.box_coder, as_array(box_regression), props)[:, 1:]  # (R, K, 4)
        sizes = np.asarray(image_shapes, dtype=np.float32).reshape(-1, 2)[image_index]
        boxes = clip_array(boxes, sizes[:, 0], sizes[:, 1]).reshape(-1, 4)
        scores = scores.reshape(-1)
        labels = np.tile(np.arange(k1 - 1), len(props))
        image_index = np.repeat(image_index, k1 - 1)
        ok = ((scores > self.score_thresh) & (boxes[:, 2] - boxes[:, 0] >= 1e-2)
              & (boxes[:, 3] - boxes[:, 1] >= 1e-2))
        boxes, scores, labels, image_index = boxes[ok], scores[ok], labels[ok], image_index[ok]
        kept = nms_per_image(boxes, scores, labels, image_index, len(image_shapes), self.nms_thresh,
                             self.detections_per_img, _PRE_NMS_CANDIDATES)
        return [{"boxes": _const(boxes[i].astype(np.float32)), "scores": _const(scores[i].astype(np.float32)),
                 "labels": _const(labels[i].astype(np.int64))} for i in kept]

    # ------------------------------------------------------------------ the feature-map case
    def forward(self, features, proposals, image_shapes, targets=None):
        """features (B, C, h, w); proposals per image (n_i, 4) -> (detections, losses): detections a list
        of dicts at inference (empty in training), losses {loss_classifier, loss_box_reg} in training."""
        if self.training:
            if targets is None:
                raise ValueError("RoIHeads: targets are required in training mode")
            rois, image_index, labels, reg = self.sample_flat(proposals, targets)
        else:
            rois, image_index = flatten_boxes(proposals)
        roi5 = np.concatenate([image_index[:, None].astype(np.float32), rois], axis=1)
        x = self.box_head(self.box_roi_pool(features, roi5, image_shapes))
        class_logits, box_regression = self.box_predictor(x)
        if self.training:
            loss_classifier, loss_box_reg = self.fastrcnn_loss(class_logits, box_regression, labels, reg)
            return [], {"loss_classifier": loss_classifier, "loss_box_reg": loss_box_reg}
        return self.postprocess_flat(class_logits, box_regression, rois, image_index, image_shapes), {}


__all__ = ["RoIHeads", "TwoMLPHead", "FastRCNNPredictor", "RoIFeatures"]
