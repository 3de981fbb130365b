"""Weight initialisation, in place, with PyTorch's names and formulas (``nabla.nn.init``).

All draws come from nabla's global generator (``nabla.backend.rng()``), so ``nabla.manual_seed(s)``
makes them reproducible.  Fans of a weight of shape (out, in, *kernel):
    fan_in = in * prod(kernel),  fan_out = out * prod(kernel)
    xavier (Glorot):  std = gain * sqrt(2 / (fan_in + fan_out)),  uniform bound = sqrt(3) * std
    kaiming (He):     std = gain / sqrt(fan),  gain = calculate_gain(nonlinearity, a),  bound = sqrt(3) * std
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_",
           "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_",
           "sparse_", "bilinear_", "bilinear_kernel"]


def _fill(tensor: Tensor, values) -> Tensor:
    """Write ``values`` into the tensor's array without recording (an initialisation is no op)."""
    np.copyto(tensor.data, np.asarray(values), casting="unsafe")
    tensor._bump()
    return tensor


def _rng(generator):
    return backend.rng() if generator is None else generator


def _direct(tensor):
    """The tensor's array when the generator can write into it (C-contiguous float32/float64), else None."""
    d = tensor.data
    return d if d.dtype in (np.float32, np.float64) and d.flags.c_contiguous and d.flags.writeable else None


def _uniform(g, a, b, shape, dtype, out=None):
    """U(a, b) drawn in ``dtype`` (float32 parameters get float32 draws: no float64 temporaries, which made
    building a large model take seconds): a + (b - a) U(0, 1), written into ``out`` when given."""
    u = g.random(shape, dtype=dtype, out=out)
    u *= dtype(b - a)
    u += dtype(a)
    return u


def _normal(g, mean, std, shape, dtype, out=None):
    """N(mean, std^2) drawn in ``dtype``: mean + std Z, written into ``out`` when given."""
    z = g.standard_normal(shape, dtype=dtype, out=out)
    if std != 1.0:
        z *= dtype(std)
    if mean != 0.0:
        z += dtype(mean)
    return z


