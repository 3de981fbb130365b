"""Generative adversarial networks (Goodfellow et al. 2014): a generator G maps noise z ~ N(0, I) to an image,
a discriminator D maps an image to one logit, "real" versus "generated".  Trained as a two-player game
(``nabla.train.steps.gan.GANStep``):

    D:  max  E_x log s(D(x)) + E_z log(1 - s(D(G(z))))
    G:  max  E_z log s(D(G(z)))                   (the non-saturating loss of the paper's section 3)

Two families, one ``GAN`` module holding ``.generator`` and ``.discriminator`` (one checkpoint):

``gan``, the MLP GAN (as in the common PyTorch-GAN / Keras examples):
    G: z -> Linear h -> LReLU(0.2) -> Linear 2h -> BN -> LReLU -> Linear 4h -> BN -> LReLU -> Linear C*H*W -> tanh
    D: x (flattened) -> Linear 2h -> LReLU(0.2) -> Dropout -> Linear h -> LReLU(0.2) -> Dropout -> Linear 1
    hidden h = 256 (so G 256-512-1024-784, D 784-512-256-1), latent 100, dropout 0.3.  PyTorch's default init.

``dcgan``, DCGAN-lite (Radford, Metz & Chintala 2016, scaled to 28x28; the calibration model of
VISION-GENERATIVE.md section 6.5), width w = 64, latent 64:
    G: z -> Linear 2w*7*7 (6,272) -> BN1d -> ReLU -> reshape (2w, 7, 7)
         -> ConvTranspose 4x4/2 pad 1 -> w x 14 x 14 -> BN -> ReLU -> ConvTranspose 4x4/2 pad 1 -> C x 28 x 28 -> tanh
    D: x -> Conv 4x4/2 pad 1 -> w x 14 x 14 -> LReLU(0.2) -> Conv 4x4/2 pad 1 -> 2w x 7 x 7 -> BN -> LReLU(0.2)
         -> flatten -> Linear 1
    Layers followed by batch norm have no bias (the norm's shift replaces it).  DCGAN's initialisation:
    convolution weights ~ N(0, 0.02), batch-norm weights ~ N(1, 0.02) and biases 0; linear layers keep
    PyTorch's default (as the PyTorch DCGAN example's ``weights_init``, which matches class names "Conv"
    and "BatchNorm" only).  H and W must be multiples of 4 (7 = 28 / 4 on MNIST).

``conditional=True`` (a conditional GAN, Mirza & Osindero 2014): the class enters as a fixed one-hot vector
y (K = num_classes entries, no parameters):
    G's input is concat(z, y) (latent + K features);
    D (MLP) reads concat(flatten(x), y); D (DCGAN) reads x with K extra input channels, channel k constant
    1 where the label is k and 0 elsewhere (the classic cDCGAN "label maps").
Labels are then required by ``generate``/``discriminate``/``sample``; an unconditional model refuses them.

Images are in [-1, 1] (the registry entry's ``normalize=(0.5, 0.5)``: x = (p - 0.5) / 0.5 for pixels p in
[0, 1]); ``sample`` maps back to [0, 1].  A GAN has no likelihood and no encoder: it cannot inpaint.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from .. import backend, nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor, from_numpy
from ..ops.shape import cat
from .registry import Option, register_model

# Training defaults: Adam 2e-4, beta1 0.5 (Radford et al. 2016), batch 64, no schedule; the budget is epochs or
# 3,000 s of training (evaluation excluded), whichever ends first, so that a run ends inside 60 minutes on the
# shared 2-core machine.  Measured for the DCGAN (GANStep, MNIST, batch 64, one OpenBLAS thread; classifier FID
# of 10,000 eval-mode samples with nabla's reference classifier, whose FIDs run ~1.5x those of VISION-GENERATIVE
# section 3.3's): 264 after 1 epoch, 195 after 2, 147 after 3, 132 after 5, 128 after 6, 119-125 after 7-8,
# 9 of 10 classes >= 5% from epoch 4 on -- the PyTorch reference's curve (121 @ 2.7, 87 @ 8.2 epochs on its
# classifier).  The step runs at ~310 images/s on an idle core, ~175 when the machine is shared: 10 epochs take
# ~33 minutes idle; shared, the time budget stops at ~8.5 epochs (FID ~120).  The MLP GAN's step is ~5x cheaper,
# and MLP GANs need many more epochs: 30, under the same time budget.
DCGAN_TRAINING = {"optimizer": "adam", "lr": 2e-4, "betas": (0.5, 0.999), "batch_size": 64, "scheduler": "none",
                  "epochs": 10, "time_budget": 3000.0}
MLP_GAN_TRAINING = {**DCGAN_TRAINING, "epochs": 30}
GAN_NORMALIZE = (0.5, 0.5)   # the model's own [-1, 1]: (p - 0.5) / 0.5


def _as_int_labels(labels, n: int, num_classes: int, who: str) -> np.ndarray:
    """``labels`` (an int, or N ints: array, list or Tensor) as an int64 array (n,), checked."""
    y = labels.data if isinstance(labels, Tensor) else np.asarray(labels)
    if y.ndim == 0:
        y = np.full(n, y)
    if y.dtype.kind not in "iu" or y.shape != (n,):
        raise ValueError(f"{who}: labels must be {n} class indices (ints), got an array of shape {y.shape} and "
                         f"dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"{who}: labels must lie in [0, {num_classes}), got values from {y.min()} to {y.max()}")
    return y.astype(np.int64)


def one_hot(labels: np.ndarray, num_classes: int, dtype) -> Tensor:
    """The fixed (N, K) one-hot encoding of int labels, as a constant tensor."""
    return from_numpy(np.eye(num_classes, dtype=dtype)[labels])


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN's initialisation (Radford et al. 2016, section 4): convolution and transposed-convolution weights
    ~ N(0, 0.02); batch-norm weights ~ N(1, 0.02), biases 0.  Linear layers keep their default."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


# ---------------------------------------------------------------------------------------------- MLP GAN
class MLPGenerator(nn.Module):
    """z (N, latent [+ K]) -> image (N, C, H, W) in [-1, 1]; see the module docstring."""

    def __init__(self, in_features: int, out_shape: tuple, hidden: int = 256):
        super().__init__()
        self.out_shape = tuple(out_shape)
        h = hidden
        self.layers = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(in_features, h)), ("act1", nn.LeakyReLU(0.2)),
            ("fc2", nn.Linear(h, 2 * h)), ("bn2", nn.BatchNorm1d(2 * h)), ("act2", nn.LeakyReLU(0.2)),
            ("fc3", nn.Linear(2 * h, 4 * h)), ("bn3", nn.BatchNorm1d(4 * h)), ("act3", nn.LeakyReLU(0.2)),
            ("fc4", nn.Linear(4 * h, math.prod(self.out_shape))), ("tanh", nn.Tanh())]))

    def forward(self, z):
        return self.layers(z).reshape(z.shape[0], *self.out_shape)


class MLPDiscriminator(nn.Module):
    """image (N, C, H, W) [+ one-hot (N, K)] -> logits (N, 1); see the module docstring."""

    def __init__(self, in_shape: tuple, hidden: int = 256, dropout: float = 0.3, num_conditions: int = 0):
        super().__init__()
        h = hidden
        layers = [("fc1", nn.Linear(math.prod(in_shape) + num_conditions, 2 * h)), ("act1", nn.LeakyReLU(0.2))]
        if dropout > 0:
            layers.append(("drop1", nn.Dropout(dropout)))
        layers += [("fc2", nn.Linear(2 * h, h)), ("act2", nn.LeakyReLU(0.2))]
        if dropout > 0:
            layers.append(("drop2", nn.Dropout(dropout)))
        layers.append(("fc3", nn.Linear(h, 1)))
        self.layers = nn.Sequential(OrderedDict(layers))

    def forward(self, x, condition=None):
        x = x.reshape(x.shape[0], -1)
        if condition is not None:
            x = cat([x, condition], dim=1)
        return self.layers(x)


# ---------------------------------------------------------------------------------------------- DCGAN
class DCGANGenerator(nn.Module):
    """z (N, latent [+ K]) -> image (N, C, H, W) in [-1, 1] by two 4x4/2 transposed convolutions from H/4 x W/4."""

    def __init__(self, in_features: int, out_shape: tuple, width: int = 64):
        super().__init__()
        c, h, w = out_shape
        self.base = (2 * width, h // 4, w // 4)
        self.fc = nn.Linear(in_features, math.prod(self.base), bias=False)
        self.bn0 = nn.BatchNorm1d(math.prod(self.base))
        self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.up2 = nn.ConvTranspose2d(width, c, 4, stride=2, padding=1)
        self.relu, self.tanh = nn.ReLU(), nn.Tanh()

    def forward(self, z):
        x = self.relu(self.bn0(self.fc(z))).reshape(z.shape[0], *self.base)
        x = self.relu(self.bn1(self.up1(x)))
        return self.tanh(self.up2(x))


class DCGANDiscriminator(nn.Module):
    """image (N, C [+ K], H, W) -> logits (N, 1) by two 4x4/2 convolutions to H/4 x W/4 and a linear layer."""

    def __init__(self, in_shape: tuple, width: int = 64, num_conditions: int = 0):
        super().__init__()
        c, h, w = in_shape
        self.conv1 = nn.Conv2d(c + num_conditions, width, 4, stride=2, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(2 * width)
        self.fc = nn.Linear(2 * width * (h // 4) * (w // 4), 1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x, condition=None):
        if condition is not None:   # label maps: K constant channels
            n, k = condition.shape
            maps = np.broadcast_to(condition.data[:, :, None, None], (n, k) + tuple(x.shape[2:]))
            x = cat([x, from_numpy(np.ascontiguousarray(maps))], dim=1)
        x = self.act(self.conv1(x))
        x = self.act(self.bn2(self.conv2(x)))
        return self.fc(x.reshape(x.shape[0], -1))


# ---------------------------------------------------------------------------------------------- the model
class GAN(nn.Module):
    """A generator and a discriminator in one module (one checkpoint); ``arch`` "mlp" or "dcgan".

    ``generate(z, labels) -> (N, C, H, W)`` in [-1, 1]; ``discriminate(x, labels) -> logits (N,)``;
    ``noise(n, generator) -> (n, latent_dim)`` float32 N(0, 1); ``sample(n, labels, generator) -> np.ndarray``
    in [0, 1] (eval mode and no graph, each submodule's mode restored); ``forward`` is ``generate``."""

    family = "gan"

    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10, arch: str = "dcgan", latent: int = 64,
                 conditional: bool = False, width: int = 64, hidden: int = 256, dropout: float = 0.3):
        super().__init__()
        if arch not in ("mlp", "dcgan"):
            raise ValueError(f"GAN: arch must be 'mlp' or 'dcgan', got {arch!r}")
        in_shape = tuple(int(s) for s in in_shape)
        if len(in_shape) != 3:
            raise ValueError(f"GAN: in_shape must be (C, H, W), got {in_shape}")
        if latent < 1 or width < 1 or hidden < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"GAN: need latent, width, hidden >= 1 and 0 <= dropout < 1, got latent={latent}, "
                             f"width={width}, hidden={hidden}, dropout={dropout}")
        if arch == "dcgan" and (in_shape[1] % 4 or in_shape[2] % 4):
            raise ValueError(f"dcgan: image sides must be multiples of 4 (two stride-2 stages), got "
                             f"{in_shape[1]}x{in_shape[2]}")
        if conditional and num_classes < 2:
            raise ValueError(f"GAN: conditional=True needs num_classes >= 2, got {num_classes}")
        self.in_shape, self.num_classes, self.arch = in_shape, int(num_classes), arch
        self.latent_dim, self.conditional = int(latent), bool(conditional)
        k = self.num_classes if self.conditional else 0
        if arch == "mlp":
            self.generator = MLPGenerator(self.latent_dim + k, in_shape, hidden)
            self.discriminator = MLPDiscriminator(in_shape, hidden, dropout, k)
        else:
            self.generator = DCGANGenerator(self.latent_dim + k, in_shape, width)
            self.discriminator = DCGANDiscriminator(in_shape, width, k)
            dcgan_init_(self)

    @property
    def name(self) -> str:
        return "gan" if self.arch == "mlp" else "dcgan"

    # ------------------------------------------------------------------ labels
    def _condition(self, labels, n: int, dtype):
        """The one-hot condition (N, K), or None for an unconditional model; one-line errors otherwise."""
        if not self.conditional:
            if labels is not None:
                raise ValueError(f"{self.name}: labels given to an unconditional model (build it with "
                                 "conditional=True to condition on the class)")
            return None
        if labels is None:
            raise ValueError(f"{self.name}: this conditional model needs labels (N class indices in "
                             f"[0, {self.num_classes}))")
        return one_hot(_as_int_labels(labels, n, self.num_classes, self.name), self.num_classes, dtype)

    # ------------------------------------------------------------------ the two networks
    def as_tensor(self, a) -> Tensor:
        """An array as a tensor of the model's floating dtype (a tensor as it is)."""
        if isinstance(a, Tensor):
            return a
        return from_numpy(np.ascontiguousarray(a, dtype=next(self.generator.parameters()).dtype))

    def noise(self, n: int, generator=None) -> np.ndarray:
        """z ~ N(0, I): float32 (n, latent_dim) from ``generator`` (an np.random.Generator, an int seed, or
        None for nabla's global generator)."""
        g = backend.rng() if generator is None else (
            generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator))
        return g.standard_normal((int(n), self.latent_dim), dtype=np.float32)

    def generate(self, z, labels=None) -> Tensor:
        """G(z [, y]): images (N, C, H, W) in [-1, 1]."""
        z = self.as_tensor(z)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"{self.name}: z must have shape (N, {self.latent_dim}), got {tuple(z.shape)}")
        condition = self._condition(labels, z.shape[0], z.dtype)
        return self.generator(z if condition is None else cat([z, condition], dim=1))

    def discriminate(self, x, labels=None) -> Tensor:
        """D(x [, y]): logits (N,) that x is real."""
        x = self.as_tensor(x)
        if tuple(x.shape[1:]) != self.in_shape:
            raise ValueError(f"{self.name}: images must have shape (N, {', '.join(map(str, self.in_shape))}), got "
                             f"{tuple(x.shape)}")
        return self.discriminator(x, self._condition(labels, x.shape[0], x.dtype)).reshape(-1)

    def forward(self, z, labels=None) -> Tensor:
        return self.generate(z, labels)

    # ------------------------------------------------------------------ sampling
    def sample(self, num_samples: int, labels=None, generator=None, batch_size: int = 1000) -> np.ndarray:
        """(G(z) + 1) / 2 for z drawn from ``generator``: float32 (num_samples, C, H, W) in [0, 1].  Eval mode
        (batch norm's running statistics, so the batch size does not change the result) and no graph; every
        submodule's mode is restored afterwards.  ``labels``: an int or num_samples ints (conditional only)."""
        n = int(num_samples)
        self._condition(labels, n, np.float32)   # the one-line errors before any work
        if self.conditional:
            labels = _as_int_labels(labels, n, self.num_classes, self.name)
        z = self.noise(n, generator)
        modes = [(m, m.training) for m in self.modules()]
        self.eval()
        try:
            with no_grad():
                out = [self.generate(z[i:i + batch_size], None if labels is None else labels[i:i + batch_size]).data
                       for i in range(0, n, batch_size)]
        finally:
            for m, mode in modes:
                m.training = mode
        images = np.concatenate(out) if out else np.zeros((0,) + self.in_shape, np.float32)
        return np.clip((images.astype(np.float32) + 1) / 2, 0.0, 1.0)


