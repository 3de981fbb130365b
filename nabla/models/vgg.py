"""VGG (Simonyan & Zisserman 2015, Table 1), as torchvision builds it: stacks of 3x3 convolutions
(stride 1, padding 1) and 2x2 max-pools, then three full layers.

    config A (VGG-11): 64 M 128 M 256 256 M 512 512 M 512 512 M
    config B (VGG-13): 64 64 M 128 128 M 256 256 M 512 512 M 512 512 M
    config D (VGG-16): 64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M
    config E (VGG-19): 64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M
    (number = a 3x3 conv with that many channels, then ReLU; M = 2x2 max-pool)
    avgpool: adaptive average pool to 7x7;  classifier: fc 4096 -> ReLU -> dropout -> fc 4096 -> ReLU
    -> dropout -> fc num_classes

Two 3x3 convolutions see a 5x5 field and three see 7x7, with fewer parameters and more
non-linearities (section 2.3).  ``vgg16_bn`` etc. put BatchNorm2d between each convolution and its ReLU
(not in the paper; torchvision's variants).  VGG-16 has 138,357,544 parameters; state_dict keys
(``features.N``, ``classifier.N``) equal torchvision's.  Initialisation as torchvision: He normal
(fan_out) for convolutions, N(0, 0.01) for full layers, zero biases.

VGG-small (``vgg_small``, for 28x28 MNIST / Fashion-MNIST): the first three stages of a VGG
configuration (28 -> 14 -> 7 -> 3 after the pools: a fourth would leave 1x1), channels scaled by
width/64, a 3x3 adaptive average pool, and hidden full layers of ``hidden`` units.  VGG-small-16 at
width 32: 32 32 M 64 64 M 128 128 128 M, then 1152 -> 512 -> 512 -> num_classes.  With ``full_depth``
it keeps the convolutions of all five stages, so VGG-small-11/13/16/19 have the configuration's 8/10/13/16
convolutions (11/13/16/19 weight layers with the three full layers); only the first three stages end in a
max-pool, so stages 4 and 5 run on 3x3 maps: VGG-small-11 at width 16 is
16 M 32 M 64 64 M 128 128 128 128 (the last four 3x3 on 3x3 maps), then 1152 -> 512 -> 512 -> num_classes.
"""
from __future__ import annotations

from .. import nn
from .registry import Option, register_model

CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
DEPTHS = {11: "A", 13: "B", 16: "D", 19: "E"}


def make_layers(cfg, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The convolutional part from a configuration list (ints: 3x3 conv widths, "M": 2x2 max-pool)."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, features: nn.Sequential, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5, pooled=(7, 7), hidden: int = 4096):
        super().__init__()
        out_channels = [m.out_channels for m in features if isinstance(m, nn.Conv2d)][-1]
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = nn.Sequential(
            nn.Linear(out_channels * pooled[0] * pooled[1], hidden), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(cfg: str, batch_norm: bool, num_classes: int, in_channels: int, **kwargs) -> VGG:
    return VGG(make_layers(CONFIGS[cfg], batch_norm, in_channels), num_classes=num_classes, **kwargs)


def vgg11(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-11 (configuration A)."""
    return _vgg("A", False, num_classes, in_channels, **kwargs)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-11 (configuration A) with batch normalisation."""
    return _vgg("A", True, num_classes, in_channels, **kwargs)


def vgg13(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg("B", False, num_classes, in_channels, **kwargs)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-13 (configuration B) with batch normalisation."""
    return _vgg("B", True, num_classes, in_channels, **kwargs)


def vgg16(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-16 (configuration D)."""
    return _vgg("D", False, num_classes, in_channels, **kwargs)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-16 (configuration D) with batch normalisation."""
    return _vgg("D", True, num_classes, in_channels, **kwargs)


def vgg19(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg("E", False, num_classes, in_channels, **kwargs)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> VGG:
    """VGG-19 (configuration E) with batch normalisation."""
    return _vgg("E", True, num_classes, in_channels, **kwargs)


def vgg_small(num_classes: int = 10, in_channels: int = 1, depth: int = 16, width: int = 32,
              batch_norm: bool = False, hidden: int = 512, dropout: float = 0.5, full_depth: bool = False) -> VGG:
    """VGG-small for 28x28 input: the first three stages of VGG-``depth`` (11, 13, 16 or 19), channels
    times width/64, a 3x3 adaptive average pool and ``hidden``-unit full layers; ``full_depth``: all five
    stages' convolutions, max-pools after the first three only (a 28x28 input halves three times)."""
    if depth not in DEPTHS:
        raise ValueError(f"vgg_small: depth must be one of {sorted(DEPTHS)}, got {depth!r}")
    cfg, pools = [], 0
    for v in CONFIGS[DEPTHS[depth]]:
        if v == "M":
            pools += 1
            if pools <= 3:
                cfg.append(v)
        elif pools < 3 or full_depth:
            cfg.append(max(1, round(v * width / 64)))
    return VGG(make_layers(cfg, batch_norm, in_channels), num_classes=num_classes, dropout=dropout,
               pooled=(3, 3), hidden=hidden)


@register_model("vgg-small", "VGG for 28x28 input: the first three stages of VGG-depth (3x3 convs, 2x2 "
                "max-pools), scaled channels; full_depth: all five stages' convolutions, pooled after three "
                "(depth, width, batch_norm, hidden, dropout, full_depth)",
                default_dataset="fashion-mnist", depth=Option(16, choices=(11, 13, 16, 19)), width=32, batch_norm=False,
                hidden=512, dropout=0.5, full_depth=False)
def _vgg_small(in_shape, num_classes, **options):
    return vgg_small(num_classes=num_classes, in_channels=in_shape[0], **options)
