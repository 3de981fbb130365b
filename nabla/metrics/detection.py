"""Mean average precision for object detection, torchmetrics' ``MeanAveragePrecision`` (bbox) interface.

``update(preds, target)`` takes lists (one entry per image) of dicts: preds ``boxes`` (N, 4), ``scores`` (N,),
``labels`` (N,); target ``boxes`` (M, 4), ``labels`` (M,) -- nabla Tensors or anything ``numpy.asarray``
understands.  Boxes are xyxy with exclusive right/bottom edges (area (x1 - x0) (y1 - y0), no "+1"), the IoU is
``nabla.vision.ops.box_iou``'s.  ``compute()`` returns a dict of Python floats (and two lists):

    map, map_50, map_75              AP averaged over IoU .50:.05:.95 / at .50 / at .75 (101-point interpolation)
    map_small, map_medium, map_large AP for ground truth of area < 32^2, 32^2..96^2, > 96^2
    mar_1, mar_10, mar_100           recall with at most 1 / 10 / 100 detections per image and class
    mar_small, mar_medium, mar_large recall (100 detections) per area range
    map_per_class, mar_100_per_class lists aligned with ``classes``; -1 for a class without ground truth
    classes                          sorted labels seen in preds or targets
    voc_map_50                       PASCAL VOC AP at IoU 0.5, all-point interpolation (the VOC2010+ rule)

Each value is averaged over the classes that have ground truth (in the range); -1 where none has, as
torchmetrics.

COCOeval's rules (pycocotools ``evaluateImg`` / ``accumulate`` / ``summarize``), followed exactly, no crowd:
per image and class the detections are sorted by descending score (stable: mergesort) and cut to the
largest maxDets (100); ground truth outside the area range is "ignored" and sorted after the rest; each
detection in turn is matched to the unmatched ground truth of highest IoU >= the threshold (among equal IoUs
the later one; a non-ignored one before any ignored one); a detection matched to ignored ground truth, or
unmatched with its area outside the range, is ignored.  Per class the detections of all images (each cut to
maxDet) are merged by a stable sort on descending score; precision tp / (tp + fp + eps) is made monotone
(non-increasing in recall) and sampled at 101 recall points with ``searchsorted(side="left")`` (0 past the
highest recall); recall is tp / (number of non-ignored ground truth).

VOC (``VOCevaldet.m``, VOC2010+): per class all detections of all images are sorted by descending score
(stable, no maxDets); each one takes the ground truth of its image with the highest IoU (the first among
equals); it is a true positive if that IoU >= 0.5 and that ground truth is not yet taken, else a false
positive.  AP is the area under the monotone precision / recall curve at every recall step.
"""
from __future__ import annotations

import numpy as np

from ..vision.boxes import pairwise_iou
from ..vision.ops import box_convert

_AREA_RANGES = {"all": (0.0, 1e5 ** 2), "small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
                "large": (96.0 ** 2, 1e5 ** 2)}


def _array(value, what: str, dtype) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach()
    return np.asarray(value, dtype=dtype)


def _boxes(value, what: str, box_format: str) -> np.ndarray:
    b = _array(value, what, np.float64)
    if b.size == 0:
        return np.zeros((0, 4), np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"MeanAveragePrecision: expected {what} of shape (N, 4), got {b.shape}")
    if box_format != "xyxy":
        b = box_convert(b, box_format, "xyxy").numpy()
    return b


def _iou(dt: np.ndarray, gt: np.ndarray) -> np.ndarray:
    if len(dt) == 0 or len(gt) == 0:
        return np.zeros((len(dt), len(gt)), np.float64)
    # box_iou's formula on plain arrays: no Tensors or graph nodes per (image, class); 0/0 counts as no overlap
    return np.nan_to_num(pairwise_iou(dt.astype(np.float64, copy=False), gt.astype(np.float64, copy=False)), nan=0.0)


