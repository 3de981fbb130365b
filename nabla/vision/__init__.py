"""Vision building blocks with torchvision's names: box operations and NMS (``nabla.vision.ops``), the
box coder of R-CNN-style detectors, RoIAlign, and anchor generation (``nabla.vision.anchors``).

Layer: above nn / data, below metrics (a metric such as mAP may use ``box_iou``); imports autograd,
ops and nn only.  See shared/ARCHITECTURE.md.
"""
from . import ops, anchors  # noqa: F401
from .anchors import AnchorGenerator  # noqa: F401
from .box_coder import BoxCoder  # noqa: F401

__all__ = ["ops", "anchors", "AnchorGenerator", "BoxCoder"]
