"""The Region Proposal Network of Faster R-CNN (Ren et al. 2015) with torchvision's names
(``torchvision.models.detection.rpn``: ``RPNHead``, ``RegionProposalNetwork``).

RPNHead: a 3x3 conv + ReLU slides over the feature map; two sibling 1x1 convs give, for each of the A
anchors of every position, an objectness logit and four box deltas (BoxCoder weights (1, 1, 1, 1)).

Training targets: each anchor takes the ground-truth box it overlaps most; IoU >= 0.7 positive, < 0.3
negative, in between ignored, and each box's best anchors (ties included) are positive too
(``allow_low_quality_matches``).  Per image 256 anchors are sampled with at most half positive.  Loss,
over the S sampled anchors of the batch:

    loss_objectness  = (1/S) sum_s BCE_with_logits(o_s, y_s)
    loss_rpn_box_reg = (1/S) sum_{s: y_s = 1} smooth_l1_beta(t_s - v_s),   beta = 1/9

Proposals (no gradient, as torchvision detaches them): per image the pre_nms_top_n anchors by objectness,
decoded, clipped to the image, boxes under min_size dropped, NMS at nms_thresh, the post_nms_top_n best.
Train and test counts differ (dicts ``{"training": n, "testing": m}``, as torchvision).

Anchors of all images are handled at once ((B, N) arrays); only NMS loops over the images.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..nn import functional as F
from ..ops._util import _const
from ..ops.shape import cat
from .box_coder import BoxCoder
from .det_utils import BalancedPositiveNegativeSampler, Matcher, batched_iou, pad_boxes
from .roi_heads import clip_array, decode_boxes, encode_boxes, nms_per_image, target_arrays


class RPNHead(nn.Module):
    """conv 3x3 (in_channels) + ReLU, then cls_logits 1x1 -> A and bbox_pred 1x1 -> 4 A, per feature map."""

    def __init__(self, in_channels: int, num_anchors: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, padding=1)
        self.cls_logits = nn.Conv2d(in_channels, num_anchors, kernel_size=1)
        self.bbox_pred = nn.Conv2d(in_channels, num_anchors * 4, kernel_size=1)
        for layer in (self.conv, self.cls_logits, self.bbox_pred):  # torchvision's init
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        """x: a list of feature maps (B, C, h, w) -> (objectness list (B, A, h, w), deltas list (B, 4A, h, w))."""
        logits, deltas = [], []
        for feature in x:
            t = F.relu(self.conv(feature))
            logits.append(self.cls_logits(t))
            deltas.append(self.bbox_pred(t))
        return logits, deltas


def concat_box_prediction_layers(objectness, pred_bbox_deltas):
    """Per-map (B, A, h, w) and (B, 4A, h, w) -> objectness (B, N) and deltas (B, N, 4), N = sum h w A, in
    the anchors' order (positions row-major, the A anchors of a position inner)."""
    logits, deltas = [], []
    for o, d in zip(objectness, pred_bbox_deltas):
        b, a, h, w = o.shape
        logits.append(o.permute(0, 2, 3, 1).reshape(b, h * w * a))
        deltas.append(d.reshape(b, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(b, h * w * a, 4))
    if len(logits) == 1:
        return logits[0], deltas[0]
    return cat(logits, dim=1), cat(deltas, dim=1)


def _per_mode(value, name):
    value = value if isinstance(value, dict) else {"training": value, "testing": value}
    if set(value) != {"training", "testing"}:
        raise ValueError(f"RegionProposalNetwork: {name} must be an int or a dict with keys 'training' and "
                         f"'testing', got {value!r}")
    return {k: int(v) for k, v in value.items()}


class RegionProposalNetwork(nn.Module):
    """Anchors, their labels and loss, and proposals (see the module docstring).  generator: a numpy
    Generator for the anchor sampling, default nabla's global one."""

    def __init__(self, anchor_generator, head, fg_iou_thresh=0.7, bg_iou_thresh=0.3, batch_size_per_image=256,
                 positive_fraction=0.5, pre_nms_top_n=None, post_nms_top_n=None, nms_thresh=0.7,
                 score_thresh=0.0, min_size=1e-3, generator=None):
        super().__init__()
        self.anchor_generator = anchor_generator
        self.head = head
        self.box_coder = BoxCoder(weights=(1.0, 1.0, 1.0, 1.0))
        self.proposal_matcher = Matcher(fg_iou_thresh, bg_iou_thresh, allow_low_quality_matches=True)
        self.fg_bg_sampler = BalancedPositiveNegativeSampler(batch_size_per_image, positive_fraction)
        self._pre_nms_top_n = _per_mode(pre_nms_top_n or {"training": 2000, "testing": 1000}, "pre_nms_top_n")
        self._post_nms_top_n = _per_mode(post_nms_top_n or {"training": 2000, "testing": 1000}, "post_nms_top_n")
        self.nms_thresh, self.score_thresh, self.min_size = float(nms_thresh), float(score_thresh), float(min_size)
        self.generator = generator
        self._anchor_cache = {}

    def pre_nms_top_n(self) -> int:
        return self._pre_nms_top_n["training" if self.training else "testing"]

    def post_nms_top_n(self) -> int:
        return self._post_nms_top_n["training" if self.training else "testing"]

    def anchors_for(self, images, features) -> np.ndarray:
        """The (N, 4) anchors shared by all images of the batch (cached per image and map sizes)."""
        key = (tuple(images.shape[-2:]),) + tuple(tuple(f.shape[-2:]) for f in features)
        if key not in self._anchor_cache:
            self._anchor_cache[key] = self.anchor_generator(images[:1], features)[0].data.astype(np.float32)
        return self._anchor_cache[key]

    # ------------------------------------------------------------------ targets and loss
    def assign_targets_to_anchors(self, anchors: np.ndarray, targets):
        """labels (B, N) float32 (1 positive, 0 negative, -1 ignored) and matched gt boxes (B, N, 4)."""
        gt_boxes, _ = target_arrays(targets)
        gt, valid = pad_boxes(gt_boxes)
        matches = self.proposal_matcher(batched_iou(gt, valid, anchors))  # (B, N)
        labels = np.where(matches >= 0, 1.0, np.where(matches == Matcher.BELOW_LOW_THRESHOLD, 0.0, -1.0))
        matched = np.take_along_axis(gt, np.maximum(matches, 0)[:, :, None], axis=1)
        return labels.astype(np.float32), matched

    def compute_loss(self, objectness, pred_bbox_deltas, labels, matched_gt_boxes, anchors):
        """(loss_objectness, loss_rpn_box_reg) from objectness (B, N), deltas (B, N, 4) Tensors."""
        b, n = labels.shape
        flat = labels.reshape(-1)
        pos, neg = self.fg_bg_sampler(flat, np.repeat(np.arange(b), n), b, self.generator)
        sampled, positive = np.flatnonzero(pos | neg), np.flatnonzero(pos)
        anchor_of = positive % n  # the same anchors for every image
        targets = encode_boxes(self.box_coder, matched_gt_boxes.reshape(-1, 4)[positive], anchors[anchor_of])
        deltas = pred_bbox_deltas.reshape(b * n, 4)[positive]
        box_loss = F.smooth_l1_loss(deltas, _const(targets.astype(deltas.dtype)), reduction="sum", beta=1.0 / 9)
        logits = objectness.reshape(b * n)[sampled]
        loss_objectness = F.binary_cross_entropy_with_logits(logits, _const(flat[sampled].astype(logits.dtype)))
        return loss_objectness, box_loss / max(len(sampled), 1)

    # ------------------------------------------------------------------ proposals
    def filter_proposals(self, proposals: np.ndarray, objectness: np.ndarray, image_shapes):
        """proposals (B, N, 4), objectness logits (B, N) arrays -> per-image (n_i, 4) float32 proposals."""
        b, n = objectness.shape
        top = min(self.pre_nms_top_n(), n)
        idx = np.argpartition(-objectness, top - 1, axis=1)[:, :top] if top < n else np.tile(np.arange(n), (b, 1))
        scores = np.take_along_axis(objectness, idx, axis=1).reshape(-1)
        boxes = np.take_along_axis(proposals, idx[:, :, None], axis=1).reshape(-1, 4)
        image_index = np.repeat(np.arange(b), top)
        sizes = np.asarray(image_shapes, dtype=np.float32).reshape(-1, 2)[image_index]
        boxes = clip_array(boxes, sizes[:, 0], sizes[:, 1])
        ok = ((boxes[:, 2] - boxes[:, 0] >= self.min_size) & (boxes[:, 3] - boxes[:, 1] >= self.min_size)
              & (1.0 / (1.0 + np.exp(-scores)) >= self.score_thresh))
        boxes, scores, image_index = boxes[ok], scores[ok], image_index[ok]
        kept = nms_per_image(boxes, scores, None, image_index, b, self.nms_thresh, self.post_nms_top_n())
        return [boxes[k] for k in kept]

    def proposals_from(self, objectness, deltas, anchors, image_shapes) -> list:
        """The head's flat objectness (B, N) and deltas (B, N, 4) (``concat_box_prediction_layers``) and one
        image's anchors (N, 4) -> per-image proposals: the deltas decoded against the anchors, then
        ``filter_proposals`` (top-n, clip, min size, NMS).  Also what runs between an exported Faster R-CNN's
        two ONNX graphs (``nabla.onnx.faster_rcnn_split``)."""
        b, n = objectness.shape
        decoded = decode_boxes(self.box_coder, deltas.data.reshape(b * n, 4), np.tile(anchors, (b, 1)))
        return self.filter_proposals(decoded.reshape(b, n, 4), objectness.data, image_shapes)

    def forward(self, images, features, targets=None):
        """images (B, C, H, W); features: a list of maps -> (proposals per image, losses; {} at inference or
        without targets).  image sizes are the batch's (H, W)."""
        features = list(features) if isinstance(features, (list, tuple)) else [features]
        objectness, deltas = concat_box_prediction_layers(*self.head(features))
        anchors = self.anchors_for(images, features)
        boxes = self.proposals_from(objectness, deltas, anchors, [tuple(images.shape[-2:])] * objectness.shape[0])
        losses = {}
        if self.training and targets is not None:
            labels, matched = self.assign_targets_to_anchors(anchors, targets)
            loss_objectness, loss_box = self.compute_loss(objectness, deltas, labels, matched, anchors)
            losses = {"loss_objectness": loss_objectness, "loss_rpn_box_reg": loss_box}
        return boxes, losses


__all__ = ["RPNHead", "RegionProposalNetwork", "concat_box_prediction_layers"]
