"""R-CNN (Girshick, Donahue, Darrell & Malik 2014, Figure 1), sized for MNIST scenes:

    1. input image -> 2. ~2k class-agnostic region proposals by selective search ("fast" mode)
    3. each proposal, with 16/227 of context on every side, warped to a fixed size -> its own CNN pass
    4. classify the region (K + 1 classes, background included) and regress its box, class by class
    -> per-class NMS

Here: selective search (OpenCV's ximgproc, ``nabla.vision.proposals.SelectiveSearch``) on the scene
upscaled 2x gives ~23 proposals on a 64x64 scene with recall 1.000 at IoU 0.5 (0.99 at 0.7); each is warped
to 24 x 24 (the paper's 227 px scaled: about 1.7 px of context a side) -> CropNet 16-32-64 -> fc 128 ->
K + 1 scores and class-specific deltas.  Positives are the proposals at IoU >= 0.5 with a digit (and the
digits' own boxes), the rest background; 64 regions a image with at most 25 % foreground.

Where it differs from the paper, and why: the CNN is trained from scratch (no ImageNet pre-training for
digits) and end to end with a softmax classifier and the box regressor as sibling outputs (the paper
fine-tuned a CNN with softmax, then trained one linear SVM a class on pool5-fc7 features with hard-negative
mining and a separate ridge regressor a class; the softmax alone was 3.3 mAP points behind the SVMs on
VOC 2007, which a small set of digits does not need back).

The proposals are computed once per image and cached (memory and ``<data root>/proposals/``), as the paper
precomputed them; training uses a fixed set of scenes (``train_scenes``, default 2,000) so the cache is hit
every epoch after the first.  Inference time counts selective search for images not seen before.

Measured (``nabla train rcnn``, the defaults: 2,000 fixed scenes, 10 epochs, Adam 1e-3, batch 32; 2-core
machine shared with other jobs): the training scenes' proposals: 23.4 an image, recall 0.998 at IoU 0.5
(0.988 at 0.7); validation map_50 0.939 after one epoch (2k images), 0.983 after 4; test after 20k images
(442 s of training, 553 s wall with evaluations): map_50 0.988, map_75 0.968, map 0.844, worst class "1"
(AP 0.752).  ~45 training images/s; inference ~60-100 images/s with cached proposals, ~9 images/s when
selective search runs (35-70 ms an image).
"""
from __future__ import annotations

from ..vision.proposals import SelectiveSearch
from .crop_detector import RCNN_CONTEXT, CropDetector, crop_heads, image_array
from .options import parse_ints
from .registry import Option, register_model


class RCNN(CropDetector):
    """CropDetector over selective-search proposals (``proposer(images) -> list of (n_i, 4) arrays``)."""

    def __init__(self, roi_heads, num_classes: int, proposer, eval_chunk: int = 4096):
        super().__init__(roi_heads, num_classes, eval_chunk)
        self.proposer = proposer

    def propose(self, images) -> list:
        return self.proposer(image_array(images))

    def extra_repr(self) -> str:
        return f"proposer={self.proposer!r}"


def rcnn(in_shape, num_classes: int, ss_mode: str = "fast", ss_scale: float = 2.0, max_proposals: int = 300,
         min_proposal_size: float = 2.0, proposal_cache: bool = True, crop_size: int = 24,
         context: float = RCNN_CONTEXT, widths="16,32,64", representation_size: int = 128,
         batch_size_per_image: int = 64, score_thresh: float = 0.01, nms_thresh: float = 0.5,
         detections_per_img: int = 100, eval_chunk: int = 4096) -> RCNN:
    """An RCNN for images of in_shape (C, H, W) and num_classes foreground classes (needs OpenCV's ximgproc)."""
    proposer = SelectiveSearch(ss_mode, max_proposals, min_proposal_size, ss_scale,
                               cache_dir=None if proposal_cache else False)
    heads = crop_heads(in_shape[0], num_classes, crop_size, context, parse_ints(widths, "widths"),
                       representation_size, batch_size_per_image=batch_size_per_image, score_thresh=score_thresh,
                       nms_thresh=nms_thresh, detections_per_img=detections_per_img)
    return RCNN(heads, num_classes, proposer, eval_chunk)


@register_model(
    "rcnn", "R-CNN (Girshick et al. 2014): selective-search proposals, each warped and classified (K + 1) and "
    "localized by its own CNN pass, per-class NMS", task="detection", default_dataset="mnist-scenes",
    training={"optimizer": "adam", "lr": 1e-3, "batch_size": 32, "epochs": 10, "train_scenes": 2000},
    ss_mode=Option("fast", choices=("fast", "quality", "single"), help="selective search's strategy set"),
    ss_scale=Option(2.0, help="upscaling of the image before selective search (2 suits 64x64 scenes)"),
    max_proposals=Option(300, help="the most proposals kept per image"),
    min_proposal_size=Option(2.0, help="proposals with a side under this (px) are dropped"),
    proposal_cache=Option(True, help="cache proposals on disk under <data root>/proposals"),
    crop_size=Option(24, help="each proposal is warped to crop_size x crop_size"),
    context=Option(RCNN_CONTEXT, help="context margin on each side, as a fraction of the crop (paper: 16/227)"),
    widths=Option("16,32,64", help="CropNet's conv widths (a 2x2 max pool after each)"),
    representation_size=Option(128, help="CropNet's fc width"),
    batch_size_per_image=Option(64, help="proposals sampled per image in training (25% foreground at most)"),
    score_thresh=0.01, nms_thresh=0.5, detections_per_img=100,
    eval_chunk=Option(4096, help="proposals per CNN call at inference (memory)"))
def _rcnn(in_shape, num_classes, **options):
    return rcnn(in_shape, num_classes, **options)


__all__ = ["RCNN", "rcnn"]
