"""Detector training steps (issue 13): nabla's ``yolo`` and ``faster-rcnn`` (registry defaults) against the
same architectures in PyTorch, one step on a fixed batch of 64x64 ``mnist-scenes``: forward with the
targets -> the loss dict -> its sum -> backward -> Adam (the registry's learning rate).

Both sides read the same scenes and nabla's initial weights from one file (``_scenes.py``).
- ``yolo_train_b64``: PyTorch runs ``_torch_yolo.py`` (the model, target assignment and loss written in
  plain torch); the smoke test checks that both first steps give the same loss.
- ``faster_rcnn_train_b16``: PyTorch runs torchvision's own FasterRCNN configured as nabla's
  (``_torch_frcnn.py``); it needs torchvision's compiled kernels:

      python -m benchmarks faster_rcnn_train_b16 --torch-python /work/venv-tv/bin/python

  Both sides sample anchors and RoIs at random (each its own generator), so their losses differ from the
  first step on; ``smoke`` options sample every anchor and RoI and keep every proposal, so the first losses
  agree there.
"""
from __future__ import annotations

from . import Workload, framework, register, training_step
from ._scenes import load_params, load_scenes, scene_config

K = 10  # digit classes


def _training(model: str) -> dict:
    from nabla.models.registry import get_model_entry
    return get_model_entry(model).training


def _config(model: str, batch: int, **options):
    def config():
        cfg = scene_config(model, batch, K, **options)
        cfg["lr"] = _training(model)["lr"]
        return cfg
    return config


def _nabla_step(cfg, options=None):
    """The nabla model from the registry with the saved weights; step() sums its loss dict."""
    nb = framework("nabla", "optim")
    from nabla.models import build_model
    model = build_model(cfg["model"], (1, 64, 64), K, **cfg["options"], **(options or {}))
    load_params(nb, model, cfg)
    model.train()
    batch = cfg.get("smoke_batch", cfg["batch"])
    images, boxes, labels, _ = load_scenes(cfg, batch)
    x = nb.tensor(images)
    targets = [{"boxes": b, "labels": lab} for b, lab in zip(boxes, labels)]
    opt = nb.optim.Adam(model.parameters(), lr=cfg["lr"])
    return training_step(opt, lambda: sum(model(x, targets).values()))


# ---------------------------------------------------------------- YOLO v1
def _yolo_nabla(cfg):
    return _nabla_step(cfg)


def _yolo_torch(cfg):
    torch = framework("torch")
    from ._torch_yolo import build, loss
    model = build(torch, (16, 32, 64, 96, 96, 96), 1, 2, K)
    load_params(torch, model, cfg)
    model.train()
    images, boxes, labels, _ = load_scenes(cfg, cfg.get("smoke_batch", cfg["batch"]))
    x = torch.tensor(images)
    targets = [{"boxes": torch.tensor(b), "labels": torch.tensor(lab)} for b, lab in zip(boxes, labels)]
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    return training_step(opt, lambda: sum(loss(model, torch, x, targets, K).values()))


register(Workload("yolo_train_b64", goal=2.5, source="issue 13",
                  description="YOLO v1 (registry defaults, widths 16-96) training step, batch 64 of 64x64 "
                              "mnist-scenes: forward + target assignment + 4 losses + backward + Adam",
                  nabla=_yolo_nabla, torch=_yolo_torch, config=_config("yolo", 64), smoke={"smoke_batch": 4}))


# ---------------------------------------------------------------- Faster R-CNN
# every anchor (8 x 8 x 6 = 384) and proposal sampled and kept: no randomness, so both first losses agree
_FULL = {"rpn_pre_nms_top_n_train": 384, "rpn_post_nms_top_n_train": 384, "rpn_batch_size_per_image": 100000,
         "box_batch_size_per_image": 100000}


def _frcnn_nabla(cfg):
    return _nabla_step(cfg, _FULL if cfg.get("full_sampling") else None)


def _frcnn_torch(cfg):
    from .detection_ops import _torchvision
    torch, tv = _torchvision()
    from ._torch_frcnn import build, rename
    model = build(torch, tv, K, options=_FULL if cfg.get("full_sampling") else None)
    load_params(torch, model, cfg, rename)
    model.train()
    images, boxes, labels, _ = load_scenes(cfg, cfg.get("smoke_batch", cfg["batch"]))
    x = torch.tensor(images)
    # torchvision's heads take labels 1..K (0 is background); nabla shifts inside its heads
    targets = [{"boxes": torch.tensor(b), "labels": torch.tensor(lab) + 1} for b, lab in zip(boxes, labels)]
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    return training_step(opt, lambda: sum(model(x, targets).values()))


register(Workload("faster_rcnn_train_b16", goal=2.5, source="issue 13",
                  description="Faster R-CNN (registry defaults) training step, batch 16 of 64x64 mnist-scenes: "
                              "backbone + RPN + RoIAlign box head, 4 losses, backward, Adam; PyTorch side: "
                              "torchvision's FasterRCNN configured the same (--torch-python /work/venv-tv/bin/python)",
                  nabla=_frcnn_nabla, torch=_frcnn_torch, config=_config("faster-rcnn", 16),
                  smoke={"smoke_batch": 2, "full_sampling": True}))
