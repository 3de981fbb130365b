"""GoogLeNet, Inception v1 (Szegedy et al. 2015, Table 1 and Figure 3), as torchvision builds it.

    conv1 7x7/2 (64) -> maxpool1 3/2 -> conv2 1x1 (64) -> conv3 3x3 (192) -> maxpool2 3/2
    inception3a (256) -> inception3b (480) -> maxpool3 3/2
    inception4a (512) -> 4b (512) -> 4c (512) -> 4d (528) -> 4e (832) -> maxpool4 2/2
    inception5a (832) -> 5b (1024) -> global average pool -> dropout 0.4 -> fc num_classes
    aux1 on 4a's output, aux2 on 4d's: avgpool to 4x4 -> 1x1 conv (128) -> fc 1024 -> dropout 0.7 -> fc

An Inception module (Figure 2b) runs four branches side by side and concatenates their channels:
1x1;  1x1 reduce -> 3x3;  1x1 reduce -> 5x5;  3x3 max-pool (stride 1) -> 1x1 projection.
Each "conv" is BasicConv2d: conv (no bias) -> BatchNorm2d (eps 0.001) -> ReLU (batch norm came later
than the paper; torchvision adds it).  Like torchvision, the "5x5" branch uses a 3x3 kernel (a known
slip kept for its weights; ``paper_5x5=True`` uses 5x5), the max-pools use ceil_mode, the final dropout is
0.2, and GoogLeNet without auxiliary heads has 6,624,904 parameters; module names equal torchvision's.

The auxiliary classifiers run only in training (``aux_logits=True``): then the model returns
GoogLeNetOutputs(logits, aux_logits2, aux_logits1) and the paper's loss is
loss(logits) + 0.3 (loss(aux1) + loss(aux2)) (``googlenet_loss``).  In eval they are skipped and the
model returns the logits alone.  ``transform_input`` is torchvision's re-normalisation for its
ImageNet weights (off by default; 3 channels only).

GoogLeNet-small (``googlenet_small``, for 28x28 MNIST / Fashion-MNIST): a 3x3 stride-1 first
convolution and no first max-pool, so the inception stages see 14x14, 7x7 and 4x4 maps, with every
width times ``width`` (default 0.25); same modules and names, auxiliary heads optional.
"""
from __future__ import annotations

from collections import namedtuple
from functools import partial

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat
from .registry import register_model

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])

