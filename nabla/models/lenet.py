"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998, Figure 2), layer names as in the figure:

    INPUT 32x32 -> C1: 6@28x28 (5x5 conv) -> S2: 6@14x14 (2x2 subsampling) -> C3: 16@10x10 (5x5 conv)
    -> S4: 16@5x5 -> C5: 120 -> F6: 84 -> OUTPUT: num_classes

The paper feeds 32x32 images (28x28 digits centred with a margin); here C1 pads a smaller input up to
32x32 (padding 2 for 28x28 MNIST), so C1..S4 have the figure's sizes.  A larger input is not padded and
C5 simply takes more inputs.  C5 is a full connection, as the paper notes it amounts to on a 5x5 map.

The modern reading, and the default: ReLU and max pooling.  ``activation="tanh", pooling="avg"`` is closer
to 1998 (the paper's scaled tanh, trainable subsampling coefficients, sparse C3 connection table and RBF
output units are not reproduced: C3 sees all six S2 maps and the output is a linear layer of logits).
With 1x28x28 input and 10 classes: 61,706 parameters.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from .registry import Option, register_model

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


class LeNet5(nn.Module):
    """features (c1, s2, c3, s4) -> flatten -> classifier (c5, f6, output); see the module docstring."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size=28, activation: str = "relu",
                 pooling: str = "max"):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5: unknown activation {activation!r}; choose from {sorted(_ACTIVATIONS)}")
        if pooling not in _POOLS:
            raise ValueError(f"LeNet5: unknown pooling {pooling!r}; choose from {sorted(_POOLS)}")
        h, w = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
        # pad up to the paper's 32x32 field (2 pixels each side for 28x28)
        pad = (max(0, (32 - h + 1) // 2), max(0, (32 - w + 1) // 2))
        act, pool = _ACTIVATIONS[activation], _POOLS[pooling]
        self.features = nn.Sequential(OrderedDict([
            ("c1", nn.Conv2d(in_channels, 6, kernel_size=5, padding=pad)), ("act1", act()),
            ("s2", pool(2, 2)),
            ("c3", nn.Conv2d(6, 16, kernel_size=5)), ("act3", act()),
            ("s4", pool(2, 2)),
        ]))
        # S4's map: ((size + 2 pad - 4) // 2 - 4) // 2
        s4 = tuple(((n + 2 * p - 4) // 2 - 4) // 2 for n, p in zip((h, w), pad))
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(OrderedDict([
            ("c5", nn.Linear(16 * s4[0] * s4[1], 120)), ("act5", act()),
            ("f6", nn.Linear(120, 84)), ("act6", act()),
            ("output", nn.Linear(84, num_classes)),
        ]))

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


def lenet5(num_classes: int = 10, in_channels: int = 1, input_size=28, **kwargs) -> LeNet5:
    """LeNet-5 for ``in_channels`` x input_size x input_size images (default: 1x28x28 MNIST)."""
    return LeNet5(num_classes=num_classes, in_channels=in_channels, input_size=input_size, **kwargs)


@register_model("lenet5", "LeNet-5 (LeCun et al. 1998): two 5x5 conv + pool stages, three full layers",
                default_dataset="mnist", training={"lr": 2e-3},
                activation=Option("relu", choices=tuple(_ACTIVATIONS)), pooling=Option("max", choices=tuple(_POOLS)))
def _lenet5(in_shape, num_classes, **options):
    return lenet5(num_classes=num_classes, in_channels=in_shape[0], input_size=tuple(in_shape[1:]), **options)