CONDITIONAL = Option(False, bool, help="condition G and D on the class (one-hot into G's input and D's input)")


@register_model("gan", "MLP GAN: G z-256-512-1024-784 (tanh), D 784-512-256-1 (LeakyReLU 0.2, dropout)",
                task="gan", default_dataset="mnist", normalize=GAN_NORMALIZE, training=MLP_GAN_TRAINING,
                latent=Option(100, int, help="noise dimension"),
                hidden=Option(256, int, help="G widths h-2h-4h, D widths 2h-h"),
                dropout=Option(0.3, float, help="dropout after D's hidden layers"), conditional=CONDITIONAL)
def _gan(in_shape, num_classes, **options):
    return GAN(in_shape, num_classes, arch="mlp", **options)


@register_model("dcgan", "DCGAN-lite: G fc-BN-ReLU, 2 transposed 4x4/2 convs (BN, ReLU, tanh); D 2 strided 4x4/2 "
                "convs (LeakyReLU 0.2, BN), fc", task="gan", default_dataset="mnist", normalize=GAN_NORMALIZE,
                training=DCGAN_TRAINING,
                latent=Option(64, int, help="noise dimension"),
                width=Option(64, int, help="channels: G 2w*7*7 -> w -> C, D w -> 2w"), conditional=CONDITIONAL)
def _dcgan(in_shape, num_classes, **options):
    return GAN(in_shape, num_classes, arch="dcgan", **options)
