"""Detection ops (issue 13): nms of 2,000 boxes, and roi_align / roi_pool of 512 RoIs on one 64-channel
16x16 map, forward + backward, nabla against torchvision's compiled CPU kernels (goal <= 3x).

torchvision's compiled kernels do not load beside the CPU build of torch that nabla's tests use (the
registry's torchvision wheels are CUDA builds).  They do in a separate environment holding the CUDA build
of torch (5.5 GB; it runs on the CPU), whose interpreter runs the PyTorch side:

    python3 -m venv /work/venv-tv && /work/venv-tv/bin/pip install torch==2.14.1 torchvision==0.29.1 numpy
    python -m benchmarks nms_2000 roi_align_512 roi_pool_512 --torch-python /work/venv-tv/bin/python

(or NABLA_BENCH_TORCH_PYTHON=/work/venv-tv/bin/python).  Where the kernels do not load, the PyTorch
side raises ImportError saying so (the smoke test then checks the nabla step alone).

Shapes follow torchvision's Faster R-CNN: 2,000 RPN proposals suppressed at IoU 0.7; the box head's
RoIAlign(7, sampling_ratio=2, aligned=False) on a stride-16 map (spatial_scale 1/16, a 256 x 256 image).
"""
from __future__ import annotations

import numpy as np

from . import Workload, framework, register

IMAGE = 256


def _proposals(n, seed=0):
    """n boxes (xyxy, float32) of 16-128 px in a 512 x 512 image, and their scores."""
    rng = np.random.default_rng(seed)
    centre, size = rng.uniform(0, 512, (n, 2)), rng.uniform(16, 128, (n, 2))
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float32)
    return boxes, rng.random(n).astype(np.float32)


def _roi_data(cfg, seed=1):
    """Features (1, C, S, S), rois (K, 5) inside the IMAGE x IMAGE image, and the output's cotangent."""
    rng = np.random.default_rng(seed)
    k, c, s, p = cfg["rois"], cfg["channels"], cfg["size"], cfg["output"]
    feats = rng.standard_normal((1, c, s, s)).astype(np.float32)
    xy = rng.uniform(0, IMAGE * 0.8, (k, 2))
    rois = np.concatenate([np.zeros((k, 1)), xy, np.minimum(xy + rng.uniform(16, 160, (k, 2)), IMAGE)], axis=1)
    return feats, rois.astype(np.float32), rng.standard_normal((k, c, p, p)).astype(np.float32)


def _torchvision():
    """torch and torchvision with its compiled kernels, or ImportError saying how to get them."""
    torch = framework("torch")
    try:
        import torchvision
        loaded = torchvision.extension._has_ops()
    except (ImportError, RuntimeError) as e:  # a CUDA wheel beside the CPU torch: "torchvision::nms does not exist"
        loaded, why = False, f"{type(e).__name__}: {e}"
    else:
        why = "its compiled ops did not load"
    if not loaded:
        raise ImportError(f"torchvision's compiled kernels are not available to this torch ({torch.__version__}; "
                          f"{why}); run the PyTorch side with --torch-python /work/venv-tv/bin/python "
                          "(see benchmarks/workloads/detection_ops.py)")
    return torch, torchvision


def _nms_nabla(cfg):
    from nabla.vision import ops
    boxes, scores = _proposals(cfg["boxes"])
    return lambda: ops.nms(boxes, scores, cfg["iou"])


def _nms_torch(cfg):
    torch, tv = _torchvision()
    boxes, scores = (torch.tensor(a) for a in _proposals(cfg["boxes"]))
    return lambda: tv.ops.nms(boxes, scores, cfg["iou"])


def _pool_step(fw, pool, cfg):
    """step(): pool the RoIs, <out, u>, backward to the features; returns the scalar."""
    feats, rois, u = _roi_data(cfg)
    x, r, u = fw.tensor(feats, requires_grad=True), fw.tensor(rois), fw.tensor(u)

    def step():
        x.grad = None
        loss = (pool(x, r) * u).sum()
        loss.backward()
        return loss
    return step


def _align(ops, cfg):
    return lambda x, r: ops.roi_align(x, r, cfg["output"], cfg["scale"], cfg["sampling_ratio"], False)


def _pool(ops, cfg):
    return lambda x, r: ops.roi_pool(x, r, cfg["output"], cfg["scale"])


def _roi_align_nabla(cfg):
    from nabla.vision import ops
    return _pool_step(framework("nabla"), _align(ops, cfg), cfg)


def _roi_align_torch(cfg):
    torch, tv = _torchvision()
    return _pool_step(torch, _align(tv.ops, cfg), cfg)


def _roi_pool_nabla(cfg):
    from nabla.vision import ops
    return _pool_step(framework("nabla"), _pool(ops, cfg), cfg)


def _roi_pool_torch(cfg):
    torch, tv = _torchvision()
    return _pool_step(torch, _pool(tv.ops, cfg), cfg)


_ROIS = {"rois": 512, "channels": 64, "size": 16, "output": 7, "scale": 1 / 16, "sampling_ratio": 2}
_SMOKE = {"rois": 16, "channels": 4}

register(Workload("nms_2000", goal=3.0, source="issue 13",
                  description="nms of 2,000 proposals (16-128 px in 512 x 512) at IoU 0.7, float32",
                  nabla=_nms_nabla, torch=_nms_torch, config=lambda: {"boxes": 2000, "iou": 0.7},
                  smoke={"boxes": 200}))
register(Workload("roi_align_512", goal=3.0, source="issue 13",
                  description="roi_align of 512 RoIs on a (1, 64, 16, 16) map, 7x7, scale 1/16, sampling_ratio 2, "
                              "forward + backward",
                  nabla=_roi_align_nabla, torch=_roi_align_torch, config=lambda: dict(_ROIS), smoke=_SMOKE))
register(Workload("roi_pool_512", goal=3.0, source="issue 13",
                  description="roi_pool of 512 RoIs on a (1, 64, 16, 16) map, 7x7, scale 1/16, forward + backward",
                  nabla=_roi_pool_nabla, torch=_roi_pool_torch, config=lambda: dict(_ROIS), smoke=_SMOKE))
