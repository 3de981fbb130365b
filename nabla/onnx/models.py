"""ONNX emitters for the zoo's image classifiers whose forward is more than a Sequential.

Each mirrors its class's ``forward`` line by line (the residual add, the Inception concatenation,
``x.flatten(1)``), calling ``builder.emit`` on the children so every layer keeps its own path in errors.
The other families have theirs beside them: sequence_models.py (recurrent and Transformer language models,
seq2seq, the text models, ViT), dense.py (segmentation), generative.py, detection.py.  A module with no
emitter raises UnsupportedExport naming it and its path.
"""
from __future__ import annotations

import numpy as np

from ..models.alexnet import AlexNet
from ..models.googlenet import BasicConv2d, GoogLeNet, Inception
from ..models.lenet import LeNet5
from ..models.mlp import MLP
from ..models.regression import LinearRegression, SoftmaxRegression
from ..models.resnet import BasicBlock, Bottleneck, CifarResNet, ResNet, ShortcutA
from ..models.vgg import VGG
from ..nn import functional as F
from ..ops.shape import cat
from .graph import Value, onnx_emitter, unsupported


def chain(g, module, x: Value, path: str, *names: str) -> Value:
    """The children ``names`` of ``module`` applied in order (skipping None)."""
    for name in names:
        child = getattr(module, name)
        if child is not None:
            x = g.emit(child, x, path=f"{path}.{name}")
    return x


def flatten1(g, x: Value, path: str) -> Value:
    """``x.flatten(1)``: ONNX Flatten(axis=1), batch axis kept dynamic."""
    return Value(g.node("Flatten", [x.name], f"{path}.flatten", axis=1), x.tensor.flatten(1))


def relu(g, x: Value, path: str) -> Value:
    """``F.relu(x)`` in a forward (not a module)."""
    return Value(g.node("Relu", [x.name], f"{path}.relu"), F.relu(x.tensor))


def add(g, a: Value, b: Value, path: str) -> Value:
    return Value(g.node("Add", [a.name, b.name], f"{path}.add"), a.tensor + b.tensor)


@onnx_emitter(MLP)
def _mlp(g, module, x, path):
    return chain(g, module, x, path, "layers")


@onnx_emitter(LinearRegression, SoftmaxRegression)
def _regression(g, module, x, path):
    return chain(g, module, x, path, "flatten", "linear")


@onnx_emitter(LeNet5)
def _lenet(g, module, x, path):
    return chain(g, module, x, path, "features", "flatten", "classifier")


@onnx_emitter(AlexNet, VGG)
def _features_classifier(g, module, x, path):
    x = chain(g, module, x, path, "features", "avgpool")
    return chain(g, module, flatten1(g, x, path), path, "classifier")


@onnx_emitter(BasicBlock, Bottleneck)
def _residual_block(g, module, x, path):
    """relu(bn(conv(...)) + shortcut(x)); a plain block (shortcut=False) has no add."""
    out = chain(g, module, x, path, "conv1", "bn1", "relu", "conv2", "bn2")
    if isinstance(module, Bottleneck):
        out = chain(g, module, chain(g, module, out, path, "relu"), path, "conv3", "bn3")
    if module.shortcut:
        skip = x if module.downsample is None else g.emit(module.downsample, x, path=f"{path}.downsample")
        out = add(g, out, skip, path)
    return chain(g, module, out, path, "relu")


@onnx_emitter(ShortcutA)
def _shortcut_a(g, module, x, path):
    """x[:, :, ::s, ::s] (Slice with steps) with zero channels padded before and after (Pad)."""
    s = int(module.stride)
    big = np.iinfo(np.int64).max
    const = lambda a, h: g.constant(np.array(a, np.int64), f"{path}.{h}")  # noqa: E731
    sliced = g.node("Slice", [x.name, const([0, 0], "starts"), const([big, big], "ends"), const([2, 3], "axes"),
                              const([s, s], "steps")], f"{path}.slice")
    pads = const([0, module.before, 0, 0, 0, module.after, 0, 0], "pads")
    return Value(g.node("Pad", [sliced, pads], path, mode="constant"), module(x.tensor))


@onnx_emitter(ResNet)
def _resnet(g, module, x, path):
    x = chain(g, module, x, path, "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4",
              "avgpool")
    return chain(g, module, flatten1(g, x, path), path, "fc")


@onnx_emitter(CifarResNet)
def _cifar_resnet(g, module, x, path):
    x = chain(g, module, x, path, "conv1", "bn1", "relu", "layer1", "layer2", "layer3", "avgpool")
    return chain(g, module, flatten1(g, x, path), path, "fc")


@onnx_emitter(BasicConv2d)
def _basic_conv(g, module, x, path):
    return relu(g, chain(g, module, x, path, "conv", "bn"), path)


@onnx_emitter(Inception)
def _inception(g, module, x, path):
    """The four branches concatenated along channels."""
    branches = [chain(g, module, x, path, f"branch{i}") for i in (1, 2, 3, 4)]
    return Value(g.node("Concat", [b.name for b in branches], f"{path}.cat", axis=1),
                 cat([b.tensor for b in branches], 1))


@onnx_emitter(GoogLeNet)
def _googlenet(g, module, x, path):
    """Eval mode: the auxiliary classifiers are not run (as nabla's forward in eval)."""
    if module.training:
        raise unsupported(module, path, "export needs eval mode (the auxiliary heads run only in training)")
    if module.transform_input:
        raise unsupported(module, path, "transform_input=True")
    x = chain(g, module, x, path, "conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
              "maxpool3", "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
              "inception5a", "inception5b", "avgpool")
    return chain(g, module, flatten1(g, x, path), path, "dropout", "fc")