def _draw(tensor, sampler, generator, *args):
    """Fill the tensor with ``sampler(g, *args, shape, dtype)`` from nabla's generator (or ``generator``)."""
    g, out = _rng(generator), _direct(tensor)
    if out is not None and out.size:
        sampler(g, *args, out.shape, out.dtype.type, out=out)
        tensor._bump()
        return tensor
    dt = np.float32 if tensor.data.dtype == np.float32 else np.float64
    return _fill(tensor, sampler(g, *args, tensor.shape, dt))


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The factor by which a nonlinearity shrinks the variance, inverted: linear/conv/sigmoid 1,
    tanh 5/3, relu sqrt(2), leaky_relu sqrt(2 / (1 + slope^2)), selu 3/4."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor) -> tuple[int, int]:
    dims = tensor.ndim
    if dims < 2:
        raise ValueError(f"fan in and fan out can not be computed for a tensor with fewer than 2 dimensions "
                         f"(shape {tuple(tensor.shape)})")
    receptive = int(np.prod(tensor.shape[2:])) if dims > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    return _draw(tensor, _uniform, generator, a, b)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _draw(tensor, _normal, generator, mean, std)


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None) -> Tensor:
    """Fill with N(mean, std^2) conditioned on [a, b] (vectorised rejection sampling: redraw the
    values that fall outside until none do)."""
    g, dt = _rng(generator), (np.float32 if tensor.data.dtype == np.float32 else np.float64)
    w = _normal(g, mean, std, tensor.shape, dt)
    bad = (w < a) | (w > b)
    for _ in range(1000):
        if not bad.any():
            break
        w[bad] = _normal(g, mean, std, int(bad.sum()), dt)
        bad = (w < a) | (w > b)
    return _fill(tensor, np.clip(w, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    return _fill(tensor, np.full(tensor.shape, val))


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """The identity matrix (2-d tensors)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: only 2-d tensors are supported, got shape {tuple(tensor.shape)}")
    return _fill(tensor, np.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """The Dirac delta for conv weights (out, in, *k): a convolution that preserves its input's channels."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"dirac_: only 3, 4 or 5-d tensors are supported, got shape {tuple(tensor.shape)}")
    out_per_group = tensor.shape[0] // groups
    min_dim = min(out_per_group, tensor.shape[1])
    w = np.zeros(tensor.shape)
    centre = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        for d in range(min_dim):
            w[(g * out_per_group + d, d) + centre] = 1
    return _fill(tensor, w)


def bilinear_kernel(kernel_size) -> np.ndarray:
    """The separable bilinear (tent) filter of ``kernel_size`` (an int or a tuple), as Caffe's "bilinear" filler
    and FCN's upsampling layers make it: per axis, with f = ceil(k / 2) and c = f - 1 (k odd) or f - 0.5 (k even),

        h[i] = 1 - |i - c| / f,    i = 0..k-1;    the kernel is the outer product of the axes' h.

    A transposed convolution with this kernel, stride s, kernel 2s and padding s / 2 is bilinear upsampling by s
    (``interpolate(..., mode="bilinear", align_corners=False)``) away from the border, where its missing
    neighbours count as 0 instead of repeating the edge."""
    sizes = (kernel_size,) if isinstance(kernel_size, (int, np.integer)) else tuple(kernel_size)
    out = np.ones(())
    for k in sizes:
        f = (k + 1) // 2
        c = f - 1 if k % 2 == 1 else f - 0.5
        out = np.multiply.outer(out, 1 - np.abs(np.arange(k) - c) / f)
    return out


def bilinear_(tensor: Tensor, groups: int = 1) -> Tensor:
    """nabla's (PyTorch has no built-in): fill a transposed-convolution weight (in, out / groups, *k) so that it
    upsamples each channel bilinearly on its own (FCN's initialisation of its upsampling layers): input channel
    i gets ``bilinear_kernel(k)`` towards the output channel of the same index within its group, every other
    entry 0.  For ``ConvTranspose2d(C, C, 2s, stride=s, padding=s // 2)`` (or depthwise, groups=C)."""
    if tensor.ndim not in (3, 4, 5):
        raise ValueError(f"bilinear_: expected a transposed-convolution weight (in, out/groups, *kernel) of 3 to 5 "
                         f"dims, got shape {tuple(tensor.shape)}")
    c_in, out_per_group = tensor.shape[:2]
    if groups < 1 or c_in % groups:
        raise ValueError(f"bilinear_: groups={groups} must divide the {c_in} input channels")
    w = np.zeros(tensor.shape)
    i = np.arange(c_in)
    j = i % (c_in // groups)          # the channel's index within its group: it maps to the same output index
    keep = j < out_per_group
    w[i[keep], j[keep]] = bilinear_kernel(tensor.shape[2:])
    return _fill(tensor, w)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot: U(-bound, bound) with bound = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None) -> Tensor:
    """He: U(-bound, bound) with bound = gain * sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None) -> Tensor:
    """He: N(0, std^2) with std = gain / sqrt(fan)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op")
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one (Saxe et al. 2013)."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: only tensors with 2 or more dimensions are supported, got shape "
                         f"{tuple(tensor.shape)}")
    rows = tensor.shape[0]
    cols = tensor.data.size // rows
    flat = _rng(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """A 2-d matrix with N(0, std^2) entries and a fraction ``sparsity`` of each column set to zero."""
    if tensor.ndim != 2:
        raise ValueError(f"sparse_: only 2-d tensors are supported, got shape {tuple(tensor.shape)}")
    rows, cols = tensor.shape
    g = _rng(generator)
    w = g.normal(0.0, std, (rows, cols))
    n_zero = int(math.ceil(sparsity * rows))
    for c in range(cols):
        w[g.permutation(rows)[:n_zero], c] = 0
    return _fill(tensor, w)


# PyTorch's deprecated spellings without the trailing underscore
uniform, normal, constant = uniform_, normal_, constant_
xavier_uniform, xavier_normal = xavier_uniform_, xavier_normal_
kaiming_uniform, kaiming_normal = kaiming_uniform_, kaiming_normal_
