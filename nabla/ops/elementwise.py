"""Elementwise math: exp, log, roots, trigonometry, abs, clamp, rounding, erf.

Each op maps every element on its own, so its gradient is the incoming gradient times the derivative
at that element.  Backward formulas are written with nabla ops (``self.output`` where the derivative
is the output itself, as for exp), so gradients of gradients work.  Integer inputs of the
floating-point functions are promoted to the default float dtype, as in PyTorch.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, install
from .arithmetic import where

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _floating(x) -> Tensor:
    """x as a Tensor; integer and bool tensors become the default float dtype (torch.exp(int) is float)."""
    x = as_tensor(x)
    if x.data.dtype.kind not in "fc":
        return _const(x.data.astype(backend.get_default_dtype()))
    return x


# ---------------------------------------------------------------------- exp and log
class Exp(Function):
    """y = e^x;  dx = g * y"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, g):
        return g * self.output


class Expm1(Function):
    """y = e^x - 1 (accurate for small x);  dx = g * (y + 1)"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return np.expm1(x)

    def backward(self, g):
        return g * (self.output + 1.0)


class Log(Function):
    """y = ln x;  dx = g / x"""

    def forward(self, x):
        return np.log(x)

    def backward(self, g):
        return g / self.inputs[0]


class Log2(Function):
    """y = log2 x;  dx = g / (x ln 2)"""

    def forward(self, x):
        return np.log2(x)

    def backward(self, g):
        return g / (self.inputs[0] * _LN2)


class Log10(Function):
    """y = log10 x;  dx = g / (x ln 10)"""

    def forward(self, x):
        return np.log10(x)

    def backward(self, g):
        return g / (self.inputs[0] * _LN10)


class Log1p(Function):
    """y = ln(1 + x) (accurate for small x);  dx = g / (1 + x)"""

    def forward(self, x):
        return np.log1p(x)

    def backward(self, g):
        return g / (self.inputs[0] + 1.0)


# ---------------------------------------------------------------------- powers and roots
class Sqrt(Function):
    """y = sqrt(x);  dx = g / (2 y)"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, g):
        return g / (self.output * 2.0)


class Rsqrt(Function):
    """y = 1 / sqrt(x);  dx = -g y^3 / 2"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return 1 / np.sqrt(x)

    def backward(self, g):
        y = self.output
        return g * (y * y * y * -0.5)


class Square(Function):
    """y = x^2;  dx = 2 g x"""

    def forward(self, x):
        return np.square(x)

    def backward(self, g):
        return g * (self.inputs[0] * 2.0)


class Reciprocal(Function):
    """y = 1 / x;  dx = -g y^2"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return np.reciprocal(x)

    def backward(self, g):
        y = self.output
        return g * -(y * y)


# ---------------------------------------------------------------------- trigonometry
class Sin(Function):
    """y = sin x;  dx = g cos x"""

    def forward(self, x):
        return np.sin(x)

    def backward(self, g):
        return g * cos(self.inputs[0])


class Cos(Function):
    """y = cos x;  dx = -g sin x"""

    def forward(self, x):
        return np.cos(x)

    def backward(self, g):
        return g * -sin(self.inputs[0])


class Tan(Function):
    """y = tan x;  dx = g (1 + y^2)"""
    save_inputs = False
    save_output = True

    def forward(self, x):
        return np.tan(x)

    def backward(self, g):
        y = self.output
        return g * (y * y + 1.0)


# ---------------------------------------------------------------------- piecewise
class Abs(Function):
    """y = |x|;  dx = g sign(x)  (0 at x = 0, as PyTorch)"""

    def forward(self, x):
        return np.abs(x)

    def backward(self, g):
        return g * _const(np.sign(self.inputs[0].data))


class Clamp(Function):
    """y = min(max(x, lo), hi);  dx = g where lo <= x <= hi, else 0 (the bounds included, as PyTorch)"""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        return np.clip(x, self.lo, self.hi)

    def backward(self, g):
        x = self.inputs[0].data
        if self.hi is None:
            inside = x >= self.lo
        elif self.lo is None:
            inside = x <= self.hi
        else:
            inside = (x >= self.lo) & (x <= self.hi)
        return g * _const(inside)


class Clone(Function):
    """y = a copy of x;  dx = g"""
    save_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g


