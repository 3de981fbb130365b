"""Fully convolutional networks (Long, Shelhamer & Darrell, CVPR 2015, Figure 3): FCN-32s, FCN-16s, FCN-8s.

A classifier backbone made fully convolutional predicts class scores on a coarse grid, and transposed
convolutions initialised as bilinear upsampling bring them back to the image; the finer variants add score
layers on earlier pooling stages ("skips") to put back the detail the coarse grid lost:

    backbone: 5 stages of [3x3 conv-BN-ReLU x 2, 2x2 max-pool]  ->  pool1 .. pool5 (strides 2 .. 32)
    fc6, fc7: 3x3 conv-BN-ReLU, 1x1 conv-BN-ReLU on pool5         (the paper's convolutionalised fc layers)
    score_fr: 1x1 conv -> num_classes scores at stride 32
    skips = 0 (FCN-32s):  upsample x32                                                   -> logits (H, W)
    skips = 1 (FCN-16s):  upscore2(score_fr) + score_pool4(pool4);  upsample x16
    skips = 2 (FCN-8s):   upscore2(... FCN-16s's sum) + score_pool3(pool3);  upsample x8

One code path: the model is built from its number of skips.  Each ``upscore2`` (x2) and the final ``upscore``
(x stride) is a depthwise ``ConvTranspose2d(C, C, 2s, stride=s, padding=s / 2, groups=C)`` initialised by
``nn.init.bilinear_`` (exact bilinear interpolation away from the border) and learned from there, as the paper
does for its x2 layers (its final layer stays fixed); each ``score_pool`` is a zero-initialised 1x1
convolution, so a finer net starts from the stride-32 prediction alone, bilinearly upsampled (the paper's
initialisation for its staged training).  Batch norm replaces the paper's VGG-16 weights (trained from
scratch here) and the fc layers' dropout.  Inputs must have sides divisible by 32: a 64x64 scene gives a 2x2
score grid for FCN-32s, which cannot draw a stroke 2 pixels wide -- the coarse variants are weak by
construction, and the comparison shows it.  Default widths 16,32,64,128,128 and fc 256: 0.96-1.0M parameters
for 11 classes (FCN-32s's x32 kernel is the largest upsampler).
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from .options import parse_ints
from .registry import Option, register_model
from .unet import SEGMENTATION_TRAINING, check_divisible, conv_bn_relu

STAGES = 5          # 2x2 max-pools in the backbone: stride 32


def parse_widths(widths, who: str, count: int | None = None, at_least: int = 1) -> tuple:
    """"16,32,64" (or a sequence of ints) -> (16, 32, 64): ``count`` of them (or at least ``at_least``), positive."""
    return parse_ints(widths, "widths", count=count, at_least=at_least, who=who)


def upsampler(channels: int, factor: int) -> nn.ConvTranspose2d:
    """x``factor`` upsampling of each channel on its own: a depthwise transposed convolution (groups = channels,
    kernel 2f, stride f, padding f / 2, no bias) initialised as bilinear interpolation and trainable.  (Caffe's
    FCN layers mix the classes, C x C kernels, but their bilinear initialisation does not; depthwise keeps the
    x32 layer at C 64^2 weights instead of C^2 64^2.)"""
    up = nn.ConvTranspose2d(channels, channels, 2 * factor, stride=factor, padding=factor // 2, groups=channels,
                            bias=False)
    nn.init.bilinear_(up.weight, groups=channels)
    return up


class FCN(nn.Module):
    """FCN-32s / 16s / 8s (``skips`` 0 / 1 / 2) of the module docstring:
    ``forward(images (B, C, H, W)) -> logits (B, num_classes, H, W)``."""

    def __init__(self, num_classes: int = 11, in_channels: int = 1, skips: int = 2, widths="16,32,64,128,128",
                 fc_width: int = 256):
        super().__init__()
        if skips not in (0, 1, 2):
            raise ValueError(f"FCN: skips must be 0 (FCN-32s), 1 (FCN-16s) or 2 (FCN-8s), got {skips!r}")
        widths = parse_widths(widths, "FCN", STAGES)
        self.num_classes, self.skips, self.stride = num_classes, skips, 32 >> skips
        self.stages = nn.ModuleList([
            nn.Sequential(OrderedDict([("conv1", conv_bn_relu(c_in, c_out)), ("conv2", conv_bn_relu(c_out, c_out)),
                                       ("pool", nn.MaxPool2d(2, 2))]))
            for c_in, c_out in zip((in_channels,) + widths, widths)])
        self.fc = nn.Sequential(OrderedDict([("fc6", conv_bn_relu(widths[-1], fc_width, 3)),
                                             ("fc7", conv_bn_relu(fc_width, fc_width, 1))]))
        self.score_fr = nn.Conv2d(fc_width, num_classes, 1)
        # skip k (k = 0, 1) reads pool4, then pool3: stage index STAGES - 2 - k
        self.score_pool = nn.ModuleList([nn.Conv2d(widths[STAGES - 2 - k], num_classes, 1) for k in range(skips)])
        self.upscore2 = nn.ModuleList([upsampler(num_classes, 2) for _ in range(skips)])
        self.upscore = upsampler(num_classes, self.stride)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for m in self.score_pool:   # the skips add nothing until trained: the start is the stride-32 prediction
            nn.init.zeros_(m.weight)

    def forward(self, x):
        check_divisible(f"FCN-{self.stride}s", x, 32)
        pools = []
        for stage in self.stages:
            x = stage(x)
            pools.append(x)
        score = self.score_fr(self.fc(x))
        for k, (up, score_pool) in enumerate(zip(self.upscore2, self.score_pool)):
            score = up(score) + score_pool(pools[STAGES - 2 - k])
        return self.upscore(score)


def fcn32s(num_classes: int = 11, in_channels: int = 1, **kwargs) -> FCN:
    return FCN(num_classes, in_channels, skips=0, **kwargs)


def fcn16s(num_classes: int = 11, in_channels: int = 1, **kwargs) -> FCN:
    return FCN(num_classes, in_channels, skips=1, **kwargs)


def fcn8s(num_classes: int = 11, in_channels: int = 1, **kwargs) -> FCN:
    return FCN(num_classes, in_channels, skips=2, **kwargs)


_OPTIONS = {"widths": Option("16,32,64,128,128", str, help="the five backbone stages' widths (2x2 max-pool after "
                                                           "each: stride 32)"),
            "fc_width": Option(256, int, help="width of the convolutionalised fc6 / fc7 layers")}


def _register(name: str, skips: int, what: str) -> None:
    @register_model(name, f"FCN-{32 >> skips}s (Long et al. 2015): {what}", task="segmentation",
                    default_dataset="mnist-scenes", training=SEGMENTATION_TRAINING, **_OPTIONS)
    def _build(in_shape, num_classes, **options):
        return FCN(num_classes, in_shape[0], skips=skips, **options)


_register("fcn32s", 0, "scores at stride 32, one x32 bilinear-initialised up-convolution")
_register("fcn16s", 1, "stride-32 scores fused with pool4's, upsampled x16")
_register("fcn8s", 2, "stride-32 scores fused with pool4's and pool3's, upsampled x8")
