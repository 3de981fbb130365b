"""Vision building blocks with torchvision's names.

    ops          box_convert, box_area, box_iou, generalized_box_iou, clip_boxes_to_image, remove_small_boxes,
                 nms, batched_nms, roi_align / RoIAlign, roi_pool / RoIPool (torchvision.ops)
    box_coder    BoxCoder: (dx, dy, dw, dh) against reference boxes, with weights
    anchors      AnchorGenerator: anchors per feature-map cell
    det_utils    Matcher (IoU thresholds, low-quality matches), BalancedPositiveNegativeSampler
    rpn          RPNHead, RegionProposalNetwork (Faster R-CNN's first stage)
    roi_heads    RoIHeads, TwoMLPHead, FastRCNNPredictor, RoIFeatures (the box head of Fast/Faster R-CNN)
    yolo         YOLO v1's box parametrisation, target assignment and sum-squared loss
    proposals    SelectiveSearch (OpenCV, cached by image content), sliding_windows, proposal recall
    draw, draw_masks   draw_bounding_boxes, draw_segmentation_masks (for `nabla predict`)

Layer: above nn / data, below metrics (a metric such as mAP may use ``box_iou``); imports autograd, ops, nn
and data (image files, the data cache).  See shared/ARCHITECTURE.md.
"""
from . import ops, anchors  # noqa: F401
from .anchors import AnchorGenerator  # noqa: F401
from .box_coder import BoxCoder  # noqa: F401

__all__ = ["ops", "anchors", "AnchorGenerator", "BoxCoder"]
