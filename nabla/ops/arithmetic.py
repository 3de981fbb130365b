"""Arithmetic: + - * / ** and friends, comparisons, where, casts.

Binary ops broadcast like NumPy; the engine sums each gradient back to its input's shape.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import _GradState
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, install


def _broadcast_error(op: str, a: np.ndarray, b: np.ndarray) -> ValueError:
    return ValueError(f"{op}: shapes {a.shape} and {b.shape} cannot be broadcast together "
                      f"(dtypes {a.dtype} and {b.dtype})")


def _binary(op_name: str, ufunc):
    def forward(a, b):
        try:
            return ufunc(a, b)
        except ValueError:
            raise _broadcast_error(op_name, a, b) from None
    return forward


class Add(Function):
    """z = x + y;  dx = g, dy = g"""
    save_inputs = False

    def forward(self, x, y):
        return _add(x, y)

    def backward(self, g):
        return g, g


class Sub(Function):
    """z = x - y;  dx = g, dy = -g"""
    save_inputs = False

    def forward(self, x, y):
        return _sub(x, y)

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


class Mul(Function):
    """z = x * y;  dx = g * y, dy = g * x"""

    def forward(self, x, y):
        return _mul(x, y)

    def backward(self, g):
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        return (g * y if nx else None), (g * x if ny else None)


class Div(Function):
    """z = x / y;  dx = g / y, dy = -g * x / y^2"""

    def forward(self, x, y):
        return _div(x, y)

    def backward(self, g):
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        gx = g / y if nx else None
        gy = -g * x / (y * y) if ny else None
        return gx, gy


class Neg(Function):
    """y = -x;  dx = -g"""
    save_inputs = False

    def forward(self, x):
        return np.negative(x)

    def backward(self, g):
        return -g


class Pow(Function):
    """z = x ** y;  dx = g * y * x^(y-1),  dy = g * z * log(x)  (taken as 0 where x == 0)"""
    save_output = True

    def forward(self, x, y):
        try:
            return np.power(x, y)
        except ValueError:
            raise _broadcast_error("pow", x, y) from None

    def backward(self, g):
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        gx = g * y * x ** (y - 1) if nx else None
        gy = None
        if ny:
            safe_log = where(x.detach() > 0, x, 1.0).log() if (x.data <= 0).any() else x.log()
            gy = g * self.output * safe_log
        return gx, gy


class PowScalar(Function):
    """y = x ** c (c a Python number);  dx = g * c * x^(c-1)"""

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        return np.power(x, self.exponent, dtype=x.dtype if x.dtype.kind == "f" else None)

    def backward(self, g):
        (x,) = self.inputs
        c = self.exponent
        if c == 0:
            return g * 0.0
        if c == 1:
            return g
        if c == 2:
            return g * (x * 2.0)
        return g * (c * x ** (c - 1))


class Maximum(Function):
    """z = max(x, y);  the gradient goes to the larger input, split evenly on ties (as PyTorch)."""

    def forward(self, x, y):
        return _binary("maximum", np.maximum)(x, y)

    def backward(self, g):
        x, y = self.inputs
        return _split_by_choice(g, x.data > y.data, x.data == y.data, x.dtype)


class Minimum(Function):
    """z = min(x, y);  the gradient goes to the smaller input, split evenly on ties (as PyTorch)."""

    def forward(self, x, y):
        return _binary("minimum", np.minimum)(x, y)

    def backward(self, g):
        x, y = self.inputs
        return _split_by_choice(g, x.data < y.data, x.data == y.data, x.dtype)


def _split_by_choice(g, x_wins, tie, dtype):
    wx = (x_wins + 0.5 * tie).astype(g.dtype)
    wy = (1.0 - wx).astype(g.dtype)
    return g * _const(wx), g * _const(wy)


class Where(Function):
    """z = cond ? x : y;  dx = where(cond, g, 0), dy = where(cond, 0, g)"""
    save_inputs = False

    def __init__(self, condition):
        self.condition = condition

    def forward(self, x, y):
        try:
            return np.where(self.condition, x, y)
        except ValueError:
            raise ValueError(f"where: condition {self.condition.shape}, x {x.shape} and y {y.shape} cannot be "
                             "broadcast together") from None

    def backward(self, g):
        nx, ny = self.needs_input_grad
        zero = _const(np.zeros((), g.dtype))
        gx = where(self.condition, g, zero) if nx else None
        gy = where(self.condition, zero, g) if ny else None
        return gx, gy


class Cast(Function):
    """y = x as another dtype;  dx = g cast back to x's dtype"""
    save_inputs = False

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, g):
        return g.to(self.in_dtype)