def _area(b: np.ndarray) -> np.ndarray:
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def _match(ious: np.ndarray, gt_ignore: np.ndarray, thresholds: np.ndarray):
    """COCOeval's greedy matching of D score-sorted detections to G ground truth (ignored ones last), for
    all T thresholds at once: (dt_matched (T, D) bool, dt_matched_ignored (T, D) bool)."""
    n_t, (n_d, n_g) = len(thresholds), ious.shape
    dtm = np.zeros((n_t, n_d), bool)
    dt_ig = np.zeros((n_t, n_d), bool)
    if n_g == 0 or n_d == 0:
        return dtm, dt_ig
    gtm = np.zeros((n_t, n_g), bool)
    floor = np.minimum(thresholds, 1 - 1e-10)[:, None]
    rows = np.arange(n_t)
    groups = [np.flatnonzero(~gt_ignore), np.flatnonzero(gt_ignore)]
    for d in range(n_d):
        chosen = np.full(n_t, -1)
        for cols in groups:
            if len(cols) == 0:
                continue
            cand = np.where(~gtm[:, cols] & (ious[d, cols] >= floor), ious[d, cols], -np.inf)  # (T, g)
            last_best = cand.shape[1] - 1 - np.argmax(cand[:, ::-1], axis=1)  # the later among equal IoUs
            found = np.isfinite(cand[rows, last_best]) & (chosen < 0)
            chosen[found] = cols[last_best[found]]
        hit = chosen >= 0
        dtm[hit, d] = True
        dt_ig[hit, d] = gt_ignore[chosen[hit]]
        gtm[rows[hit], chosen[hit]] = True
    return dtm, dt_ig


def _accumulate(evals, max_det: int, rec_thresholds: np.ndarray, n_t: int):
    """precision (T, R) and recall (T,) of one class, area range and maxDet from its per-image evaluations
    (scores, dtm, dt_ig, gt_ignore); None where the class has no non-ignored ground truth."""
    npig = sum(int(np.count_nonzero(~e[3])) for e in evals)
    if npig == 0:
        return None
    scores = np.concatenate([e[0][:max_det] for e in evals])
    order = np.argsort(-scores, kind="mergesort")
    dtm = np.concatenate([e[1][:, :max_det] for e in evals], axis=1)[:, order]
    dt_ig = np.concatenate([e[2][:, :max_det] for e in evals], axis=1)[:, order]
    tp = np.cumsum(dtm & ~dt_ig, axis=1, dtype=np.float64)
    fp = np.cumsum(~dtm & ~dt_ig, axis=1, dtype=np.float64)
    precision = np.zeros((n_t, len(rec_thresholds)))
    recall = np.zeros(n_t)
    if tp.shape[1] == 0:
        return precision, recall
    rc = tp / npig
    pr = tp / (fp + tp + np.spacing(1))
    pr = np.maximum.accumulate(pr[:, ::-1], axis=1)[:, ::-1]
    recall[:] = rc[:, -1]
    for t in range(n_t):
        idx = np.searchsorted(rc[t], rec_thresholds, side="left")
        ok = idx < rc.shape[1]
        precision[t, ok] = pr[t, idx[ok]]
    return precision, recall


