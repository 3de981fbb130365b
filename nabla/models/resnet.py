"""Residual networks (He, Zhang, Ren & Sun 2016): a block learns F(x) and outputs relu(F(x) + x).

ImageNet ResNets (Table 1), as torchvision builds them:

    conv1 7x7/2 (64) -> bn1 -> relu -> maxpool 3/2
    layer1 (64) -> layer2 (128, /2) -> layer3 (256, /2) -> layer4 (512, /2) -> avgpool -> fc
    BasicBlock (18, 34 layers):  3x3 -> BN -> ReLU -> 3x3 -> BN, + shortcut, ReLU
    Bottleneck (50, 101, 152):   1x1 -> BN -> ReLU -> 3x3 (stride here, as torchvision's "v1.5")
                                 -> BN -> ReLU -> 1x1 (4x channels) -> BN, + shortcut, ReLU
    blocks per layer: 18: 2 2 2 2   34: 3 4 6 3   50: 3 4 6 3   101: 3 4 23 3   152: 3 8 36 3
    Where a block changes the shape, the shortcut is a projection (``downsample``: 1x1 conv + BN,
    option B); elsewhere the identity.  ResNet-18 has 11,689,512 parameters and ResNet-50 25,557,032;
    state_dict keys (conv1, bn1, layer1.0.conv1, ..., layer1.0.downsample.0, fc) equal torchvision's.

ResNet-small (``resnet_small``, for 28x28 MNIST / Fashion-MNIST): conv1 is 3x3 stride 1 and the max-pool
is skipped (``maxpool`` is an Identity, so the keys stay), so the four layers see 28, 14, 7 and 4 pixels;
``width`` sets layer1's channels (64 in the ImageNet net; layers double it).

CIFAR ResNets (section 4.2): 6n+2 layers, all 3x3 convolutions; conv1 (16) -> bn1 -> relu, then three
layers of n BasicBlocks with 16, 32, 64 channels (the first block of layer2 and layer3 halves the map),
global average pool, fc.  n = 3, 5, 7, 9, 18 gives ResNet-20, 32, 44, 56, 110 (0.27M, 0.46M, 0.66M,
0.85M, 1.7M parameters).  Shortcuts are option A by default, as in the paper's CIFAR experiments:
identity, and where the shape changes, the input subsampled by 2 with zero channels padded on (no
parameters); ``shortcut="B"`` projects there with a 1x1 conv + BN.  The plain twins (``plain20`` ...)
are the same networks without shortcuts: with option A the same parameters exactly.  For 28x28 input
the maps are 28, 14 and 7 (32, 16 and 8 for CIFAR's 32x32).
"""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from .registry import Option, register_model


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding, no bias (a batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class ShortcutA(nn.Module):
    """Option A's shortcut where the shape changes: x[:, :, ::stride, ::stride] with (planes - in) / 2
    zero channels padded before and after; parameter-free."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.stride, self.before = stride, (planes - in_planes) // 2
        self.after = planes - in_planes - self.before

    def forward(self, x):
        s = self.stride
        return F.pad(x[:, :, ::s, ::s], (0, 0, 0, 0, self.before, self.after))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, pad_channels=({self.before}, {self.after})"


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); ``shortcut=False`` drops the "+ shortcut(x)"
    (a plain network's block)."""
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, shortcut: bool = True):
        super().__init__()
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock: only supports groups=1 and base_width=64")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride, self.shortcut = stride, shortcut

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


class Bottleneck(nn.Module):
    """relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)): 1x1 reduce, 3x3, 1x1 expand (x4)."""
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, shortcut: bool = True):
        super().__init__()
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride, self.shortcut = stride, shortcut

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)


def _init_weights(model: nn.Module, zero_init_residual: bool) -> None:
    """torchvision's: He normal (fan_out) for convolutions, BN weight 1 and bias 0; optionally the last BN of
    each residual branch starts at 0, so each block starts as the identity (Goyal et al. 2017)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.bn3.weight)
            elif isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)


class ResNet(nn.Module):
    """The ImageNet ResNet (and ResNet-small with ``small=True``); ``width`` is layer1's channel count."""

    def __init__(self, block, layers, num_classes: int = 1000, zero_init_residual: bool = False, groups: int = 1,
                 width_per_group: int = 64, in_channels: int = 3, width: int = 64, small: bool = False,
                 shortcut: bool = True):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must give the number of blocks of the four stages, got {layers!r}")
        self.inplanes, self.groups, self.base_width = width, groups, width_per_group
        self.dilation, self._shortcut = 1, shortcut
        if small:  # 28x28 input: keep the resolution
            self.conv1 = nn.Conv2d(in_channels, width, kernel_size=3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.Identity() if small else nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(8 * width * block.expansion, num_classes)
        _init_weights(self, zero_init_residual)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if self._shortcut and (stride != 1 or self.inplanes != planes * block.expansion):
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width, self.dilation,
                        shortcut=self._shortcut)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, shortcut=self._shortcut))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


