"""SegNet (Badrinarayanan, Kendall & Cipolla, TPAMI 2017, Figure 2): an encoder whose max-pools remember where
each maximum was, and a decoder that puts values back at exactly those positions ("max-unpooling") and lets
trainable convolutions fill in the sparse map.  No feature map crosses from encoder to decoder, only the
pooling indices, which is SegNet's claim: less memory kept for the decoder than FCN's or U-Net's skips.

    encoder stage e = 0..n-1:  [3x3 conv-BN-ReLU] x convs  (width C_e)  ->  2x2 max-pool, keep indices_e
    decoder stage e = n-1..0:  max_unpool2d(x, indices_e)  ->  [3x3 conv-BN-ReLU] x convs, the last one
                               going to C_{e-1} (C_0 for the first stage)
    classifier:                1x1 conv C_0 -> num_classes     (the paper's softmax classifier)

The paper's encoder is VGG-16's 13 convolutions (widths 64..512, 2-3 per stage) and SegNet-Basic has four
stages of 64 7x7 filters; here ``widths`` (default 16,32,64,64: four stages, a 64x64 scene goes down to 4x4)
and ``convs`` per stage (default 2) scale it, trained from scratch.  nabla stores the indices as int64 flat
positions (8 bytes per pooled value); the paper's 2 bits per 2x2 window would do.  Inputs must have sides
divisible by 2^stages.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..nn import functional as F
from .fcn import parse_widths
from .registry import Option, register_model
from .unet import SEGMENTATION_TRAINING, check_divisible, conv_bn_relu


def _stack(widths_in_out) -> nn.Sequential:
    return nn.Sequential(OrderedDict([(str(i), conv_bn_relu(a, b)) for i, (a, b) in enumerate(widths_in_out)]))


class SegNet(nn.Module):
    """The network of the module docstring: ``forward(images (B, C, H, W)) -> logits (B, num_classes, H, W)``."""

    def __init__(self, num_classes: int = 11, in_channels: int = 1, widths="16,32,64,64", convs: int = 2):
        super().__init__()
        widths = parse_widths(widths, "SegNet", at_least=1)
        if convs < 1:
            raise ValueError(f"SegNet: convs (convolutions per stage) must be positive, got {convs}")
        self.num_classes, self.widths = num_classes, widths
        ins = (in_channels,) + widths[:-1]
        self.encoder = nn.ModuleList([_stack([(c_in, c)] + [(c, c)] * (convs - 1)) for c_in, c in zip(ins, widths)])
        outs = (widths[0],) + widths[:-1]    # decoder stage e ends at encoder stage e's input width (C_0 at the top)
        self.decoder = nn.ModuleList([_stack([(c, c)] * (convs - 1) + [(c, c_out)])
                                      for c, c_out in zip(widths, outs)])
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        check_divisible("SegNet", x, 2 ** len(self.widths))
        kept = []   # (indices, size before pooling) per encoder stage: all the decoder gets from the encoder
        for stage in self.encoder:
            x = stage(x)
            size = x.shape[-2:]
            x, indices = F.max_pool2d(x, 2, 2, return_indices=True)
            kept.append((indices, size))
        for stage, (indices, size) in zip(reversed(self.decoder), reversed(kept)):
            x = stage(F.max_unpool2d(x, indices, 2, 2, output_size=size))
        return self.classifier(x)


def segnet(num_classes: int = 11, in_channels: int = 1, widths="16,32,64,64", convs: int = 2) -> SegNet:
    return SegNet(num_classes, in_channels, widths, convs)


@register_model("segnet", "SegNet (Badrinarayanan et al. 2017): encoder max-pool indices drive the decoder's "
                "unpooling; no skip features", task="segmentation", default_dataset="mnist-scenes",
                training=SEGMENTATION_TRAINING,
                widths=Option("16,32,64,64", str, help="encoder stage widths (one 2x2 max-pool each)"),
                convs=Option(2, int, help="3x3 conv-BN-ReLU layers per encoder / decoder stage"))
def _segnet(in_shape, num_classes, **options):
    return segnet(num_classes=num_classes, in_channels=in_shape[0], **options)
