"""Evaluation metrics with torchmetrics' names and interfaces (``update`` / ``compute`` / ``reset``).

    MeanAveragePrecision   COCO-style detection mAP / mAR (COCOeval's rules), plus VOC AP@0.5
    ConfusionMatrix        per-pixel (or per-sample) confusion matrix, accumulated by bincount
    JaccardIndex           intersection over union per class and its mean (mIoU), from that matrix

Layer: above vision, below models; imports vision (``box_iou``), ops, autograd and backend only.
See shared/ARCHITECTURE.md.
"""
from .detection import MeanAveragePrecision  # noqa: F401
from .segmentation import ConfusionMatrix, JaccardIndex  # noqa: F401

__all__ = ["MeanAveragePrecision", "ConfusionMatrix", "JaccardIndex"]
