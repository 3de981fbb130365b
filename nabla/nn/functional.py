"""nabla.nn.functional: the stateless forms of the layers (PyTorch's ``torch.nn.functional``).

Layers hold parameters and options and call these.  Activations, softmax, dropout, normalisation
and losses live in nabla.ops (one family a file) and are re-exported here; linear and embedding
live beside their layers."""
from __future__ import annotations

from ..autograd.tensor import from_numpy
from ..ops.activation import (tanh, sigmoid, logsigmoid, relu, leaky_relu, elu, gelu, softplus, silu,  # noqa: F401
                              softmax, log_softmax)
from ..ops.dropout import dropout, dropout1d, dropout2d, dropout3d  # noqa: F401
from ..ops.loss import (cross_entropy, nll_loss, binary_cross_entropy, binary_cross_entropy_with_logits,  # noqa: F401
                        mse_loss, l1_loss, smooth_l1_loss, huber_loss, kl_div, dice_loss)
from ..ops.normalization import batch_norm, layer_norm  # noqa: F401
from ..ops.shape import pad  # noqa: F401
from ..ops.embedding import embedding  # noqa: F401
from ..ops.linear import linear  # noqa: F401


def relu6(input):
    """min(max(0, x), 6)"""
    from ..ops.elementwise import clamp
    return clamp(input, 0.0, 6.0)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0):
    """clamp(x, min_val, max_val)"""
    from ..ops.elementwise import clamp
    return clamp(input, min_val, max_val)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """x / max(||x||_p along dim, eps)"""
    from ..ops.elementwise import clamp_min
    from ..ops.reduce import norm
    return input / clamp_min(norm(input, p, dim=dim, keepdim=True), eps)


def one_hot(tensor, num_classes: int = -1):
    """Integer class indices (any shape) -> int64 one-hot of shape tensor.shape + (num_classes,)."""
    import numpy as np
    from ..autograd.tensor import Tensor
    idx = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got dtype {idx.dtype}")
    n = int(idx.max()) + 1 if num_classes == -1 else num_classes
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"one_hot: class values must be in [0, {n - 1}], got values in [{idx.min()}, {idx.max()}]")
    return from_numpy((idx[..., None] == np.arange(n)).astype(np.int64))


__all__ = ["tanh", "sigmoid", "logsigmoid", "relu", "leaky_relu", "elu", "gelu", "softplus", "silu", "softmax",
           "log_softmax", "relu6", "hardtanh", "dropout", "dropout1d", "dropout2d", "dropout3d", "cross_entropy",
           "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss", "l1_loss",
           "smooth_l1_loss", "huber_loss", "kl_div", "dice_loss", "batch_norm", "layer_norm", "pad", "embedding",
           "linear",
           "normalize", "one_hot"]

from ..ops.attention import scaled_dot_product_attention  # noqa: F401,E402
from .attention import multi_head_attention_forward  # noqa: F401,E402
__all__ += ["scaled_dot_product_attention", "multi_head_attention_forward"]
from ..ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d  # noqa: F401,E402
from ..ops.pool import (max_pool1d, max_pool2d, avg_pool1d, avg_pool2d, adaptive_avg_pool1d,  # noqa: F401,E402
                        adaptive_avg_pool2d, adaptive_max_pool2d, max_unpool2d)
from ..ops.upsample import interpolate, upsample, upsample_nearest, upsample_bilinear  # noqa: F401,E402
from ..ops.lrn import local_response_norm  # noqa: F401,E402
__all__ += ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d", "avg_pool1d",
            "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_max_pool2d", "max_unpool2d",
            "interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "local_response_norm"]
