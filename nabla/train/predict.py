"""``nabla predict``: a detector checkpoint's boxes on image files of any size, drawn and printed (a
segmentation checkpoint's masks: ``nabla.train.predict_masks``, the same steps 1 and 2).

For each image file (PNG, JPEG, anything Pillow reads):

1. Read with Pillow and converted to the channels the checkpoint's model takes (the ``in_shape`` it records:
   1 grey, 3 RGB), pixels / 255 in [0, 1] as the detectors train (a normalisation the checkpoint records,
   ``(mean, std)``, is applied too).
2. Sized to the model's input (H, W): an image of that size goes straight through; any other is
   letterboxed (``nabla.data.image_io.letterbox``): scaled by ``s = min(H / h, W / w)`` (up or down) with
   its aspect ratio kept, pasted at the top-left of a black canvas (0, the scenes' background), and the
   boxes found are mapped back to the original pixels (``x / sx``, ``y / sy``, clipped to the image; a box
   left with no area, one found on the padding, is dropped).  A big image is shrunk whole, not tiled: its
   objects must stay large enough after the shrink for the model to find them.
3. The detections scoring at least ``score_thresh`` (after the model's own ``score_thresh`` option, 0.01
   by default) are drawn on the original image in colour, each box with its label and score, and written
   to ``OUT/<file name without suffix>.png``; an image under ``DRAW_MIN_SIDE`` pixels on its shorter side is
   enlarged by an integer factor (nearest neighbour; its longer side at most ``DRAW_MAX_SIDE``) first, so
   the labels can be read.  Each detection is printed as one line ``IMAGE LABEL SCORE X0 Y0 X1 Y1``: the
   image as given, the class name the checkpoint records (spaces as ``_``), the score, the box in the
   original image's pixels (right and bottom edges exclusive).

Nothing is overwritten: an existing ``OUT/<name>.png``, or two images of the same name, stop the command
before any work, as do a missing image file, a checkpoint that is neither a detector's nor a segmentation
model's, or a missing Pillow.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..data.image_io import boxes_from_letterbox, letterbox, read_image, require_pillow, write_png
from ..vision.draw import PALETTE, draw_bounding_boxes
from .run import RunError, _checkpoint_task, check_writable, rebuild_from_checkpoint
from .steps.detection import DetectionStep

__all__ = ["predict", "DRAW_MIN_SIDE"]

DRAW_MIN_SIDE = 256   # smaller images are drawn enlarged, so the labels can be read...
DRAW_MAX_SIDE = 2048  # ...but never beyond this (a long thin strip stays its size)
BATCH = 16            # images per forward pass
TASKS = ("detection", "segmentation")


def _destinations(images, out) -> list:
    """``OUT/<stem>.png`` per image, checked: each image exists, no two share a name, none exists yet."""
    missing = next((p for p in images if not os.path.isfile(p)), None)
    if missing is not None:
        raise RunError(f"no such image file {os.fspath(missing)!r}")
    dests, seen = [], {}
    for p in images:
        dest = os.path.join(out, Path(p).stem + ".png")
        if dest in seen:
            raise RunError(f"{os.fspath(seen[dest])!r} and {os.fspath(p)!r} would both be drawn to {dest!r}: "
                           "rename one, or predict them into different --out folders")
        if os.path.exists(dest):
            raise RunError(f"{dest!r} exists; nabla predict never overwrites: delete it or choose another --out")
        seen[dest] = p
        dests.append(dest)
    return dests


def _predictor(checkpoint):
    """``(model, config, task)`` of a detector's or a segmentation model's checkpoint."""
    model, config, _ = rebuild_from_checkpoint(checkpoint)
    task = _checkpoint_task(config).name
    if task not in TASKS:
        raise RunError(f"{os.fspath(checkpoint)!r} holds a {task} model ({config['model']}); nabla predict needs a "
                       "detector's or a segmentation model's checkpoint")
    return model, config, task


def _class_names(config) -> list:
    names = config.get("classes") or [str(k) for k in range(int(config.get("num_classes", 0)))]
    return ["_".join(str(n).split()) or "_" for n in names]   # one word each: the printed line splits on spaces


def _inputs(originals, config) -> tuple:
    """The letterboxed batch, float32 (B, C, H, W) (normalised as the checkpoint records), and the scales."""
    size = tuple(config["in_shape"][1:])
    fitted = [letterbox(im, size) for im in originals]
    x = np.stack([f[0] for f in fitted]).astype(np.float32)
    x *= np.float32(1 / 255)
    norm = config.get("normalize") or ()
    if len(norm) == 2 and tuple(norm) != (0.0, 1.0):
        x = (x - np.float32(norm[0])) / np.float32(norm[1])
    return x, [f[1] for f in fitted]


def _draw(image: np.ndarray, boxes, texts, classes, dest) -> None:
    """``image`` (C, h, w) with its boxes and their texts drawn, a colour per class, written to ``dest``
    (enlarged when small)."""
    h, w = image.shape[1:]
    f = max(1, min(math.ceil(DRAW_MIN_SIDE / min(h, w)), DRAW_MAX_SIDE // max(h, w)))
    big = image.repeat(f, axis=1).repeat(f, axis=2) if f > 1 else image
    colors = [PALETTE[int(k) % len(PALETTE)] for k in classes]
    drawn = draw_bounding_boxes(big, np.asarray(boxes) * f, labels=texts, colors=colors, width=max(1, f // 2))
    write_png(drawn, dest)


def _found(det, scale, original_size, score_thresh) -> tuple:
    """``(boxes, scores, labels)`` of one image's detections at or above ``score_thresh``, in its pixels."""
    keep = np.asarray(det["scores"]) >= score_thresh
    boxes = boxes_from_letterbox(np.asarray(det["boxes"])[keep], scale, original_size)
    scores, labels = np.asarray(det["scores"])[keep], np.asarray(det["labels"])[keep]
    real = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])   # not a box found on the padding alone
    return boxes[real], scores[real], labels[real]


