"""Fast R-CNN (Girshick 2015), sized for MNIST scenes: one backbone pass per image, external proposals.

    image -> selective search (OpenCV, cached by image content)       -> proposals (class-agnostic boxes)
    image -> backbone (conv3x3-BN-ReLU stages, stride 8, as Faster R-CNN's)
          -> RoIAlign of each proposal to 7x7 (or RoIPool, the paper's: roi_op="pool") -> fc 256 -> fc 256
          -> sibling outputs: K + 1 class scores, class-specific box deltas (weights 10, 10, 5, 5)

Training is the paper's single-stage multi-task loss, L = L_cls + [u >= 1] L_loc (cross-entropy and smooth
L1), over 64 RoIs per image with at most 25 % foreground (IoU >= 0.5; the ground truth joins the
proposals, as torchvision).  The backbone, the box head and the detector's forward are Faster R-CNN's
(``faster_rcnn.py``); only the source of the proposals differs.

Selective search is slow (~0.03 s an image on a 64x64 scene, upscaled 2x), so, as the paper precomputed
its proposals, training uses a fixed set of scenes (the ``train_scenes`` setting) whose proposals are
computed in the first epoch and read from the cache afterwards (memory and disk; valid and test scenes
likewise).  Augmentation that changes pixels would defeat the cache.

RoIAlign is the default because it trains better here: on 2,000 fixed scenes, 1,000 valid scenes, the same
seed and budget (400 s, one BLAS thread, a shared 2-core machine), RoIAlign reached map_50 0.98 / map_75
0.90 after 16k training images, RoIPool 0.94 / 0.71 after 22k (its rounding to whole cells of the stride-8
map costs box precision on 16-px digits, and it was slower per step).  OpenCV is imported when the first
proposals are needed, so the model builds (and loads checkpoints) without it.
"""
from __future__ import annotations

from .faster_rcnn import Backbone, TwoStageDetector, box_heads
from .options import parse_ints
from .registry import Option, register_model


class FastRCNN(TwoStageDetector):
    """Backbone and RoIHeads of Faster R-CNN with selective-search proposals (see the module docstring).
    proposal_options: SelectiveSearch's keyword arguments (mode, max_proposals, scale, ...)."""

    def __init__(self, backbone, roi_heads, num_classes: int, proposal_options=None):
        super().__init__(backbone, roi_heads, num_classes)
        self.proposal_options = dict(proposal_options or {})
        self._search = None

    def proposer(self):
        """The SelectiveSearch instance, created on first use (its ImportError says what to install)."""
        if self._search is None:
            from ..vision.proposals import SelectiveSearch
            self._search = SelectiveSearch(**self.proposal_options)
        return self._search

    def proposals(self, images, features, targets):
        return self.proposer()(images.data), {}


def fast_rcnn(in_shape, num_classes: int, widths="16,32,64,64,64", representation_size: int = 256,
              roi_op: str = "align", box_batch_size_per_image: int = 64, ss_mode: str = "fast",
              ss_scale: float = 2.0, max_proposals: int = 300, score_thresh: float = 0.01,
              nms_thresh: float = 0.5, detections_per_img: int = 100) -> FastRCNN:
    """A FastRCNN for images of in_shape (C, H, W) and num_classes foreground classes."""
    backbone = Backbone(in_shape[0], parse_ints(widths, "widths"))
    heads = box_heads(backbone.out_channels, num_classes, representation_size, roi_op,
                      batch_size_per_image=box_batch_size_per_image, score_thresh=score_thresh,
                      nms_thresh=nms_thresh, detections_per_img=detections_per_img)
    return FastRCNN(backbone, heads, num_classes,
                    {"mode": ss_mode, "scale": ss_scale, "max_proposals": max_proposals})


@register_model(
    "fast-rcnn", "Fast R-CNN (Girshick 2015): selective-search proposals, one backbone pass, RoIAlign box head",
    task="detection", default_dataset="mnist-scenes",
    training={"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "train_scenes": 2000, "epochs": 10},
    widths=Option("16,32,64,64,64", help="backbone widths (stride 8: pools after the first three)"),
    representation_size=Option(256, help="width of the two fc layers of the box head"),
    roi_op=Option("align", choices=("align", "pool"), help="RoIAlign 7x7 or RoIPool 7x7 (the paper's)"),
    box_batch_size_per_image=64,
    ss_mode=Option("fast", choices=("fast", "quality", "single"), help="selective search strategy"),
    ss_scale=Option(2.0, help="upscaling before selective search (2 suits 64x64 scenes)"),
    max_proposals=Option(300, help="most selective-search boxes kept an image"),
    score_thresh=0.01, nms_thresh=0.5, detections_per_img=100)
def _fast_rcnn(in_shape, num_classes, **options):
    return fast_rcnn(in_shape, num_classes, **options)


__all__ = ["FastRCNN", "fast_rcnn"]
