"""detectors: the notes' detection ladder on the same scenes -- sliding windows, R-CNN, Fast R-CNN, Faster R-CNN,
YOLO -- accuracy against inference speed.

Claims (notes, 目标检测), translated:

* the general method: slide a window over the image, classify and localize each window;
* R-CNN: candidate regions first, then a CNN classifies and localizes each one;
* Fast R-CNN: one shared feature extraction for all regions, "so it is faster";
* Faster R-CNN: a Region Proposal Network replaces the external proposals, faster still;
* YOLO: one stage, one forward pass gives boxes and class probabilities at once: "fast and accurate".

Setup: the five registered detectors (``nabla models``: ``sliding-window``, ``rcnn``, ``fast-rcnn``,
``faster-rcnn``, ``yolo``), each built with its registry defaults and trained from scratch by the one Trainer
(``DetectionStep``) with its registry's optimizer, rate and batch size, for the same wall-clock budget each
(``BUDGET_S``; R-CNN and Fast R-CNN on their fixed, proposal-cached training scenes, the others on fresh
scenes), on ``mnist-scenes`` (64x64, 1-4 digits).  Each is then scored on the same test scenes: COCO
mAP@0.5 and mAP@0.75 (``nabla.metrics.MeanAveragePrecision``), training images seen, inference images per
second (forward and post-processing, NMS included, batch 50; selective search is recomputed for the test
scenes, never read from the proposal cache, since a new image pays for it) and, where there are proposals,
proposals per image and their recall at IoU 0.5.  Quick: 20 s each, 100 test scenes.

Verdicts, from the numbers alone:

1. "Fast R-CNN is faster than R-CNN at similar accuracy": its inference images/s is higher and its
   mAP@0.5 is within 0.10 of R-CNN's (or above it).
2. "Faster R-CNN is faster still, with proposals at least as good": its images/s beats Fast R-CNN's (which
   pays for selective search on each new image) and its proposals' recall at IoU 0.5 is at least selective
   search's (within 0.02).
3. "YOLO is fastest at one pass and still accurate": its images/s is the highest of the five and its
   mAP@0.5 is within 0.10 of the best.

The figure: mAP@0.5 against inference images/s (log scale) and, below it, each detector's boxes on the
same four test scenes.
"""
from __future__ import annotations

import time

import numpy as np

import nabla as nb
from ..data.datasets import get_dataset
from ..models.registry import build_model, get_model_entry
from ..train import Trainer
from ..train.settings import make_optimizer, resolve
from ..train.steps.detection import DetectionStep, proposal_figures
from ..train.steps.scene_batches import SceneBatches
from .base import register_experiment
from .common import Heartbeat

CLAIM = ("Fast R-CNN is faster than R-CNN at similar accuracy; Faster R-CNN is faster still with proposals at "
         "least as good; YOLO is the fastest, at one pass, and still accurate")

DETECTORS = ("sliding-window", "rcnn", "fast-rcnn", "faster-rcnn", "yolo")
BUDGET_S, QUICK_BUDGET_S = 300.0, 20.0
SHOWN = 4            # test scenes drawn for each detector


def _settings(name: str) -> dict:
    entry = get_model_entry(name)
    return resolve(entry.task, entry.training)


def _fresh_proposals(model) -> None:
    """Selective search recomputed at test time: a cache hit (proposals kept from an earlier run on the same
    scenes) would hide its cost from the inference images/s, and a new image always pays it."""
    from ..vision.proposals import SelectiveSearch
    for attr in ("proposer", "_search"):
        ss = getattr(model, attr, None)
        if isinstance(ss, SelectiveSearch):
            setattr(model, attr, SelectiveSearch(ss.mode, ss.max_proposals, ss.min_size, ss.scale, cache_dir=False))


def _detections_on(model, images) -> list:
    model.eval()
    with nb.no_grad():
        out = model(nb.from_numpy(images))
    return [{k: np.asarray(v.data if hasattr(v, "data") else v).tolist() for k, v in d.items()} for d in out]


def _train_one(name, budget, data, echo) -> dict:
    settings = _settings(name)
    nb.manual_seed(0)
    model = build_model(name, (1,) + tuple(data["train"].image_shape), len(data["train"].classes))
    fixed = settings["train_scenes"] or None
    loader = SceneBatches(data["train"], settings["batch_size"], seed=0, limit=fixed, fixed=fixed is not None)
    step = DetectionStep(model, make_optimizer(settings, model.parameters()))
    trainer = Trainer(step, callbacks=[Heartbeat(echo, f"detectors: {name}")], progress=False,
                      clip_grad_norm=settings["clip"] or None)
    start = time.perf_counter()
    trainer.fit(loader, epochs=10_000, time_budget=budget)
    train_time = time.perf_counter() - start
    test_loader = SceneBatches(data["test"], 50, shuffle=False, limit=data["n_test"])
    _fresh_proposals(model)
    result = step.evaluate(test_loader)
    images_seen = int(trainer.global_step * settings["batch_size"])
    row = {"detector": name, "map_50": result["map_50"], "map_75": result["map_75"], "map": result["map"],
           "training images": images_seen, "train time (s)": train_time,
           "inference images/s": result["images_per_s"], "parameters": model.num_parameters(),
           **proposal_figures(model, test_loader)}
    row["shown"] = _detections_on(model, data["shown"])
    echo(f"detectors: {name}: {images_seen:,} training images in {train_time:.0f} s; test map_50 "
         f"{result['map_50']:.3f}, map_75 {result['map_75']:.3f}, {result['images_per_s']:.1f} images/s")
    return row