ARCHS = {18: (BasicBlock, [2, 2, 2, 2]), 34: (BasicBlock, [3, 4, 6, 3]), 50: (Bottleneck, [3, 4, 6, 3]),
         101: (Bottleneck, [3, 4, 23, 3]), 152: (Bottleneck, [3, 8, 36, 3])}


def _resnet(depth: int, num_classes: int, in_channels: int, **kwargs) -> ResNet:
    block, layers = ARCHS[depth]
    return ResNet(block, layers, num_classes=num_classes, in_channels=in_channels, **kwargs)


def resnet18(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-18: BasicBlocks 2 2 2 2 (11,689,512 parameters for 1000 classes)."""
    return _resnet(18, num_classes, in_channels, **kwargs)


def resnet34(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-34: BasicBlocks 3 4 6 3."""
    return _resnet(34, num_classes, in_channels, **kwargs)


def resnet50(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-50: Bottlenecks 3 4 6 3 (25,557,032 parameters for 1000 classes)."""
    return _resnet(50, num_classes, in_channels, **kwargs)


def resnet101(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-101: Bottlenecks 3 4 23 3."""
    return _resnet(101, num_classes, in_channels, **kwargs)


def resnet152(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-152: Bottlenecks 3 8 36 3."""
    return _resnet(152, num_classes, in_channels, **kwargs)


def resnet_small(num_classes: int = 10, in_channels: int = 1, depth: int = 18, width: int = 16,
                 **kwargs) -> ResNet:
    """ResNet-small for 28x28 input: ResNet-``depth`` (18, 34, 50, 101, 152) with a 3x3 stride-1 conv1, no
    max-pool, and ``width`` channels in layer1 (doubling per layer)."""
    if depth not in ARCHS:
        raise ValueError(f"resnet_small: depth must be one of {sorted(ARCHS)}, got {depth!r}")
    return _resnet(depth, num_classes, in_channels, width=width, small=True, **kwargs)


# ------------------------------------------------------------------ CIFAR-style ResNets (section 4.2)
class CifarResNet(nn.Module):
    """6n+2 layers: conv1 (3x3, width) -> bn1 -> relu -> layer1 (n blocks, width) -> layer2 (2 width, /2)
    -> layer3 (4 width, /2) -> avgpool -> fc.  ``shortcut``: "A" (zero-padding identity), "B" (projection
    where the shape changes) or None (the plain network)."""

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3, shortcut="A",
                 width: int = 16):
        super().__init__()
        if depth < 8 or (depth - 2) % 6:
            raise ValueError(f"CifarResNet: depth must be 6n+2 (20, 32, 44, 56, 110, ...), got {depth!r}")
        if shortcut not in ("A", "B", None):
            raise ValueError(f"CifarResNet: shortcut must be 'A', 'B' or None (plain), got {shortcut!r}")
        n = (depth - 2) // 6
        self.depth, self.shortcut_option, self.inplanes = depth, shortcut, width
        self.conv1 = conv3x3(in_channels, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(width, n, stride=1)
        self.layer2 = self._make_layer(2 * width, n, stride=2)
        self.layer3 = self._make_layer(4 * width, n, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(4 * width, num_classes)
        _init_weights(self, zero_init_residual=False)

    def _make_layer(self, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            if self.shortcut_option == "A":
                downsample = ShortcutA(self.inplanes, planes, stride)
            elif self.shortcut_option == "B":
                downsample = nn.Sequential(conv1x1(self.inplanes, planes, stride), nn.BatchNorm2d(planes))
        has_shortcut = self.shortcut_option is not None
        layers = [BasicBlock(self.inplanes, planes, stride, downsample, shortcut=has_shortcut)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, shortcut=has_shortcut) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))

    def extra_repr(self) -> str:
        kind = "plain" if self.shortcut_option is None else f"shortcut option {self.shortcut_option}"
        return f"depth={self.depth}, {kind}"


def _cifar(depth, num_classes, in_channels, shortcut, **kwargs) -> CifarResNet:
    return CifarResNet(depth, num_classes=num_classes, in_channels=in_channels, shortcut=shortcut, **kwargs)


def resnet20(num_classes: int = 10, in_channels: int = 3, shortcut="A", **kwargs) -> CifarResNet:
    """CIFAR ResNet-20 (n=3), option A shortcuts: 0.27M parameters."""
    return _cifar(20, num_classes, in_channels, shortcut, **kwargs)


def resnet32(num_classes: int = 10, in_channels: int = 3, shortcut="A", **kwargs) -> CifarResNet:
    """CIFAR ResNet-32 (n=5): 0.46M parameters."""
    return _cifar(32, num_classes, in_channels, shortcut, **kwargs)


def resnet44(num_classes: int = 10, in_channels: int = 3, shortcut="A", **kwargs) -> CifarResNet:
    """CIFAR ResNet-44 (n=7): 0.66M parameters."""
    return _cifar(44, num_classes, in_channels, shortcut, **kwargs)


def resnet56(num_classes: int = 10, in_channels: int = 3, shortcut="A", **kwargs) -> CifarResNet:
    """CIFAR ResNet-56 (n=9): 0.85M parameters."""
    return _cifar(56, num_classes, in_channels, shortcut, **kwargs)


def resnet110(num_classes: int = 10, in_channels: int = 3, shortcut="A", **kwargs) -> CifarResNet:
    """CIFAR ResNet-110 (n=18): 1.7M parameters."""
    return _cifar(110, num_classes, in_channels, shortcut, **kwargs)


def plain20(num_classes: int = 10, in_channels: int = 3, **kwargs) -> CifarResNet:
    """ResNet-20 without shortcuts (the paper's plain-20)."""
    return _cifar(20, num_classes, in_channels, None, **kwargs)


def plain32(num_classes: int = 10, in_channels: int = 3, **kwargs) -> CifarResNet:
    """ResNet-32 without shortcuts."""
    return _cifar(32, num_classes, in_channels, None, **kwargs)


def plain44(num_classes: int = 10, in_channels: int = 3, **kwargs) -> CifarResNet:
    """ResNet-44 without shortcuts."""
    return _cifar(44, num_classes, in_channels, None, **kwargs)


def plain56(num_classes: int = 10, in_channels: int = 3, **kwargs) -> CifarResNet:
    """ResNet-56 without shortcuts."""
    return _cifar(56, num_classes, in_channels, None, **kwargs)


def plain110(num_classes: int = 10, in_channels: int = 3, **kwargs) -> CifarResNet:
    """ResNet-110 without shortcuts."""
    return _cifar(110, num_classes, in_channels, None, **kwargs)


# ------------------------------------------------------------------ registered for `nabla train`
@register_model("resnet-small", "ResNet-depth (18/34/50/101/152) for 28x28 input: 3x3 stride-1 conv1, no "
                "max-pool (depth, width)", default_dataset="fashion-mnist", depth=Option(18, choices=(18, 34, 50, 101, 152)),
                width=16)
def _resnet_small(in_shape, num_classes, **options):
    return resnet_small(num_classes=num_classes, in_channels=in_shape[0], **options)


# He et al.'s CIFAR recipe, scaled to Fashion-MNIST: SGD with momentum, lr 0.1, weight decay 5e-4, shifted crops
_CIFAR_TRAINING = {"optimizer": "momentum", "lr": 0.1, "weight_decay": 5e-4, "epochs": 12, "augment": True}


def _register_cifar(depth: int) -> None:
    @register_model(f"resnet{depth}", f"CIFAR-style ResNet-{depth} (He et al. 2016, 4.2): 3 stages of "
                    f"{(depth - 2) // 6} basic blocks, 16/32/64 channels (shortcut A or B, width)",
                    default_dataset="fashion-mnist", training=_CIFAR_TRAINING, shortcut=Option("A", choices=("A", "B")),
                    width=16)
    def _build_resnet(in_shape, num_classes, shortcut="A", width=16):
        return CifarResNet(depth, num_classes, in_shape[0], shortcut=shortcut, width=width)

    @register_model(f"plain{depth}", f"plain-{depth}: ResNet-{depth} without shortcuts (width)",
                    default_dataset="fashion-mnist", training=_CIFAR_TRAINING, width=16)
    def _build_plain(in_shape, num_classes, width=16):
        return CifarResNet(depth, num_classes, in_shape[0], shortcut=None, width=width)


for _depth in (20, 32, 44, 56, 110):
    _register_cifar(_depth)