# Table 1: #1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj (output = #1x1 + #3x3 + #5x5 + pool proj)
INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four branches concatenated along channels: ch1x1 + ch3x3 + ch5x5 + pool_proj output channels."""

    def __init__(self, in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj, paper_5x5=False):
        super().__init__()
        k5 = 5 if paper_5x5 else 3
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=k5, padding=k5 // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: avgpool to 4x4 -> 1x1 conv -> fc (hidden) -> ReLU -> dropout -> fc."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7, channels: int = 128,
                 hidden: int = 1024):
        super().__init__()
        self.conv = BasicConv2d(in_channels, channels, kernel_size=1)
        self.fc1 = nn.Linear(channels * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool = True, dropout: float = 0.2, dropout_aux: float = 0.7, in_channels: int = 3,
                 width: float = 1.0, small: bool = False, paper_5x5: bool = False):
        super().__init__()
        if transform_input and in_channels != 3:
            raise ValueError(f"GoogLeNet: transform_input needs 3 input channels, got in_channels={in_channels}")

        def c(n):  # a width scaled by ``width``
            return max(1, round(n * width))

        self.aux_logits, self.transform_input = aux_logits, transform_input
        if small:
            self.conv1 = BasicConv2d(in_channels, c(64), kernel_size=3, padding=1)
            self.maxpool1 = nn.Identity()
        else:
            self.conv1 = BasicConv2d(in_channels, c(64), kernel_size=7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(c(64), c(64), kernel_size=1)
        self.conv3 = BasicConv2d(c(64), c(192), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        def inception(name, in_ch):
            return Inception(in_ch, *(c(w) for w in INCEPTION[name]), paper_5x5=paper_5x5)

        self.inception3a = inception("3a", c(192))
        self.inception3b = inception("3b", self.inception3a.out_channels)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception("4a", self.inception3b.out_channels)
        self.inception4b = inception("4b", self.inception4a.out_channels)
        self.inception4c = inception("4c", self.inception4b.out_channels)
        self.inception4d = inception("4d", self.inception4c.out_channels)
        self.inception4e = inception("4e", self.inception4d.out_channels)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inception("5a", self.inception4e.out_channels)
        self.inception5b = inception("5b", self.inception5a.out_channels)
        if aux_logits:
            self.aux1 = InceptionAux(self.inception4a.out_channels, num_classes, dropout_aux, c(128), c(1024))
            self.aux2 = InceptionAux(self.inception4d.out_channels, num_classes, dropout_aux, c(128), c(1024))
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.inception5b.out_channels, num_classes)
        if init_weights:  # torchvision: truncated normal (std 0.01) for conv and fc weights
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def _transform_input(self, x):
        if not self.transform_input:
            return x
        # torchvision's ImageNet weights expect inputs in [-1, 1]-ish; re-normalise each channel
        x0 = x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x1 = x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x2 = x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return cat([x0, x1, x2], 1)

    def forward(self, x):
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        run_aux = self.training and self.aux1 is not None  # dropped (not run) in eval
        aux1 = self.aux1(x) if run_aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if run_aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if run_aux:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet_loss(outputs, target, aux_weight: float = 0.3, loss_fn=None):
    """The paper's training loss: loss(logits) + aux_weight * (loss(aux1) + loss(aux2)); plain outputs
    (eval, or no auxiliary heads) give loss(logits)."""
    loss_fn = loss_fn or F.cross_entropy
    if isinstance(outputs, GoogLeNetOutputs):
        return (loss_fn(outputs.logits, target)
                + aux_weight * (loss_fn(outputs.aux_logits1, target) + loss_fn(outputs.aux_logits2, target)))
    return loss_fn(outputs, target)


def googlenet(num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = True, **kwargs) -> GoogLeNet:
    """GoogLeNet (Inception v1) as torchvision; 6,624,904 parameters without the auxiliary heads."""
    return GoogLeNet(num_classes=num_classes, in_channels=in_channels, aux_logits=aux_logits, **kwargs)


def googlenet_small(num_classes: int = 10, in_channels: int = 1, width: float = 0.25, aux_logits: bool = False,
                    **kwargs) -> GoogLeNet:
    """GoogLeNet-small for 28x28 input: 3x3 stride-1 stem, no first max-pool, widths times ``width``."""
    return GoogLeNet(num_classes=num_classes, in_channels=in_channels, aux_logits=aux_logits, width=width,
                     small=True, **kwargs)


def _rebuild_googlenet_small(entry, config, weights=None):
    """The model of a checkpoint.  Compatibility: a file written before checkpoints recorded every option
    with its default, when the auxiliary classifiers were off by default, holds a model without them."""
    options = dict(config.get("options", {}))
    if (weights is not None and "aux_logits" not in options
            and not any(k.startswith(("aux1.", "aux2.")) for k in weights)):
        options["aux_logits"] = False
    return googlenet_small(num_classes=int(config["num_classes"]), in_channels=config["in_shape"][0], **options)


def _googlenet_training_loss(base_loss):
    """The registry's training loss: googlenet_loss around the task's loss (aux heads weighted 0.3)."""
    return partial(googlenet_loss, loss_fn=base_loss)


@register_model("googlenet-small", "GoogLeNet (Inception v1) for 28x28 input: 3x3 stride-1 stem, nine "
                "inception modules at scaled width; aux_logits: the two auxiliary classifiers, trained with "
                "weight 0.3 and dropped in eval (width, dropout, aux_logits)",
                default_dataset="fashion-mnist", make_loss=_googlenet_training_loss, rebuild=_rebuild_googlenet_small,
                width=0.25, dropout=0.2, aux_logits=True)
def _googlenet_small(in_shape, num_classes, **options):
    return googlenet_small(num_classes=num_classes, in_channels=in_shape[0], **options)
