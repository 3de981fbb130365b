"""The same MNIST scenes and the same initial weights for both frameworks of a scene-model workload.

``scene_config`` runs in the harness process (a workload's ``config()``, which may import nabla): it draws
a batch of ``mnist-scenes`` training scenes (epoch 0, indices 0..batch-1, so both the image batch and the
targets are fixed) and builds the nabla model from the registry after ``nabla.manual_seed(seed)``, then
saves the images, the targets and every parameter to one ``.npz`` file in the temporary folder, rewritten
at each call (so a changed model never meets a stale file).  Both set-ups read that file with NumPy only
(``load_scenes``, ``load_params``): the PyTorch worker never imports nabla, and both models start from
nabla's own initialisation (kaiming, the RPN's N(0, 0.01), ...).
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

FORMAT = 1  # bump when the file's contents change


def scene_config(model: str, batch: int, num_classes: int, seed: int = 0, **options) -> dict:
    """The workload's config: the model's name, batch, class count, options and the data file's path."""
    folder = os.path.join(tempfile.gettempdir(), "nabla-bench-scenes")
    opts = "".join(f"-{k}={v}" for k, v in sorted(options.items()))
    path = os.path.join(folder, f"{model}-b{batch}-k{num_classes}-s{seed}{opts}-v{FORMAT}.npz")
    os.makedirs(folder, exist_ok=True)
    arrays = _scene_arrays(batch) | _model_arrays(model, num_classes, seed, options)
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # a worker never reads a half-written file
    return {"model": model, "batch": batch, "num_classes": num_classes, "options": options, "data": path}


def _scene_arrays(batch: int) -> dict:
    from nabla.data.datasets import MNISTScenes
    ds = MNISTScenes(split="train", seed=0, epoch=0)
    images, targets = ds.get_batch(np.arange(batch))
    return {"images": images, "masks": np.stack([t["mask"] for t in targets]).astype(np.int64),
            "boxes": np.concatenate([t["boxes"] for t in targets]).astype(np.float32),
            "labels": np.concatenate([t["labels"] for t in targets]).astype(np.int64),
            "counts": np.array([len(t["labels"]) for t in targets], np.int64)}


def _model_arrays(model: str, num_classes: int, seed: int, options: dict) -> dict:
    import nabla
    from nabla.models import build_model
    nabla.manual_seed(seed)
    net = build_model(model, (1, 64, 64), num_classes, **options)
    return {f"param:{name}": np.array(p.data) for name, p in net.named_parameters()}


def load_scenes(cfg: dict, batch: int | None = None):
    """(images float32 (B, 1, 64, 64), per-image boxes (n_i, 4) float32, labels (n_i,) int64, semantic masks
    int64 (B, 64, 64)) for the first ``batch`` scenes (default the config's batch)."""
    b = cfg["batch"] if batch is None else batch
    with np.load(cfg["data"]) as f:
        cuts = np.cumsum(f["counts"])[:-1]
        boxes, labels = np.split(f["boxes"], cuts), np.split(f["labels"], cuts)
        return f["images"][:b].copy(), boxes[:b], labels[:b], f["masks"][:b].copy()


def load_params(fw, module, cfg: dict, rename=lambda name: name) -> None:
    """Copy the saved nabla parameters into ``module`` (nabla or torch): parameter ``name`` of the nabla
    model goes to ``rename(name)`` of this one; every parameter of the module must be covered."""
    with np.load(cfg["data"]) as f:
        values = {rename(k[len("param:"):]): f[k] for k in f.files if k.startswith("param:")}
    params = dict(module.named_parameters())
    if set(params) != set(values):
        raise ValueError(f"load_params: parameters differ; only in the module: {sorted(set(params) - set(values))}, "
                         f"only in the file: {sorted(set(values) - set(params))}")
    with fw.no_grad():
        for name, p in params.items():
            if tuple(p.shape) != values[name].shape:
                raise ValueError(f"load_params: {name} has shape {tuple(p.shape)}, the file {values[name].shape}")
            p.copy_(fw.tensor(values[name]))
