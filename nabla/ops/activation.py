"""Activation functions: tanh, sigmoid, the ReLU family, GELU, softplus, SiLU, softmax, log-softmax.

Each is one Function with a fused backward written in nabla ops, so gradients of gradients work.
All are numerically stable for inputs of any magnitude: sigmoid and softplus never exponentiate a
positive number, softmax and log-softmax subtract the maximum first (log-sum-exp).

Where a backward needs a factor that forward already computed (GELU's Phi(x), SiLU's sigmoid(x)),
``backward_arrays`` (the unrecorded backward) reuses the saved array; ``backward`` (recorded, under
``create_graph``) recomputes the factor with nabla ops, so that the second derivative flows through it.
"""
from __future__ import annotations

import math
import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import _GradState
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, install, normalize_dim
from .arithmetic import where
from .elementwise import _floating, erfc, erfc_array, exp
from .shape import sum_to

_SQRT1_2 = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_A = 0.044715


def _inplace(x: Tensor, out: Tensor, inplace: bool) -> Tensor:
    """PyTorch's ``inplace=True``: write the result into x.  While the graph is being recorded for x
    nabla cannot overwrite it, so it returns the out-of-place result (same values, same gradient)."""
    if not inplace or (x.requires_grad and _GradState.enabled):
        return out
    x.data[...] = out.data
    x._bump()
    return x


def sigmoid_array(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x), in place on one buffer.  For very negative x, e^-x overflows to inf and the
    result is 1 / inf = 0, the correct limit; that overflow is expected, so it is not reported.  Each
    step keeps its relative accuracy, so tiny results stay accurate too (no 1 - y cancellation)."""
    e = np.negative(x, out=np.empty_like(x))
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1
    return np.divide(1, e, out=e)


# ---------------------------------------------------------------------- tanh, sigmoid
class Tanh(Function):
    """y = tanh x;  dx = g (1 - y^2)"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g):
        y = self.output
        return g * (1.0 - y * y)


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dx = g y (1 - y)"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return sigmoid_array(x)

    def backward(self, g):
        y = self.output
        return g * (y * (1.0 - y))


class LogSigmoid(Function):
    """y = log sigmoid(x) = min(x, 0) - log(1 + e^-|x|);  dx = g sigmoid(-x)"""

    def forward(self, x):
        return np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))

    def backward(self, g):
        return g * sigmoid(-self.inputs[0])


# ---------------------------------------------------------------------- the ReLU family
# Masks are applied by multiplying: np.where and boolean assignment branch on every element and run
# several times slower on data whose signs are random.
class ReLU(Function):
    """y = max(x, 0);  dx = g [x > 0]  (0 at x = 0, as PyTorch)"""
    save_inputs = False
    save_output = True  # y > 0 exactly where x > 0, and x may then be modified in place

    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, g):
        return g * _const(self.output.data > 0)


class LeakyReLU(Function):
    """y = x if x > 0 else s x;  dx = g if x > 0 else s g"""

    def __init__(self, slope):
        self.slope = slope

    def forward(self, x):
        s = self.slope
        if 0 <= s <= 1:  # then max(x, s x) is the same function, in two passes instead of three
            return np.maximum(x, x * s)
        return np.where(x > 0, x, x * s)

    def backward(self, g):
        w = np.multiply(self.inputs[0].data > 0, 1.0 - self.slope, dtype=g.dtype)
        w += self.slope  # 1 where x > 0, the slope elsewhere
        return g * _const(w)


class ELU(Function):
    """y = x if x > 0 else a (e^x - 1);  dx = g if x > 0 else g (y + a)  (= g a e^x)"""
    save_output = True

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        # max(x, 0) + a (e^{min(x, 0)} - 1): each term vanishes on the other side; no overflow
        neg = np.expm1(np.minimum(x, 0))
        neg *= self.alpha
        neg += np.maximum(x, 0)
        return neg

    def backward(self, g):
        pos = self.inputs[0].data > 0
        dy = (self.output + self.alpha) * _const(~pos) + _const(pos.astype(g.dtype))
        return g * dy


