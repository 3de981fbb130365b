"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016, section 3.4):
an autoregressive image model, the joint distribution as a product of per-pixel conditionals in raster order,

    p(x) = prod_{i=1}^{H W} p(x_i | x_{<i}),     log p(x) = sum_i log p(x_i | x_{<i})   (exact, one forward pass)

each conditional computed by a stack of masked convolutions (``nn.MaskedConv2d``) that never look at pixel i or
later, so all H W conditionals of a training image come from one forward pass:

    x (N, C, H, W) -> 7x7 MaskedConv2d "A"  C -> hidden                     (cannot see the pixel it predicts)
                   -> blocks x residual:    h = h + MaskedConv2d "B" 3x3 (ReLU(h))   hidden -> hidden
                   -> ReLU -> 1x1 conv hidden -> hidden -> ReLU -> 1x1 conv hidden -> out
    levels=2:    out = C logits per pixel, x_i ~ Bernoulli(sigmoid(logit_i))   (binarized images, x in {0, 1})
    levels=256:  out = 256 C logits, x_i ~ Categorical(softmax) over the grey levels round(255 x_i)
                 (inputs are grey / 255 in [0, 1]); logits (N, 256, H, W) for C = 1, (N, 256, C, H, W) otherwise

The residual block is the simple one of the calibration model (VISION-GENERATIVE.md 6.5: ReLU + one 3x3 mask-B
convolution, added to its input), not the paper's 1x1 -> 3x3 -> 1x1 bottleneck (h -> h/2 -> h/2 -> h), with
the paper's 7x7 first layer and two-layer 1x1 output.  Defaults hidden=32, blocks=6: 58,177 parameters and
about 91 MFLOP per 28x28 image forward (the paper's MNIST model: 15 layers of 128 channels, 81.3 nats).
Channels are one group (``nn.MaskedConv2d``): exact for grey images; with C > 1 the channels of one pixel are
modelled as independent given the earlier pixels (the paper's R -> G -> B ordering is not implemented).

Reading the output: an NLL far below ~78 nats on binarized MNIST for a model this small means a mask leak
(the test suite checks d output_i / d input_j = 0 for j >= i).  bits/dim = nll / (C H W ln 2).

Sampling is sequential: H W forward passes (784 for MNIST), one per pixel position, each vectorised over the
batch (``sample``, ``inpaint``).  Each pass computes only the cone the pixel depends on (``pixel_logits``):
every layer here is a masked convolution, a 1x1 convolution or a pointwise op, so the output at (r, c) reads
input rows r - R .. r and columns c - R .. c + R only, R = 3 + blocks (the sum of the masked kernels'
half-widths), and a layer with k rows of reach left after it is needed on rows r - k .. r, columns c - k ..
c + k alone.  The zero padding at a window's cut edges changes a layer's output only within its own reach of
those edges, which the next cut removes.  For the defaults on 28x28 the first layer runs on at most 10 x 19
pixels and the blocks on 7 x 13 down to 2 x 3 (the full forward: 28 x 28 each): about 10x less work per pass
(64 samples: 7.7 CPU-seconds against 75 for a whole-image forward per position, measured single-threaded).
The test suite checks that the cone's logits equal the full forward's and that the samples equal those of
the whole-image sampler.

``inpaint`` completes images given some pixels: it keeps the given pixels and samples the others in raster
order, each conditioned on every pixel before it in raster order (given or sampled).  A raster PixelCNN
cannot condition on the given pixels that come *later* in raster order (it never looks down or right), so
for ``keep`` = the top rows the completion is an exact sample of p(bottom | top); for the bottom or the
right half it samples the missing pixels from p(missing | pixels before them) only, ignoring the kept pixels
after them (the seams show).
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd import no_grad
from ..autograd.tensor import Tensor, from_numpy
from ..nn import functional as F
from .registry import Option, register_model

LEVELS = (2, 256)

# training defaults (registry): Adam 1e-3, batch 64 (the calibration model's), 2 epochs with a per-step cosine decay
# to 5% (warmup-cosine, no warm-up), stopped at 45 minutes of training if the machine is slow (the cosine follows
# the time budget then).  Measured with nabla on this project's shared 2-core machine (OPENBLAS_NUM_THREADS=1,
# constant rate, seed 0): test NLL on 2,000 test images 97.7 after 0.25 epochs, 95.5 after 0.75, 94.4 after 1
# (PyTorch's same model: 95.1 after 0.75, 91.8 after 3); 136-156 images per CPU-second, 55-145 images/s wall
# as the other jobs on the machine came and went: 2 epochs take 14-36 minutes, within the 60-minute target.
PIXELCNN_TRAINING = {"optimizer": "adam", "lr": 1e-3, "batch_size": 64, "epochs": 2, "scheduler": "warmup-cosine",
                     "min_lr_ratio": 0.05, "time_budget": 2700.0}


def _images(x) -> Tensor:
    return x if isinstance(x, Tensor) else from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _array(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


class MaskedResidualBlock(nn.Module):
    """h + conv_B(ReLU(h)), conv_B a 3x3 mask-B ``nn.MaskedConv2d`` channels -> channels."""

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        self.conv = nn.MaskedConv2d(channels, channels, kernel_size, mask_type="B")

    def forward(self, x):
        return x + self.conv(F.relu(x))


class PixelCNN(nn.Module):
    """The model of the module docstring.  ``forward(x (N, C, H, W) in [0, 1]) -> logits`` (N, C, H, W) for
    levels=2, (N, 256, H, W) for levels=256 and C = 1, (N, 256, C, H, W) for levels=256 and C > 1."""

    family = "autoregressive"
    conditional = False

    def __init__(self, in_shape=(1, 28, 28), num_classes: int = 10, hidden: int = 32, blocks: int = 6,
                 levels: int = 2):
        super().__init__()
        if levels not in LEVELS:
            raise ValueError(f"PixelCNN: levels must be 2 (Bernoulli) or 256 (grey levels), got {levels!r}")
        if hidden < 1 or blocks < 0:
            raise ValueError(f"PixelCNN: hidden must be positive and blocks non-negative, got hidden={hidden}, "
                             f"blocks={blocks}")
        self.in_shape, self.num_classes = tuple(int(s) for s in in_shape), int(num_classes)
        self.levels, self.hidden, self.num_blocks = int(levels), int(hidden), int(blocks)
        c = self.in_shape[0]
        out = c if levels == 2 else 256 * c
        self.input_conv = nn.MaskedConv2d(c, hidden, 7, mask_type="A")
        self.blocks = nn.ModuleList([MaskedResidualBlock(hidden) for _ in range(blocks)])
        self.output = nn.Sequential(nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, out, 1))

    @property
    def reach(self) -> tuple:
        """(up, side): the output at (r, c) depends on input rows r - up .. r and columns c - side .. c + side
        only (the sum of the masked kernels' dilated half-sizes)."""
        convs = [m for m in self.modules() if isinstance(m, nn.MaskedConv2d)]
        return (sum(m.dilation[0] * (m.kernel_size[0] // 2) for m in convs),
                sum(m.dilation[1] * (m.kernel_size[1] // 2) for m in convs))

    def forward(self, x):
        return self.head(self.features(_images(x)))

    def features(self, x):
        """The masked stack: (N, C, H, W) -> (N, hidden, H, W), position i a function of the pixels before i."""
        h = self.input_conv(x)
        for block in self.blocks:
            h = block(h)
        return h

    def head(self, h):
        """Per-pixel output layers: features -> logits (the shapes of ``forward``)."""
        logits = self.output(h)
        c = self.in_shape[0]
        if self.levels == 256 and c > 1:
            n, _, height, width = logits.shape
            logits = logits.reshape(n, 256, c, height, width)
        return logits

    # ------------------------------------------------------------------ likelihood
    def _targets(self, x: np.ndarray):
        """Bernoulli targets (the 0/1 images) or grey levels round(255 x) (int64, the channel axis dropped for
        C = 1); a ValueError for images that are not binary (levels=2) or not in [0, 1] (levels=256)."""
        if self.levels == 2:
            if x.size and not np.all((x == 0) | (x == 1)):
                raise ValueError("PixelCNN: levels=2 models binary images (0.0 or 1.0 pixels, e.g. binarized-mnist)"
                                 f"; got values in [{x.min():.4g}, {x.max():.4g}] (binarize them, or use levels=256)")
            return None
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"PixelCNN: levels=256 expects grey / 255 in [0, 1], got values in "
                             f"[{x.min():.4g}, {x.max():.4g}]")
        t = np.rint(x * 255).astype(np.int64)
        return t[:, 0] if self.in_shape[0] == 1 else t

    def log_prob(self, x) -> Tensor:
        """log p(x) (N,) in nats: the sum over pixels of log p(x_i | x_<i) from one forward pass (exact)."""
        x = _images(x)
        t = self._targets(x.data)
        logits = self(x)
        if self.levels == 2:
            nll = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            nll = F.cross_entropy(logits, t, reduction="none")
        return -nll.reshape(nll.shape[0], -1).sum(dim=1)

    def nll(self, x) -> Tensor:
        """-log p(x) (N,) in nats per image."""
        return -self.log_prob(x)

    def bits_per_dim(self, nll) -> np.ndarray:
        """nll / (C H W ln 2)."""
        return _array(nll) / (math.prod(self.in_shape) * math.log(2))

    # ------------------------------------------------------------------ sampling
    def pixel_logits(self, x: np.ndarray, row: int, col: int) -> np.ndarray:
        """The logits at pixel (row, col) of the images ``x`` (N, C, H, W): (N, C) for levels=2, (N, 256, C)
        for levels=256.  Equal to ``forward(x)`` at (row, col), computed without a graph on the cone the pixel
        depends on (module docstring): each layer runs on the rows and columns the layers after it still read."""
        width = x.shape[-1]
        top = left = 0

        def window(h, up, side):
            """h, whose (0, 0) is image pixel (top, left), cut to rows row - up .. row and columns col - side ..
            col + side (inside the image)."""
            nonlocal top, left
            r0, c0, c1 = max(0, row - up), max(0, col - side), min(width, col + side + 1)
            h = h[:, :, r0 - top:row + 1 - top, c0 - left:c1 - left]
            top, left = r0, c0
            return from_numpy(np.ascontiguousarray(h))

        layers = [self.input_conv, *self.blocks]
        convs = [self.input_conv] + [block.conv for block in self.blocks]
        half = [(m.dilation[0] * (m.kernel_size[0] // 2), m.dilation[1] * (m.kernel_size[1] // 2)) for m in convs]
        h = x
        with no_grad():
            for i, layer in enumerate(layers):      # the reach of this layer and those after it
                h = layer(window(h, sum(u for u, _ in half[i:]), sum(s for _, s in half[i:]))).data
            out = self.head(window(h, 0, 0)).data[..., 0, 0]
        if self.levels == 256 and self.in_shape[0] == 1:
            out = out[:, :, None]
        return out

    def _draw(self, logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Pixel values (N, C) drawn from the conditionals' logits: 0/1 (levels=2) or level / 255."""
        if self.levels == 2:
            p = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
            return (rng.random(p.shape) < p).astype(np.float32)
        z = np.moveaxis(logits.astype(np.float64), 1, -1)           # (N, C, 256)
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        cdf = np.cumsum(p, axis=-1)
        u = rng.random(cdf.shape[:-1] + (1,)) * cdf[..., -1:]
        level = np.minimum((cdf < u).sum(axis=-1), 255)
        return (level / 255.0).astype(np.float32)

    def _complete(self, x: np.ndarray, keep: np.ndarray, rng) -> np.ndarray:
        """Fill the pixels of ``x`` (N, C, H, W) where ``keep`` (H, W) is False, in raster order, one forward
        pass per position (eval mode, no graph; the mode is restored)."""
        rng = np.random.default_rng(rng)
        mode = self.training
        self.eval()
        try:
            for row, col in zip(*np.nonzero(~keep)):           # np.nonzero walks in raster order
                x[:, :, row, col] = self._draw(self.pixel_logits(x, int(row), int(col)), rng)
        finally:
            self.train(mode)
        return x

    def sample(self, num_samples: int, labels=None, generator=None) -> np.ndarray:
        """``num_samples`` images float32 (N, C, H, W) in [0, 1], drawn pixel by pixel in raster order (binary
        for levels=2, level / 255 for levels=256); ``generator`` an np.random.Generator or an int seed (the same
        seed, the same images).  Slow: H W forward passes (784 for MNIST)."""
        if labels is not None:
            raise ValueError("PixelCNN: the model is unconditional; labels must be None")
        x = np.zeros((int(num_samples),) + self.in_shape, np.float32)
        return self._complete(x, np.zeros(self.in_shape[1:], bool), generator)

    def inpaint(self, images, keep_mask, num_completions: int = 1, generator=None) -> np.ndarray:
        """Completions (N, num_completions, C, H, W) of ``images`` (N, C, H, W) in [0, 1]: the pixels where
        ``keep_mask`` (H, W) is True kept exactly, the others sampled in raster order given every pixel before
        them (exact for a kept top part; kept pixels later in raster order are not seen: module docstring).
        For levels=2 grey images are binarized at 0.5 first (the model conditions on binary pixels)."""
        images = np.asarray(_array(images), np.float32)
        keep = np.asarray(keep_mask, bool)
        if images.ndim != 4 or images.shape[1:] != self.in_shape:
            raise ValueError(f"PixelCNN.inpaint: expected images of shape (N, {', '.join(map(str, self.in_shape))})"
                             f", got {images.shape}")
        if keep.shape != self.in_shape[1:]:
            raise ValueError(f"PixelCNN.inpaint: keep_mask must have shape {self.in_shape[1:]}, got {keep.shape}")
        if num_completions < 1:
            raise ValueError(f"PixelCNN.inpaint: num_completions must be positive, got {num_completions}")
        if self.levels == 2:
            images = (images >= 0.5).astype(np.float32)        # the model conditions on binary pixels
        self._targets(images)                                   # the value checks of log_prob
        n, k = images.shape[0], int(num_completions)
        x = np.repeat(images, k, axis=0) * keep                 # missing pixels start at 0 (never read)
        x = self._complete(x.astype(np.float32), keep, generator)
        return x.reshape((n, k) + self.in_shape)

    def extra_repr(self) -> str:
        return f"in_shape={self.in_shape}, hidden={self.hidden}, blocks={self.num_blocks}, levels={self.levels}"


@register_model("pixelcnn", "PixelCNN (van den Oord et al. 2016): masked 7x7 'A' conv, residual masked 3x3 'B' "
                "convs, per-pixel Bernoulli (or 256-way) conditionals in raster order; exact NLL",
                task="autoregressive", default_dataset="binarized-mnist", training=PIXELCNN_TRAINING,
                hidden=Option(32, int, help="channels of every masked convolution"),
                blocks=Option(6, int, help="residual blocks of ReLU + 3x3 mask-B convolution"),
                levels=Option(2, int, choices=LEVELS, help="2: Bernoulli pixels (binary images); 256: a softmax "
                              "over the grey levels"))
def _pixelcnn(in_shape, num_classes, **options):
    return PixelCNN(in_shape, num_classes, **options)
