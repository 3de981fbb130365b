"""ONNX emitters for the segmentation models (dense prediction): U-Net, FCN-32s/16s/8s, SegNet.

Each mirrors its class's ``forward``: U-Net's skip concatenations (Concat on channels) and 2x2 up-convolutions
(ConvTranspose), FCN's depthwise bilinear-initialised up-convolutions and score additions, SegNet's max-pools
that keep their indices and the decoder's max-unpooling with them (ONNX MaxPool's second output feeds ONNX
MaxUnpool directly: both use indices flat over the whole tensor, so nabla's per-plane convention never enters
the graph).  The output is the logits (N, num_classes, H, W); the per-pixel argmax stays with the caller.
Spatial sizes are the example's (the models need sides divisible by their total stride); the batch axis is
dynamic.  Registered for ``nabla export`` as the "segmentation" task's target (input "images", output "logits").
"""
from __future__ import annotations

import numpy as np

from ..models.fcn import STAGES, FCN
from ..models.segnet import SegNet
from ..models.unet import UNet
from ..nn import functional as F
from ..ops.shape import cat
from .checkpoint import ExportTarget, export_target
from .graph import Value, onnx_emitter
from .layers import max_pool_with_indices, max_unpool
from .models import add


def _child(g, container, x: Value, path: str, name: str, index: int) -> Value:
    """``container[index](x)`` with the path ``path.name.index``."""
    return g.emit(container[index], x, path=f"{path}.{name}.{index}")


@onnx_emitter(UNet)
def _unet(g, module, x, path):
    """Down: double_conv, keep the skip, 2x2 max-pool; bottom; up: concat(skip, up-conv(x)) -> double_conv."""
    skips = []
    for i in range(len(module.down)):
        x = _child(g, module.down, x, path, "down", i)
        skips.append(x)
        x = g.emit(module.pool, x, path=f"{path}.pool")
    x = g.emit(module.bottom, x, path=f"{path}.bottom")
    for i, skip in enumerate(reversed(skips)):
        up = _child(g, module.up, x, path, "up", i)
        joined = Value(g.node("Concat", [skip.name, up.name], f"{path}.cat{i}", axis=1),
                       cat([skip.tensor, up.tensor], dim=1))
        x = _child(g, module.up_conv, joined, path, "up_conv", i)
    return g.emit(module.classifier, x, path=f"{path}.classifier")


@onnx_emitter(FCN)
def _fcn(g, module, x, path):
    """Backbone stages (keeping each pool's output), fc6/fc7, score_fr; each skip k: upscore2 + score_pool of
    pool(4 - k); the final upscore."""
    pools = []
    for i in range(len(module.stages)):
        x = _child(g, module.stages, x, path, "stages", i)
        pools.append(x)
    score = g.emit(module.score_fr, g.emit(module.fc, x, path=f"{path}.fc"), path=f"{path}.score_fr")
    for k in range(module.skips):
        up = _child(g, module.upscore2, score, path, "upscore2", k)
        side = _child(g, module.score_pool, pools[STAGES - 2 - k], path, "score_pool", k)
        score = add(g, up, side, f"{path}.fuse{k}")
    return g.emit(module.upscore, score, path=f"{path}.upscore")


@onnx_emitter(SegNet)
def _segnet(g, module, x, path):
    """Encoder stages each ending in a 2x2 max-pool that keeps its indices; decoder stages in reverse, each
    starting with the max-unpooling by the matching indices to the matching pre-pool size."""
    kept = []
    for i in range(len(module.encoder)):
        x = _child(g, module.encoder, x, path, "encoder", i)
        before = x
        x, indices = max_pool_with_indices(g, x, f"{path}.encoder.{i}.pool", 2, 2)
        kept.append((before, indices))
    for j, (before, indices) in enumerate(reversed(kept)):
        i = len(kept) - 1 - j
        _, nabla_indices = F.max_pool2d(before.tensor, 2, 2, return_indices=True)
        unpooled = F.max_unpool2d(x.tensor, nabla_indices, 2, 2, output_size=before.shape[-2:])
        x = max_unpool(g, x, indices, before, f"{path}.decoder.{i}.unpool", 2, 2, 0, unpooled)
        x = _child(g, module.decoder, x, path, "decoder", i)
    return g.emit(module.classifier, x, path=f"{path}.classifier")


@export_target("segmentation")
def segmentation_target(model, config) -> ExportTarget:
    """The segmentation network on a random normal batch of the checkpoint's ``in_shape`` -> logits."""
    in_shape = tuple(int(d) for d in config["in_shape"])
    return ExportTarget(model, lambda batch, rng: [rng.standard_normal((batch, *in_shape)).astype(np.float32)],
                        f"images (batch, {', '.join(map(str, in_shape))})", input_names=["images"],
                        output_names=["logits"])
