"""torchvision.ops' names for nabla: box operations, roi_align, roi_pool (and BoxCoder, which torchvision keeps in
``models.detection._utils``).  ``from nabla.vision import ops``; ``ops.nms(boxes, scores, 0.5)``."""
from .boxes import (box_convert, box_area, box_iou, generalized_box_iou, clip_boxes_to_image,  # noqa: F401
                    remove_small_boxes, nms, batched_nms)
from .box_coder import BoxCoder  # noqa: F401
from .roi_align import roi_align, RoIAlign  # noqa: F401
from .roi_pool import roi_pool, RoIPool  # noqa: F401

__all__ = ["box_convert", "box_area", "box_iou", "generalized_box_iou", "clip_boxes_to_image",
           "remove_small_boxes", "nms", "batched_nms", "BoxCoder", "roi_align", "RoIAlign",
           "roi_pool", "RoIPool"]