_add, _sub, _mul, _div = (_binary(n, f) for n, f in
                          (("add", np.add), ("sub", np.subtract), ("mul", np.multiply), ("div", np.true_divide)))


# ---------------------------------------------------------------------- functions
def _unrecorded(ufunc, name, x, y):
    """x (op) y straight through NumPy when nothing needs recording: the hot path of backward
    passes and no-grad code, about half the cost of going through Function.apply."""
    try:
        out = ufunc(x.data, y.data)
    except ValueError:
        raise _broadcast_error(name, x.data, y.data) from None
    # the hottest wrap in nabla (every unrecorded arithmetic op): out is already an array, so the engine's
    # constructor directly, without _const's scalar check (measured: 1.49 -> 1.37 us per 1-element add)
    return Tensor._make(out if type(out) is np.ndarray else np.asarray(out), None)


def _recording(x, y) -> bool:
    return _GradState.enabled and (x.requires_grad or y.requires_grad)


def add(x, y, alpha=1):
    x = as_tensor(x)
    y = as_tensor(y, x)
    if alpha == 1 and not _recording(x, y):
        return _unrecorded(np.add, "add", x, y)
    if alpha != 1:
        y = mul(y, alpha)
    return Add.apply(x, y)


def sub(x, y, alpha=1):
    x = as_tensor(x)
    y = as_tensor(y, x)
    if alpha == 1 and not _recording(x, y):
        return _unrecorded(np.subtract, "sub", x, y)
    if alpha != 1:
        y = mul(y, alpha)
    return Sub.apply(x, y)


def mul(x, y):
    x = as_tensor(x)
    y = as_tensor(y, x)
    if not _recording(x, y):
        return _unrecorded(np.multiply, "mul", x, y)
    return Mul.apply(x, y)


def div(x, y, rounding_mode=None):
    x = as_tensor(x)
    y = as_tensor(y, x)
    if rounding_mode == "floor":
        return floor_divide(x, y)
    if rounding_mode == "trunc":
        return _const(np.trunc(np.true_divide(x.data, y.data)).astype(np.result_type(x.data, y.data)))
    if not _recording(x, y):
        return _unrecorded(np.true_divide, "div", x, y)
    return Div.apply(x, y)


def neg(x):
    return Neg.apply(as_tensor(x))


def pow(x, exponent):
    """x ** exponent; a Python-number exponent uses the cheaper PowScalar."""
    if not isinstance(exponent, (Tensor, np.ndarray)) and isinstance(x, Tensor):
        return PowScalar.apply(x, exponent=exponent)
    x = as_tensor(x, exponent if isinstance(exponent, Tensor) else None)
    return Pow.apply(x, as_tensor(exponent, x))


def maximum(x, y):
    x = as_tensor(x)
    return Maximum.apply(x, as_tensor(y, x))


def minimum(x, y):
    x = as_tensor(x)
    return Minimum.apply(x, as_tensor(y, x))