def _voc_ap(dets, gts) -> float:
    """VOC2010+ AP at IoU 0.5 of one class: dets a list per image of (boxes, scores, IoU with gts), gts of
    boxes."""
    npos = sum(len(g) for g in gts)
    scores, image, best, best_iou = [], [], [], []
    for i, ((boxes, s, ious), g) in enumerate(zip(dets, gts)):
        scores.append(s)
        image.append(np.full(len(s), i))
        best.append(ious.argmax(axis=1) if len(g) else np.zeros(len(s), int))
        best_iou.append(ious.max(axis=1) if len(g) else np.full(len(s), -1.0))
    scores, image, best, best_iou = (np.concatenate(x) for x in (scores, image, best, best_iou))
    order = np.argsort(-scores, kind="mergesort")
    image, best, best_iou = image[order], best[order], best_iou[order]
    tp = np.zeros(len(order))
    over = np.flatnonzero(best_iou >= 0.5)
    _, first = np.unique(np.stack([image[over], best[over]], axis=1), axis=0, return_index=True)
    tp[over[first]] = 1.0  # the first detection to reach a ground truth takes it; later ones are duplicates
    tp_sum = np.cumsum(tp)
    rec = tp_sum / npos
    prec = tp_sum / np.maximum(np.arange(1, len(tp) + 1), np.finfo(np.float64).eps)
    mrec = np.concatenate([[0.0], rec, [1.0]])
    mpre = np.concatenate([[0.0], prec, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    step = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[step + 1] - mrec[step]) * mpre[step + 1]))


def _mean(values: np.ndarray) -> float:
    v = values[values > -1]
    return float(np.mean(v)) if v.size else -1.0


