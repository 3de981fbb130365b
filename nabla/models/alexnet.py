"""AlexNet (Krizhevsky, Sutskever & Hinton 2012, Figure 2), as torchvision builds it:

    features:   conv 11x11/4 (64) -> ReLU -> maxpool 3/2        (overlapping pooling, section 3.4)
                conv 5x5 (192)    -> ReLU -> maxpool 3/2
                conv 3x3 (384)    -> ReLU
                conv 3x3 (256)    -> ReLU
                conv 3x3 (256)    -> ReLU -> maxpool 3/2
    avgpool:    adaptive average pool to 6x6 (so other input sizes work)
    classifier: dropout -> fc 4096 -> ReLU -> dropout -> fc 4096 -> ReLU -> fc num_classes

torchvision's single-tower form ("One weird trick", Krizhevsky 2014: 64/192/384/256/256 channels, no
local response normalisation) has 61,100,840 parameters, and state_dict keys ``features.0.weight`` ...
``classifier.6.bias`` equal to torchvision's.  The paper's two-GPU net had 96/256/384/384/256 channels
(``channels=PAPER_CHANNELS``) and local response normalisation after the first two ReLUs
(``lrn=True``: k=2, n=5, alpha=1e-4, beta=0.75 in the paper's equation
b = a / (k + alpha sum a^2)^beta; PyTorch's LocalResponseNorm divides alpha by n, so it gets 5e-4).
With lrn=True the LRN layers take places in ``features`` and the later indices shift.

AlexNet-small (``small=True``, for 28x28 MNIST / Fashion-MNIST): the same five convolutions, three
overlapping 3/2 max-pools, ReLU, dropout and optional LRN, with a 5x5 stride-1 first convolution
(28 -> 28 -> 13 -> 6 -> 2 after the pools), channels torchvision's scaled by width/64, a 2x2 adaptive
average pool and two hidden full layers of ``hidden`` units (default 512).
"""
from __future__ import annotations

from .. import nn
from .registry import register_model

TORCHVISION_CHANNELS = (64, 192, 384, 256, 256)
PAPER_CHANNELS = (96, 256, 384, 384, 256)


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, in_channels: int = 3, lrn: bool = False,
                 channels=TORCHVISION_CHANNELS, hidden: int = None, small: bool = False):
        super().__init__()
        if len(channels) != 5:
            raise ValueError(f"AlexNet: channels must list the five convolutions' widths, got {channels!r}")
        c1, c2, c3, c4, c5 = (int(c) for c in channels)
        hidden = (512 if small else 4096) if hidden is None else int(hidden)

        def norm():  # the paper's section 3.3, in PyTorch's alpha/n form
            return [nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)] if lrn else []

        stem = nn.Conv2d(in_channels, c1, kernel_size=5, padding=2) if small else \
            nn.Conv2d(in_channels, c1, kernel_size=11, stride=4, padding=2)
        self.features = nn.Sequential(
            stem, nn.ReLU(inplace=True), *norm(), nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(inplace=True), *norm(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        pooled = (2, 2) if small else (6, 6)
        self.avgpool = nn.AdaptiveAvgPool2d(pooled)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(c5 * pooled[0] * pooled[1], hidden), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> AlexNet:
    """torchvision's AlexNet (61,100,840 parameters for 3x224x224 input and 1000 classes); ``lrn=True`` adds
    the paper's local response normalisation, ``channels=PAPER_CHANNELS`` its widths."""
    return AlexNet(num_classes=num_classes, in_channels=in_channels, **kwargs)


def alexnet_small(num_classes: int = 10, in_channels: int = 1, width: int = 32, hidden: int = 512,
                  **kwargs) -> AlexNet:
    """AlexNet-small for 28x28 input: a 5x5 stride-1 first convolution and channels
    ``(64, 192, 384, 256, 256) * width / 64``; see the module docstring."""
    channels = tuple(max(1, round(c * width / 64)) for c in TORCHVISION_CHANNELS)
    return AlexNet(num_classes=num_classes, in_channels=in_channels, channels=channels, hidden=hidden,
                   small=True, **kwargs)


@register_model("alexnet-small", "AlexNet for 28x28 input: five convs (5x5 stride-1 first), overlapping "
                "max-pools, dropout, optional LRN (width, hidden, lrn, dropout)",
                default_dataset="fashion-mnist", width=32, hidden=512, lrn=False, dropout=0.5)
def _alexnet_small(in_shape, num_classes, **options):
    if min(in_shape[1:]) < 15:  # 28 -> 13 -> 6 -> 2; below 15 the third pool has nothing to pool
        raise ValueError(f"alexnet-small: a {in_shape[1]}x{in_shape[2]} input is too small: its three 3x3 "
                         f"stride-2 max-pools need at least 15x15")
    return alexnet_small(num_classes=num_classes, in_channels=in_shape[0], **options)