# ---------------------------------------------------------------------- smooth ReLUs
class GELU(Function):
    """y = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2;  dx = g (Phi(x) + x phi(x)),
    phi(x) = e^{-x^2/2} / sqrt(2 pi).

    approximate='tanh':  y = x (1 + t) / 2,  t = tanh(k (x + 0.044715 x^3)),  k = sqrt(2/pi);
    dx = g ((1 + t) / 2 + x (1 - t^2) k (1 + 3 * 0.044715 x^2) / 2)."""

    def __init__(self, approximate):
        self.approximate = approximate

    def forward(self, x):
        if self.approximate == "tanh":
            self.t = np.tanh(x * (x * x * _GELU_A + 1) * _SQRT_2_OVER_PI)
            return x * (self.t + 1) * 0.5
        # Phi(x) = erfc(-x / sqrt 2) / 2: no cancellation for negative x, unlike 1 + erf
        self.cdf = erfc_array(x * -_SQRT1_2) * 0.5
        return x * self.cdf

    def backward_arrays(self, g):
        """The formula on the arrays, with the factor forward saved (t, or Phi(x))."""
        x = self.inputs[0].data
        if self.approximate == "tanh":
            return g * self._tanh_slope(x, self.t)
        pdf = np.exp(x * x * -0.5) * (1.0 / math.sqrt(2.0 * math.pi))
        return g * (self.cdf + x * pdf)

    def backward(self, g):
        """The formula in nabla ops (recorded under create_graph), the factor recomputed from x so that the
        second derivative flows through it."""
        x = self.inputs[0]
        if self.approximate == "tanh":
            return g * self._tanh_slope(x, tanh((x * x * _GELU_A + 1.0) * x * _SQRT_2_OVER_PI))
        cdf = erfc(x * -_SQRT1_2) * 0.5
        pdf = exp(x * x * -0.5) * (1.0 / math.sqrt(2.0 * math.pi))
        return g * (cdf + x * pdf)

    @staticmethod
    def _tanh_slope(x, t):
        """dy/dx of the tanh form, for arrays or tensors alike (the same operations in the same order)."""
        x2 = x * x
        return (t + 1.0) * 0.5 + x * (1.0 - t * t) * (x2 * (3 * _GELU_A * _SQRT_2_OVER_PI * 0.5)
                                                      + _SQRT_2_OVER_PI * 0.5)


class Softplus(Function):
    """y = log(1 + e^{b x}) / b, or x where b x > threshold;  dx = g sigmoid(b x), or g above the threshold."""

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        z = x * self.beta if self.beta != 1 else x
        # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): never exponentiates a positive number
        soft = np.log1p(np.exp(-np.abs(z)))
        soft += np.maximum(z, 0)
        if self.beta != 1:
            soft /= self.beta
        above = z > self.threshold
        if above.any():  # rare: index only then (PyTorch returns x itself there)
            soft = np.asarray(soft)
            soft[above] = np.asarray(x)[above]
        return soft

    def backward(self, g):
        x = self.inputs[0]
        z = x * self.beta if self.beta != 1 else x
        above = z.data > self.threshold
        if above.any():
            return where(above, g, g * sigmoid(z))
        return g * sigmoid(z)


class SiLU(Function):
    """y = x sigmoid(x);  dx = g s (1 + x (1 - s)),  s = sigmoid(x)"""

    def forward(self, x):
        self.s = sigmoid_array(x)
        return x * self.s

    def backward_arrays(self, g):
        x, s = self.inputs[0].data, self.s  # the sigmoid forward saved
        return g * (s * (x * (1.0 - s) + 1.0))

    def backward(self, g):
        """Recorded (create_graph): s recomputed with nabla ops, so that it is differentiated."""
        x = self.inputs[0]
        s = sigmoid(x)
        return g * (s * (x * (1.0 - s) + 1.0))


# ---------------------------------------------------------------------- softmax, log-softmax
def _keep_shape(shape, axis):
    """The shape after summing over ``axis`` with keepdim (a 0-d tensor stays 0-d)."""
    if not shape:
        return ()
    return shape[:axis] + (1,) + shape[axis + 1:]


class Softmax(Function):
    """y_i = e^{x_i - m} / sum_j e^{x_j - m} along dim (m = max_j x_j, for stability);
    dx = y (g - sum_j g_j y_j)"""
    save_inputs = False
    save_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        if x.ndim == 0 or x.size == 0:
            return np.ones_like(x)
        e = x - np.max(x, axis=self.axis, keepdims=True)
        np.exp(e, out=e)
        e /= np.sum(e, axis=self.axis, keepdims=True)
        return e

    def backward(self, g):
        y = self.output
        return y * (g - sum_to(g * y, _keep_shape(y.shape, self.axis)))


class LogSoftmax(Function):
    """y_i = x_i - m - log sum_j e^{x_j - m} along dim (m = max_j x_j);  dx = g - e^y sum_j g_j"""
    save_inputs = False
    save_output = True

    def __init__(self, axis):
        self.axis = axis

    def forward(self, x):
        if x.ndim == 0 or x.size == 0:
            return np.zeros_like(x)
        z = x - np.max(x, axis=self.axis, keepdims=True)
        lse = np.log(np.sum(np.exp(z), axis=self.axis, keepdims=True))
        z -= lse
        return z

    def backward(self, g):
        y = self.output
        return g - exp(y) * sum_to(g, _keep_shape(y.shape, self.axis))