def predict(checkpoint, images, out, score_thresh: float = 0.5, echo=print) -> list:
    """Detect, draw and print (see the module docstring); one dict per image: ``image``, ``output``,
    ``boxes`` (n, 4) in its pixels, ``scores``, ``labels`` (class indices), ``names``.  A segmentation
    checkpoint goes to ``nabla.train.predict_masks`` (its dicts: ``image``, ``output``, ``mask``, ``shares``)."""
    require_pillow("nabla predict (reading and drawing images)")
    images = [os.fspath(p) for p in images]
    dests = _destinations(images, out)
    model, config, task = _predictor(checkpoint)
    check_writable(out)
    if task == "segmentation":
        from .predict_masks import predict_masks
        return predict_masks(model, config, images, dests, out, _class_names(config), echo,
                             (DRAW_MIN_SIDE, DRAW_MAX_SIDE), BATCH, _inputs)
    names, step = _class_names(config), DetectionStep(model, None)
    channels, results = int(config["in_shape"][0]), []
    for start in range(0, len(images), BATCH):
        chunk = list(zip(images, dests))[start:start + BATCH]
        originals = [read_image(p, channels, who="nabla predict") for p, _ in chunk]
        x, scales = _inputs(originals, config)
        for (path, dest), im, scale, det in zip(chunk, originals, scales, step.detect(x)):
            boxes, scores, labels = _found(det, scale, im.shape[1:], score_thresh)
            label_names = [names[k] if 0 <= k < len(names) else str(k) for k in labels]
            for name, s, b in zip(label_names, scores, boxes):
                echo(f"{path} {name} {s:.3f} {b[0]:.1f} {b[1]:.1f} {b[2]:.1f} {b[3]:.1f}")
            _draw(im, boxes, [f"{n} {s:.2f}" for n, s in zip(label_names, scores)], labels, dest)
            results.append({"image": path, "output": dest, "boxes": boxes, "scores": scores, "labels": labels,
                            "names": label_names})
    total = sum(len(r["scores"]) for r in results)
    echo(f"drew {total} detection{'' if total == 1 else 's'} (score >= {score_thresh:g}) on {len(results)} "
         f"image{'' if len(results) == 1 else 's'} into {os.fspath(out)}")
    return results