# ---------------------------------------------------------------------- error function
# NumPy has neither erf nor erfc.  Polynomials fitted for nabla by Chebyshev interpolation in 40-digit
# arithmetic (mpmath), converted to powers of u in [-1, 1]:
#   |x| <= 2:  erf(x) = x P(u),                   u = x^2 / 2 - 1,   P ~ erf(sqrt t) / sqrt t, t = x^2
#   |x| >  2:  erfc(|x|) = e^{-x^2} Q(u) / |x|,   u = 8 / x^2 - 1,   Q ~ x e^{x^2} erfc(x)
# e^{-x^2} is evaluated as e^{-h^2} e^{(h - x)(h + x)} with h = x cut to half its mantissa, so that h^2
# is exact; the rounding of x^2 would otherwise cost up to 700 ulp in the far tail.
# float64 (degrees 16 and 24): erf within 2 ulp; erfc within 3 ulp for |x| > 2, 5e-16 absolute below.
# float32 and float16 are computed in float32 (degrees 9 and 7): erf 3 ulp; erfc 5 ulp for |x| > 2,
# 2e-7 absolute below.
_ERF_SMALL = (
    0.674933236039655, -0.26111186093124483, 0.11947913860984928,
    -0.04866277744918114, 0.017128344571883503, -0.0052348758357965465,
    0.0014050914230548403, -0.00033514353574567963, 7.180101093986392e-05,
    -1.394626651597526e-05, 2.475796431973771e-06, -4.045228796880568e-07,
    6.120276990045312e-08, -8.603435877258599e-09, 1.129890854658857e-09,
    -1.482183795284903e-10, 1.801926357782985e-11,
)
_ERFC_TAIL = (
    0.5340672374463438, -0.026054849911871934, 0.003271152675741549,
    -0.0006023778596664301, 0.0001391493189525642, -3.752825033944821e-05,
    1.1350116189625947e-05, -3.753150263076026e-06, 1.3337613862783758e-06,
    -5.031135504808146e-07, 1.9959684113516726e-07, -8.291787034750127e-08,
    3.5858787779472036e-08, -1.533961233496713e-08, 6.645386680227959e-09,
    -4.492597686325926e-09, 2.7930961297007965e-09, 6.34165729559283e-10,
    -9.771879837904022e-10, -1.4854694219792643e-09, 1.2138896286827178e-09,
    6.109746208708796e-10, -4.966385971809056e-10, -1.8727158373403558e-10,
    1.3159529548790397e-10,
)
_ERF_SMALL32 = (
    0.6749332547187805, -0.261111855506897, 0.11947888135910034, -0.048662737011909485,
    0.017130395397543907, -0.005235208198428154, 0.0013993806205689907, -0.0003342172713018954,
    7.824543718015775e-05, -1.4993335753388237e-05,
)
_ERFC_TAIL32 = (
    0.5340672135353088, -0.02605484426021576, 0.0032716160640120506, -0.000602558720856905,
    0.00013689511979464442, -3.6650701076723635e-05, 1.4716601071995683e-05, -5.054877419752302e-06,
)


def _horner(coefs, u):
    r = np.full_like(u, coefs[-1])
    for c in coefs[-2::-1]:
        r *= u
        r += c
    return r


def _working(x):
    """x as a 1-d array in the dtype erf is computed in (1-d so that 0-d inputs can be indexed)."""
    wd = np.float32 if x.dtype in (np.float16, np.float32) else np.float64
    return x.astype(wd, copy=False).reshape(-1)


def _erf_small(x):
    """erf(x) for |x| <= 2 (x clipped to 2 in magnitude, so the polynomial never overflows)."""
    t = np.minimum(np.abs(x), 2.0)
    t *= t
    t *= 0.5
    t -= 1.0
    return x * _horner(_ERF_SMALL if x.dtype == np.float64 else _ERF_SMALL32, t)


def _erfc_tail(a):
    """erfc(a) for a > 2 (a >= 0; past the clip the result underflows to 0 anyway)."""
    if a.dtype == np.float64:
        a = np.minimum(a, 27.5)
        h = a.astype(np.float32).astype(np.float64)
        coefs = _ERFC_TAIL
    else:
        a = np.minimum(a, 10.5)
        h = (a.view(np.uint32) & np.uint32(0xFFFFF000)).view(np.float32)
        coefs = _ERFC_TAIL32
    u = 8.0 / (a * a) - 1.0
    return np.exp(-(h * h)) * np.exp((h - a) * (h + a)) * _horner(coefs, u) / a


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function of a floating array, in x's dtype."""
    xw = _working(x)
    out = _erf_small(xw)
    big = np.abs(xw) > 2.0  # rare for typical data, so the gathers below are cheap
    if big.any():
        xb = xw[big]
        out[big] = np.copysign(1.0 - _erfc_tail(np.abs(xb)), xb)
    return out.reshape(x.shape).astype(x.dtype, copy=False)


def erfc_array(x: np.ndarray) -> np.ndarray:
    """1 - erf(x) of a floating array, without the cancellation for large x; in x's dtype."""
    xw = _working(x)
    out = _erf_small(xw)
    np.subtract(1.0, out, out=out)
    big = np.abs(xw) > 2.0
    if big.any():
        xb = xw[big]
        tail = _erfc_tail(np.abs(xb))
        out[big] = np.where(xb > 0, tail, 2.0 - tail)
    return out.reshape(x.shape).astype(x.dtype, copy=False)