class MeanAveragePrecision:
    """COCO mAP / mAR of box detections (torchmetrics' ``MeanAveragePrecision(iou_type="bbox")``), plus
    ``voc_map_50``.  See the module docstring for the keys of ``compute()`` and the exact rules."""

    def __init__(self, box_format: str = "xyxy", iou_thresholds=None, rec_thresholds=None,
                 max_detection_thresholds=None):
        if box_format not in ("xyxy", "xywh", "cxcywh"):
            raise ValueError(f"MeanAveragePrecision: box_format must be 'xyxy', 'xywh' or 'cxcywh', got {box_format!r}")
        self.box_format = box_format
        # the same linspaces as COCOeval's Params, so that thresholds compare bit for bit
        self.iou_thresholds = np.asarray(iou_thresholds if iou_thresholds is not None else
                                         np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1), np.float64)
        self.rec_thresholds = np.asarray(rec_thresholds if rec_thresholds is not None else
                                         np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1), np.float64)
        self.max_detection_thresholds = sorted(int(m) for m in (max_detection_thresholds or (1, 10, 100)))
        self.reset()

    def reset(self) -> None:
        self._preds = []  # per image: (boxes (N, 4) float64, scores (N,), labels (N,))
        self._targets = []  # per image: (boxes (M, 4), labels (M,))

    def update(self, preds, target) -> None:
        if not isinstance(preds, (list, tuple)) or not isinstance(target, (list, tuple)):
            raise ValueError("MeanAveragePrecision.update: expected preds and target as lists of dicts, one per image")
        if len(preds) != len(target):
            raise ValueError(f"MeanAveragePrecision.update: {len(preds)} preds for {len(target)} targets")
        for p, t in zip(preds, target):
            for keys, d, what in ((("boxes", "scores", "labels"), p, "preds"), (("boxes", "labels"), t, "target")):
                missing = [k for k in keys if k not in d]
                if missing:
                    raise ValueError(f"MeanAveragePrecision.update: {what} entry lacks {missing}")
            boxes = _boxes(p["boxes"], "preds boxes", self.box_format)
            scores = _array(p["scores"], "scores", np.float64).reshape(-1)
            labels = _array(p["labels"], "labels", np.int64).reshape(-1)
            if not len(boxes) == len(scores) == len(labels):
                raise ValueError(f"MeanAveragePrecision.update: preds have {len(boxes)} boxes, {len(scores)} scores "
                                 f"and {len(labels)} labels")
            gt_boxes = _boxes(t["boxes"], "target boxes", self.box_format)
            gt_labels = _array(t["labels"], "labels", np.int64).reshape(-1)
            if len(gt_boxes) != len(gt_labels):
                raise ValueError(f"MeanAveragePrecision.update: target has {len(gt_boxes)} boxes and "
                                 f"{len(gt_labels)} labels")
            self._preds.append((boxes, scores, labels))
            self._targets.append((gt_boxes, gt_labels))

    def _classes(self) -> np.ndarray:
        labels = [p[2] for p in self._preds] + [t[1] for t in self._targets]
        return np.unique(np.concatenate(labels)) if labels else np.zeros(0, np.int64)

    def _evaluate_class(self, k):
        """Per area range, the list over images of (scores, dtm (T, D), dt_ig (T, D), gt_ignore (G,)) of class k;
        also, for VOC, per image (sorted boxes, scores) and the ground truth boxes."""
        per_area = {a: [] for a in _AREA_RANGES}
        voc_dets, voc_gts = [], []
        for (boxes, scores, labels), (gt_boxes, gt_labels) in zip(self._preds, self._targets):
            mine = labels == k
            dt, s = boxes[mine], scores[mine]
            gt = gt_boxes[gt_labels == k]
            all_ious = _iou(dt, gt)  # once: VOC scores every detection, COCO the top ones by score
            voc_dets.append((dt, s, all_ious))
            voc_gts.append(gt)
            if len(dt) == 0 and len(gt) == 0:
                continue
            order = np.argsort(-s, kind="mergesort")[:self.max_detection_thresholds[-1]]
            dt, s, ious = dt[order], s[order], all_ious[order]
            gt_area, dt_area = _area(gt), _area(dt)
            for a, (lo, hi) in _AREA_RANGES.items():
                ignore = (gt_area < lo) | (gt_area > hi)
                gt_order = np.argsort(ignore, kind="mergesort")
                dtm, dt_ig = _match(ious[:, gt_order], ignore[gt_order], self.iou_thresholds)
                dt_ig |= ~dtm & ((dt_area < lo) | (dt_area > hi))[None, :]
                per_area[a].append((s, dtm, dt_ig, ignore))
        return per_area, voc_dets, voc_gts

    def compute(self) -> dict:
        classes = self._classes()
        n_t, n_r, n_k, n_m = (len(self.iou_thresholds), len(self.rec_thresholds), len(classes),
                              len(self.max_detection_thresholds))
        precision = -np.ones((n_t, n_r, n_k, len(_AREA_RANGES), n_m))
        recall = -np.ones((n_t, n_k, len(_AREA_RANGES), n_m))
        voc = []
        for ki, k in enumerate(classes):
            per_area, voc_dets, voc_gts = self._evaluate_class(k)
            for ai, a in enumerate(_AREA_RANGES):
                for mi, m in enumerate(self.max_detection_thresholds):
                    got = _accumulate(per_area[a], m, self.rec_thresholds, n_t) if per_area[a] else None
                    if got is not None:
                        precision[:, :, ki, ai, mi], recall[:, ki, ai, mi] = got
            if any(len(g) for g in voc_gts):
                voc.append(_voc_ap(voc_dets, voc_gts))
        return self._summarize(classes, precision, recall, voc)

    def _summarize(self, classes, precision, recall, voc) -> dict:
        def at(iou):
            t = np.flatnonzero(np.isclose(self.iou_thresholds, iou))
            return _mean(precision[t, :, :, 0, -1]) if len(t) else -1.0

        out = {"map": _mean(precision[..., 0, -1]), "map_50": at(0.5), "map_75": at(0.75)}
        for ai, a in enumerate(("small", "medium", "large"), start=1):
            out[f"map_{a}"] = _mean(precision[..., ai, -1])
        for mi, m in enumerate(self.max_detection_thresholds):
            out[f"mar_{m}"] = _mean(recall[:, :, 0, mi])
        for ai, a in enumerate(("small", "medium", "large"), start=1):
            out[f"mar_{a}"] = _mean(recall[:, :, ai, -1])
        out["map_per_class"] = [_mean(precision[:, :, k, 0, -1]) for k in range(len(classes))]
        out["mar_100_per_class"] = [_mean(recall[:, k, 0, -1]) for k in range(len(classes))]
        out["classes"] = [int(c) for c in classes]
        out["voc_map_50"] = float(np.mean(voc)) if voc else -1.0
        return out
