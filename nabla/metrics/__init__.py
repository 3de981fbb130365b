"""Evaluation metrics with torchmetrics' names and interfaces (``update`` / ``compute`` / ``reset``).

    MeanAveragePrecision   COCO-style detection mAP / mAR (COCOeval's rules), plus VOC AP@0.5
    ConfusionMatrix        per-pixel (or per-sample) confusion matrix, accumulated by bincount
    JaccardIndex           intersection over union per class and its mean (mIoU), from that matrix

Generative models (``generative``): ``classifier_fid`` / ``frechet_distance`` / ``feature_statistics``,
``inception_score``, ``class_coverage`` and ``GenerativeScores``, on the pinned reference classifiers of
``reference_classifier`` (not imported here, so that ``python -m nabla.metrics.reference_classifier`` runs
it cleanly; weights shipped in ``nabla/metrics/reference/``, loaded by ``load_reference_classifier``).

Layer: above vision, below models; imports vision (``box_iou``), data, optim, nn, ops, serialization, autograd
and backend.
See shared/ARCHITECTURE.md.
"""
from .detection import MeanAveragePrecision  # noqa: F401
from .generative import (GenerativeScores, class_coverage, classifier_fid, feature_statistics,  # noqa: F401
                         frechet_distance, inception_score, load_reference_classifier)
from .segmentation import ConfusionMatrix, JaccardIndex  # noqa: F401

__all__ = ["MeanAveragePrecision", "ConfusionMatrix", "JaccardIndex", "GenerativeScores", "class_coverage",
           "classifier_fid", "feature_statistics", "frechet_distance", "inception_score", "load_reference_classifier"]