class Erf(Function):
    """y = erf(x) = 2/sqrt(pi) int_0^x e^{-t^2} dt;  dx = g 2/sqrt(pi) e^{-x^2}"""

    def forward(self, x):
        return erf_array(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (exp(-(x * x)) * _TWO_OVER_SQRT_PI)


class Erfc(Function):
    """y = erfc(x) = 1 - erf(x);  dx = -g 2/sqrt(pi) e^{-x^2}"""

    def forward(self, x):
        return erfc_array(x)

    def backward(self, g):
        x = self.inputs[0]
        return g * (exp(-(x * x)) * -_TWO_OVER_SQRT_PI)


# ---------------------------------------------------------------------- functions
def exp(x):
    """e^x elementwise."""
    return Exp.apply(_floating(x))


def expm1(x):
    """e^x - 1 elementwise, accurate near 0."""
    return Expm1.apply(_floating(x))


def log(x):
    """Natural logarithm elementwise."""
    return Log.apply(_floating(x))


def log2(x):
    """Base-2 logarithm elementwise."""
    return Log2.apply(_floating(x))


def log10(x):
    """Base-10 logarithm elementwise."""
    return Log10.apply(_floating(x))


def log1p(x):
    """ln(1 + x) elementwise, accurate near 0."""
    return Log1p.apply(_floating(x))


def sqrt(x):
    """Square root elementwise."""
    return Sqrt.apply(_floating(x))


def rsqrt(x):
    """1 / sqrt(x) elementwise."""
    return Rsqrt.apply(_floating(x))


def square(x):
    """x^2 elementwise (keeps integer dtypes, as torch.square)."""
    return Square.apply(as_tensor(x))


def reciprocal(x):
    """1 / x elementwise."""
    return Reciprocal.apply(_floating(x))


def sin(x):
    return Sin.apply(_floating(x))


def cos(x):
    return Cos.apply(_floating(x))


def tan(x):
    return Tan.apply(_floating(x))


def erf(x):
    """The error function 2/sqrt(pi) int_0^x e^{-t^2} dt (about 2 ulp in float64)."""
    return Erf.apply(_floating(x))


def erfc(x):
    """The complementary error function 1 - erf(x), accurate where erf(x) is near 1."""
    return Erfc.apply(_floating(x))


def abs(x):  # noqa: A001 - PyTorch's name
    """|x| elementwise; the gradient at 0 is 0."""
    return Abs.apply(as_tensor(x))


def _bound(value, name):
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return _const(value) if value.ndim else value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"clamp: {name} must be a number, a tensor or None, got {type(value).__name__}")
    return value.item() if isinstance(value, np.generic) else value


def clamp(x, min=None, max=None):  # noqa: A002 - PyTorch's names
    """min(max(x, min), max) elementwise; ``min`` and ``max`` are numbers, tensors or None.

    dx = g where min <= x <= max (the bounds included, as PyTorch), else 0.  If min > max every
    element becomes max."""
    x = as_tensor(x)
    lo, hi = _bound(min, "min"), _bound(max, "max")
    if lo is None and hi is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        # Tensor bounds: two selections; each bound gets the gradient where it was chosen.
        out = x
        if lo is not None:
            lo = as_tensor(lo, x)
            out = where(out.data >= lo.data, out, lo)
        if hi is not None:
            hi = as_tensor(hi, x)
            out = where(out.data <= hi.data, out, hi)
        return out
    return Clamp.apply(x, lo=lo, hi=hi)


def clamp_min(x, min):  # noqa: A002
    return clamp(x, min=min)


def clamp_max(x, max):  # noqa: A002
    return clamp(x, max=max)


def clone(x):
    """A copy of x with its own memory; differentiable (dx = g)."""
    return Clone.apply(as_tensor(x))


def _not_differentiable(np_fn, name, doc):
    def fn(x):
        x = as_tensor(x)
        return _const(np.asarray(np_fn(x.data)))
    fn.__name__ = name
    fn.__doc__ = doc + " (not differentiable: the result is cut from the graph)."
    return fn


sign = _not_differentiable(np.sign, "sign", "-1, 0 or 1 by the sign of each element")
floor = _not_differentiable(np.floor, "floor", "The largest integer <= x elementwise")
ceil = _not_differentiable(np.ceil, "ceil", "The smallest integer >= x elementwise")
trunc = _not_differentiable(np.trunc, "trunc", "x rounded toward zero elementwise")


def round(x, decimals=0):  # noqa: A001 - PyTorch's name
    """x rounded to ``decimals`` places, halves to even (not differentiable: cut from the graph)."""
    x = as_tensor(x)
    return _const(np.asarray(np.round(x.data, decimals)))


install(
    exp=exp, expm1=expm1, log=log, log2=log2, log10=log10, log1p=log1p, sqrt=sqrt, rsqrt=rsqrt,
    square=square, reciprocal=reciprocal, sin=sin, cos=cos, tan=tan, erf=erf, erfc=erfc,
    abs=abs, absolute=abs, __abs__=abs, clamp=clamp, clip=clamp, clamp_min=clamp_min, clamp_max=clamp_max,
    clone=clone, sign=sign, floor=floor, ceil=ceil, trunc=trunc, round=round,
)
clip = clamp
absolute = abs

__all__ = ['exp', 'expm1', 'log', 'log2', 'log10', 'log1p', 'sqrt', 'rsqrt', 'square', 'reciprocal',
           'sin', 'cos', 'tan', 'erf', 'erfc', 'abs', 'absolute', 'clamp', 'clip', 'clamp_min', 'clamp_max',
           'clone', 'sign', 'floor', 'ceil', 'trunc', 'round']