def where(condition, x=None, y=None):
    """Elements of x where condition holds, else of y.  ``where(cond)`` alone gives the indices (nd)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if x is None and y is None:
        return tuple(_const(i) for i in np.nonzero(cond))
    if cond.dtype != np.bool_:
        cond = cond.astype(bool)
    if isinstance(x, Tensor):
        y = as_tensor(y, x)
    else:
        y = as_tensor(y)
        x = as_tensor(x, y)
    return Where.apply(x, y, condition=cond)


def to(x, dtype=None, *args, **kwargs):
    """Cast to ``dtype`` (``x.to(nabla.float64)``); differentiable between floating dtypes."""
    if isinstance(dtype, str) and dtype in ("cpu",):
        return x
    dtype = np.dtype(dtype)
    if x.data.dtype == dtype:
        return x
    if dtype.kind not in "fc":
        return _const(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


def floor_divide(x, y):
    """floor(x / y) (not differentiable)."""
    x = as_tensor(x)
    y = as_tensor(y, x)
    return _const(np.asarray(np.floor_divide(x.data, y.data)))


def remainder(x, y):
    """x - floor(x / y) * y, sign of the divisor as Python's %;  dx = g, dy = -g * floor(x / y)"""
    x = as_tensor(x)
    y = as_tensor(y, x)
    if not (x.requires_grad or y.requires_grad):
        return _const(np.asarray(np.remainder(x.data, y.data)))
    return x - floor_divide(x, y).detach() * y


def _compare(ufunc, name):
    def compare(x, y):
        x = as_tensor(x)
        y = as_tensor(y, x)
        try:
            return _const(np.asarray(ufunc(x.data, y.data)))
        except ValueError:
            raise _broadcast_error(name, x.data, y.data) from None
    compare.__name__ = name
    compare.__doc__ = f"Elementwise {name} (a bool tensor; not differentiable)."
    return compare


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """|input - other| <= atol + rtol |other| elementwise, a bool tensor (not differentiable);
    NaNs are close to each other only with equal_nan, infinities only to the same infinity."""
    x = as_tensor(input)
    y = as_tensor(other, x)
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got rtol={rtol} and atol={atol}")
    try:
        return _const(np.asarray(np.isclose(x.data, y.data, rtol=rtol, atol=atol, equal_nan=equal_nan)))
    except ValueError:
        raise _broadcast_error("isclose", x.data, y.data) from None


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether every element of input is close to other's (see :func:`isclose`): a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())


def logical_not(x):
    return _const(np.logical_not(as_tensor(x).data))


def _reflected(fn):
    return lambda self, other: fn(as_tensor(other, self), self)


install(
    add=add, sub=sub, mul=mul, div=div, neg=neg, pow=pow, maximum=maximum, minimum=minimum,
    to=to, floor_divide=floor_divide, remainder=remainder, eq=eq, ne=ne, lt=lt, le=le, gt=gt, ge=ge,
    isclose=isclose, allclose=allclose,
    subtract=sub, multiply=mul, divide=div, true_divide=div, logical_not=logical_not,
    __add__=add, __radd__=_reflected(add), __sub__=sub, __rsub__=_reflected(sub),
    __mul__=mul, __rmul__=_reflected(mul), __truediv__=div, __rtruediv__=_reflected(div),
    __floordiv__=floor_divide, __rfloordiv__=_reflected(floor_divide),
    __mod__=remainder, __rmod__=_reflected(remainder),
    __pow__=pow, __rpow__=_reflected(pow), __neg__=neg, __pos__=lambda self: self,
    __eq__=eq, __ne__=ne, __lt__=lt, __le__=le, __gt__=gt, __ge__=ge,
    __invert__=logical_not, __and__=lambda s, o: _const(np.logical_and(s.data, as_tensor(o).data)),
    __or__=lambda s, o: _const(np.logical_or(s.data, as_tensor(o).data)),
    __xor__=lambda s, o: _const(np.logical_xor(s.data, as_tensor(o).data)),
    astype=to, type=to,
    float=lambda self: to(self, np.float32), double=lambda self: to(self, np.float64),
    half=lambda self: to(self, np.float16),
    long=lambda self: to(self, np.int64), int=lambda self: to(self, np.int32), bool=lambda self: to(self, np.bool_),
)

__all__ = ['add', 'sub', 'mul', 'div', 'neg', 'pow', 'maximum', 'minimum', 'where', 'to', 'floor_divide', 'remainder', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'isclose',
           'allclose', 'logical_not']