CHAPTER = "modern-architectures"
NOTES = ("目标检测的一般方法是在图像中滑动窗口，然后使用深度学习模型对每个窗口进行分类和定位。 … Fast R-CNN："
         "对R-CNN进行了改进，通过共享特征提取过程来加速处理速度。 … Faster R-CNN：进一步改进了Fast R-CNN，引入"
         "了候选区域提取网络（Region Proposal Network，RPN），使整个系统更加高效。 … Yolo（You Only Look Once"
         "）：是一种单阶段目标检测模型，通过在单个前向传递中直接预测边界框和类别概率，实现了快速且准确的目标检"
         "测。",
         "The general method of object detection is to slide a window over the image and classify and localise "
         "each window with a deep model. ... Fast R-CNN: improves on R-CNN, speeding up processing by sharing the "
         "feature extraction. ... Faster R-CNN: improves further on Fast R-CNN by introducing the Region Proposal "
         "Network (RPN), making the whole system more efficient. ... YOLO (You Only Look Once): a single-stage "
         "detector that predicts bounding boxes and class probabilities directly in one forward pass, achieving "
         "fast and accurate detection.")


@register_experiment("detectors", "sliding windows, R-CNN, Fast R-CNN, Faster R-CNN, YOLO: accuracy and speed")
def run(quick: bool = False, download: bool = True, echo=print) -> dict:
    budget = QUICK_BUDGET_S if quick else BUDGET_S
    n_test = 100 if quick else 1000
    data = {"train": get_dataset("mnist-scenes", split="train", download=download),
            "test": get_dataset("mnist-scenes", split="test", download=download), "n_test": n_test}
    shown_images, shown_targets = data["test"].get_batch(np.arange(SHOWN))
    data["shown"] = shown_images
    rows = [_train_one(name, budget, data, echo) for name in DETECTORS]
    table = [{k: v for k, v in r.items() if k != "shown"} for r in rows]
    return {"table": table, "results": table, "budget_s": budget, "test_scenes": n_test,
            "shown": {"images": shown_images[:, 0].tolist(),
                      "targets": [{k: np.asarray(t[k]).tolist() for k in ("boxes", "labels")} for t in shown_targets],
                      "detections": {r["detector"]: r["shown"] for r in rows}}}


def claims(numbers) -> dict:
    rows = {r["detector"]: r for r in numbers["table"]}
    rc, fast, faster, yolo = rows["rcnn"], rows["fast-rcnn"], rows["faster-rcnn"], rows["yolo"]
    best = max(r["map_50"] for r in rows.values())
    speeds = {n: r["inference images/s"] for n, r in rows.items()}
    return {
        "Fast R-CNN is faster than R-CNN at similar accuracy":
            fast["inference images/s"] > rc["inference images/s"] and fast["map_50"] >= rc["map_50"] - 0.10,
        "Faster R-CNN is faster than Fast R-CNN with proposals at least as good":
            faster["inference images/s"] > fast["inference images/s"]
            and faster.get("proposal_recall_50", 0.0) >= fast.get("proposal_recall_50", 1.0) - 0.02,
        "YOLO is the fastest and still accurate":
            max(speeds, key=speeds.get) == "yolo" and yolo["map_50"] >= best - 0.10,
    }


def verdict(numbers):
    c = claims(numbers)
    rows = {r["detector"]: r for r in numbers["table"]}
    parts = [f"{n}: map_50 {r['map_50']:.3f}, map_75 {r['map_75']:.3f}, {r['inference images/s']:.1f} images/s"
             + (f", {r['proposals_per_image']:.0f} proposals/image (recall@0.5 {r['proposal_recall_50']:.3f})"
                if "proposals_per_image" in r else "")
             for n, r in rows.items()]
    text = (f"Each detector trained {numbers['budget_s']:.0f} s on mnist-scenes and scored on "
            f"{numbers['test_scenes']:,} test scenes. " + "; ".join(parts) + ". "
            + " ".join(f"{claim}: {'yes' if ok else 'no'}." for claim, ok in c.items()))
    return all(c.values()), text


def plot(fig, data):
    fig.set_size_inches(13, 3.2 * (1 + len(DETECTORS) * 0.75))
    rows = data["results"]
    grid = fig.add_gridspec(1 + len(DETECTORS), SHOWN + 2, height_ratios=[2.2] + [1] * len(DETECTORS))
    ax = fig.add_subplot(grid[0, 1:-1])
    for i, r in enumerate(rows):
        ax.scatter(r["inference images/s"], r["map_50"], s=60, color=f"C{i}", label=r["detector"])
        ax.annotate(r["detector"], (r["inference images/s"], r["map_50"]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("inference images/s (log scale)")
    ax.set_ylabel("test mAP@0.5")
    ax.set_title(f"accuracy against speed, {data['budget_s']:.0f} s of training each")
    images = np.asarray(data["shown"]["images"])
    for row, name in enumerate(DETECTORS):
        dets = data["shown"]["detections"][name]
        for col in range(SHOWN):
            a = fig.add_subplot(grid[1 + row, 1 + col])
            a.imshow(images[col], cmap="gray", vmin=0, vmax=1)
            a.set_xticks([])
            a.set_yticks([])
            if col == 0:
                a.set_ylabel(name, fontsize=9)
            d = dets[col]
            for (x0, y0, x1, y1), label, score in zip(d["boxes"], d["labels"], d["scores"]):
                if score < 0.5:
                    continue
                a.add_patch(_rectangle(x0, y0, x1, y1))
                a.text(x0, y0 - 1, f"{label} {score:.2f}", color="yellow", fontsize=6)


def _rectangle(x0, y0, x1, y1):
    from matplotlib.patches import Rectangle
    return Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="lime", linewidth=1)
