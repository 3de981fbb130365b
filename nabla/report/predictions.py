"""Pictures for a detection or segmentation run that left none: its checkpoint's predictions on a few test
images of its data set, drawn as ``nabla predict`` draws them (boxes with labels and scores; masks in colour).

A run folder holds numbers, not pictures, for these tasks; a reader wants to see the boxes.  The first ``count``
test images are exported (``nabla.data.datasets.export``, as ``nabla datasets export`` does) into a temporary
folder and ``nabla.train.predict.predict`` draws the best checkpoint's predictions on them.  Whatever cannot be
done (no Pillow, a data set with no export, data not installed) is one note; the report goes on without them.
"""
from __future__ import annotations

import glob
import os
import tempfile

TASKS = ("detection", "segmentation")
SCORE_THRESH = 0.5


def _checkpoint(folder: str) -> str | None:
    return next((os.path.join(folder, f) for f in ("best.safetensors", "last.safetensors")
                 if os.path.isfile(os.path.join(folder, f))), None)


def draw_predictions(run, out: str, count: int = 4, echo=print) -> list:
    """PNG files in ``out``: ``run``'s predictions on ``count`` test images; [] for other tasks, a run with
    pictures of its own, or when they cannot be drawn (said in a note)."""
    checkpoint = _checkpoint(run.folder)
    if run.task not in TASKS or run.images or checkpoint is None or count < 1:
        return []
    from ..data.datasets.export import export_dataset
    from ..train.predict import predict
    try:
        with tempfile.TemporaryDirectory(prefix="nabla-report-") as tmp:
            scenes = os.path.join(tmp, "scenes")
            export_dataset(run.dataset, "coco", scenes, split="test", count=count, download=False)
            images = sorted(glob.glob(os.path.join(scenes, "images", "*.png")))
            done = predict(checkpoint, images, out, score_thresh=SCORE_THRESH, echo=lambda line: None)
    except (ImportError, OSError, ValueError, RuntimeError, KeyError) as e:
        echo(f"note: no prediction pictures for {run.folder} ({type(e).__name__}: {str(e).splitlines()[0]})")
        return []
    return [r["output"] for r in done]
