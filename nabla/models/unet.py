"""U-Net (Ronneberger, Fischer & Brox, MICCAI 2015, Figure 1): a contracting path that halves the map and
doubles the channels at each level, and a symmetric expanding path that doubles the map back and takes the
contracting path's map of the same size by concatenation, so the fine detail pooling threw away returns.

    level l = 0..depth-1:  double_conv(C_l) -> skip_l;  2x2 max-pool          C_l = width * 2^l
    bottom:                double_conv(C_depth)                                (at 1 / 2^depth)
    level l = depth-1..0:  up = ConvTranspose2d(C_{l+1}, C_l, 2, stride 2)    (2x2 up-convolution)
                           double_conv(concat(skip_l, up): 2 C_l -> C_l)
    classifier:            1x1 conv C_0 -> num_classes                         (logits at full size)
    double_conv(C) = [3x3 conv -> BatchNorm -> ReLU] x 2

Departures from the paper, as most modern U-Nets: padded 3x3 convolutions (the output has the input's
size, so no cropping of the skip maps; the paper's valid convolutions shrink a 572x572 tile to 388x388)
and batch norm after each convolution.  Widths scale with ``width`` (the paper: 64, 1024 at the bottom,
``depth`` 4).  The default here, width 16 and depth 3 (64x64 scenes -> 8x8 at the bottom), has 482,619
parameters for 1 input channel and 11 classes.  The input's sides must be multiples of 2^depth.
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..ops.shape import cat
from .registry import Option, register_model

# the training defaults of nabla's segmentation models (U-Net, SegNet, FCN), so that they compare on one budget:
# Adam 2e-3, batch 32, 3 epochs of 20,000 fresh scenes (60,000 images) or 1,500 s of training, whichever ends
# first, the rate decaying by a cosine to 5% over that budget (warmup-cosine follows the time budget too)
SEGMENTATION_TRAINING = {"optimizer": "adam", "lr": 2e-3, "batch_size": 32, "epochs": 3, "time_budget": 1500.0,
                         "scheduler": "warmup-cosine", "min_lr_ratio": 0.05}


def conv_bn_relu(c_in: int, c_out: int, kernel_size: int = 3) -> nn.Sequential:
    """kxk convolution (same padding, no bias: the batch norm has one) -> BatchNorm2d -> ReLU."""
    return nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)),
        ("bn", nn.BatchNorm2d(c_out)), ("relu", nn.ReLU(inplace=True))]))


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    """U-Net's unit: two 3x3 conv-BN-ReLU layers."""
    return nn.Sequential(OrderedDict([("0", conv_bn_relu(c_in, c_out)), ("1", conv_bn_relu(c_out, c_out))]))


def check_divisible(name: str, x, stride: int) -> None:
    """A one-line ValueError when the input's sides are not multiples of the model's total stride."""
    h, w = x.shape[-2:]
    if h % stride or w % stride:
        raise ValueError(f"{name}: input of size {h}x{w} must have sides divisible by {stride} (its pooling "
                         f"stages); pad or crop the image")


class UNet(nn.Module):
    """The network of the module docstring: ``forward(images (B, C, H, W)) -> logits (B, num_classes, H, W)``."""

    def __init__(self, num_classes: int = 11, in_channels: int = 1, width: int = 16, depth: int = 3):
        super().__init__()
        if width < 1 or depth < 1:
            raise ValueError(f"UNet: width and depth must be positive, got width={width}, depth={depth}")
        self.num_classes, self.depth = num_classes, depth
        widths = [width * 2 ** level for level in range(depth + 1)]
        self.down = nn.ModuleList([double_conv(c_in, c_out)
                                   for c_in, c_out in zip([in_channels] + widths, widths[:-1])])
        self.pool = nn.MaxPool2d(2, 2)
        self.bottom = double_conv(widths[-2], widths[-1])
        self.up = nn.ModuleList([nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
                                 for level in reversed(range(depth))])
        self.up_conv = nn.ModuleList([double_conv(2 * widths[level], widths[level])
                                      for level in reversed(range(depth))])
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        check_divisible("UNet", x, 2 ** self.depth)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for up, block, skip in zip(self.up, self.up_conv, reversed(skips)):
            x = block(cat([skip, up(x)], dim=1))
        return self.classifier(x)


def unet(num_classes: int = 11, in_channels: int = 1, width: int = 16, depth: int = 3) -> UNet:
    return UNet(num_classes, in_channels, width, depth)


@register_model("unet", "U-Net (Ronneberger et al. 2015): conv encoder, up-convolution decoder with concatenated "
                "skips", task="segmentation", default_dataset="mnist-scenes",
                training=SEGMENTATION_TRAINING,
                width=Option(16, int, help="channels of the first level (doubled at each level down)"),
                depth=Option(3, int, help="number of 2x2 max-pools (levels below the input)"))
def _unet(in_shape, num_classes, **options):
    return unet(num_classes=num_classes, in_channels=in_shape[0], **options)