# ---------------------------------------------------------------------- functions
def tanh(input):  # noqa: A002 - PyTorch's argument names
    """Hyperbolic tangent: y = tanh x;  dy/dx = 1 - y^2."""
    return Tanh.apply(_floating(input))


def sigmoid(input):  # noqa: A002
    """Logistic sigmoid: y = 1 / (1 + e^-x);  dy/dx = y (1 - y).  Finite for any x (no overflow)."""
    return Sigmoid.apply(_floating(input))


def logsigmoid(input):  # noqa: A002
    """y = log sigmoid(x) = -softplus(-x), stable for any x;  dy/dx = sigmoid(-x) = 1 - sigmoid(x)."""
    return LogSigmoid.apply(_floating(input))


def relu(input, inplace=False):  # noqa: A002
    """Rectified linear unit: y = max(x, 0);  dy/dx = 1 if x > 0 else 0 (0 at x = 0, as PyTorch)."""
    x = as_tensor(input)
    return _inplace(x, ReLU.apply(x), inplace)


def leaky_relu(input, negative_slope=0.01, inplace=False):  # noqa: A002
    """y = x if x > 0 else negative_slope * x;  dy/dx = 1 if x > 0 else negative_slope."""
    x = _floating(input)
    return _inplace(x, LeakyReLU.apply(x, slope=float(negative_slope)), inplace)


def elu(input, alpha=1.0, inplace=False):  # noqa: A002
    """Exponential linear unit: y = x if x > 0 else alpha (e^x - 1);
    dy/dx = 1 if x > 0 else alpha e^x (= y + alpha)."""
    x = _floating(input)
    return _inplace(x, ELU.apply(x, alpha=float(alpha)), inplace)


def gelu(input, approximate="none"):  # noqa: A002
    """Gaussian error linear unit: y = x Phi(x), Phi the standard normal CDF;
    dy/dx = Phi(x) + x phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi).
    ``approximate='tanh'``: Phi(x) ~ (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(_floating(input), approximate=approximate)


def softplus(input, beta=1.0, threshold=20.0):  # noqa: A002
    """y = log(1 + e^{beta x}) / beta, and y = x where beta x > threshold (the two agree there);
    dy/dx = sigmoid(beta x), and 1 above the threshold."""
    if beta == 0:
        raise ValueError("softplus: beta must be nonzero")
    return Softplus.apply(_floating(input), beta=beta, threshold=threshold)


def silu(input, inplace=False):  # noqa: A002
    """Sigmoid linear unit (swish): y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)."""
    x = _floating(input)
    return _inplace(x, SiLU.apply(x), inplace)


def _softmax_axis(x: Tensor, dim, op: str) -> int:
    if dim is None:
        # PyTorch's legacy implicit choice, with its warning
        warnings.warn(f"{op}: implicit dimension choice is deprecated; pass dim", UserWarning, stacklevel=3)
        dim = 0 if x.ndim in (0, 1, 3) else 1
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {type(dim).__name__}")
    return normalize_dim(int(dim), x.ndim, op)


def softmax(input, dim=None, dtype=None):  # noqa: A002
    """y_i = e^{x_i} / sum_j e^{x_j} along ``dim``, computed as e^{x_i - max x} (finite for any
    finite x);  dx = y (g - sum_j g_j y_j).  ``dtype`` casts the input first."""
    x = _floating(input)
    if dtype is not None:
        x = x.to(dtype)
    return Softmax.apply(x, axis=_softmax_axis(x, dim, "softmax"))


def log_softmax(input, dim=None, dtype=None):  # noqa: A002
    """y_i = x_i - log sum_j e^{x_j} along ``dim`` (log-sum-exp with the max subtracted);
    dx = g - e^y sum_j g_j.  ``dtype`` casts the input first."""
    x = _floating(input)
    if dtype is not None:
        x = x.to(dtype)
    return LogSoftmax.apply(x, axis=_softmax_axis(x, dim, "log_softmax"))


install(
    tanh=tanh, sigmoid=sigmoid, relu=relu,
    softmax=lambda self, dim=None, dtype=None: softmax(self, dim, dtype),
    log_softmax=lambda self, dim=None, dtype=None: log_softmax(self, dim, dtype),
)

__all__ = ['tanh', 'sigmoid', 'logsigmoid', 'relu', 'leaky_relu', 'elu', 'gelu', 'softplus', 'silu',
           'softmax', 'log_softmax']
