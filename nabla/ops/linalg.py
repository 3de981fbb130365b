"""Linear algebra: matrix products (batched and broadcast like NumPy), dot, outer, einsum."""
from __future__ import annotations

import string

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import _GradState
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, install
from .shape import broadcast_to, reshape


def _swap(a):
    return a.T if a.ndim == 2 else a.swapaxes(-1, -2)


def _matmul_error(x, y, op):
    return ValueError(f"{op}: shapes {x.shape} and {y.shape} do not match for a matrix product "
                      f"(dtypes {x.dtype}, {y.dtype})")


class MatMul(Function):
    """Z = X @ Y;  dX = G @ Y^T,  dY = X^T @ G.

    1-d operands are promoted as NumPy does and the gradient squeezed back; batch axes that
    broadcast are summed by the engine.  The transposed products are their own ops (MatMulNT,
    MatMulTN) so that backward costs two NumPy calls, not four."""

    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"matmul: both operands need at least 1 dimension, got shapes {x.shape} and {y.shape}")
        try:
            return np.matmul(x, y)
        except ValueError:
            raise _matmul_error(x, y, "matmul") from None

    def backward(self, g):
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        if x.ndim >= 2 and y.ndim >= 2:
            return (matmul_nt(g, y) if nx else None), (matmul_tn(x, g) if ny else None)
        if x.ndim == 1 and y.ndim == 1:  # inner product: g is 0-d
            return (g * y if nx else None), (g * x if ny else None)
        x2 = reshape(x, (1, x.shape[0])) if x.ndim == 1 else x
        y2 = reshape(y, (y.shape[0], 1)) if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:])
        if y.ndim == 1:
            g2 = reshape(g2, g2.shape + (1,))
        gx = matmul_nt(g2, y2) if nx else None
        gy = matmul_tn(x2, g2) if ny else None
        if nx and x.ndim == 1:
            gx = reshape(gx, gx.shape[:-2] + gx.shape[-1:])
        if ny and y.ndim == 1:
            gy = reshape(gy, gy.shape[:-1])
        return gx, gy


class MatMulNT(Function):
    """Z = X @ Y^T (last two axes);  dX = G @ Y,  dY = G^T @ X"""

    def forward(self, x, y):
        try:
            return np.matmul(x, _swap(y))
        except ValueError:
            raise _matmul_error(x, y, "matmul (x @ y^T)") from None

    def backward(self, g):
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        return (matmul(g, y) if nx else None), (matmul_tn(g, x) if ny else None)


class MatMulTN(Function):
    """Z = X^T @ Y (last two axes);  dX = Y @ G^T,  dY = X @ G"""

    def forward(self, x, y):
        try:
            return np.matmul(_swap(x), y)
        except ValueError:
            raise _matmul_error(x, y, "matmul (x^T @ y)") from None

    def backward(self, g):
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        return (matmul_nt(y, g) if nx else None), (matmul(x, g) if ny else None)


def _unrecorded_product(a, b, op):
    try:
        out = np.matmul(a, b)
    except ValueError:
        raise _matmul_error(a, b, op) from None
    return _const(out)


def matmul_nt(x, y):
    """x @ y^T over the last two axes, without materialising the transpose."""
    if not (_GradState.enabled and (x.requires_grad or y.requires_grad)):  # the backward pass's hot path
        return _unrecorded_product(x.data, _swap(y.data), "matmul (x @ y^T)")
    return MatMulNT.apply(x, y)


def matmul_tn(x, y):
    """x^T @ y over the last two axes, without materialising the transpose."""
    if not (_GradState.enabled and (x.requires_grad or y.requires_grad)):
        return _unrecorded_product(_swap(x.data), y.data, "matmul (x^T @ y)")
    return MatMulTN.apply(x, y)


def matmul(x, y):
    x = as_tensor(x)
    return MatMul.apply(x, as_tensor(y, x))


def dot(x, y):
    """Inner product of two 1-d tensors."""
    x = as_tensor(x)
    y = as_tensor(y, x)
    if x.ndim != 1 or y.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"dot: expected two 1-d tensors of the same size, got shapes {x.shape} and {y.shape}")
    return matmul(x, y)


def outer(x, y):
    """x[:, None] * y[None, :] for 1-d x, y."""
    x = as_tensor(x)
    y = as_tensor(y, x)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"outer: expected two 1-d tensors, got shapes {x.shape} and {y.shape}")
    return reshape(x, (-1, 1)) * reshape(y, (1, -1))


def _checked(op, x, y, ndx, ndy):
    x = as_tensor(x)
    y = as_tensor(y, x)
    if x.ndim != ndx or y.ndim != ndy:
        raise ValueError(f"{op}: expected {ndx}-d and {ndy}-d tensors, got shapes {x.shape} and {y.shape}")
    return x, y


def mm(x, y):
    """Matrix product of two 2-d tensors (no broadcasting)."""
    return matmul(*_checked("mm", x, y, 2, 2))


def bmm(x, y):
    """Batched matrix product of (b, n, m) and (b, m, p) tensors (no broadcasting)."""
    x, y = _checked("bmm", x, y, 3, 3)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"bmm: batch sizes differ, shapes {x.shape} and {y.shape}")
    return matmul(x, y)


def mv(x, y):
    """Matrix-vector product of a 2-d and a 1-d tensor."""
    return matmul(*_checked("mv", x, y, 2, 1))


# ---------------------------------------------------------------------- einsum
class Einsum(Function):
    """Z = einsum(subs -> out, X_1 .. X_n);  dX_k = einsum(out, subs_j (j != k) -> subs_k)(G, X_j ...):
    every operand's gradient is the contraction of G with the other operands (see ``_einsum_grad``).
    ``subs`` are already expanded: letters only, no ellipsis."""

    def __init__(self, subs, out):
        self.subs, self.out = subs, out

    def forward(self, *arrays):
        eq = ",".join(self.subs) + "->" + self.out
        # optimize=True picks a contraction order and hands pairwise products to BLAS (tensordot): 10x on
        # big operands; on tiny ones its ~6 us of planning is most of the cost, so they take the C loop
        optimize = len(arrays) > 2 or (len(arrays) == 2 and arrays[0].size + arrays[1].size > 4096)
        y = np.einsum(eq, *arrays, optimize=optimize)
        if len(arrays) == 1 and isinstance(y, np.ndarray) and np.may_share_memory(y, arrays[0]):
            y = y.copy()  # 'ii->i' and 'ij->ji' are views in NumPy; an op's output owns its memory
        return y

    def backward(self, g):
        return tuple(_einsum_grad(k, self.subs, self.out, self.inputs, g) if need else None
                     for k, need in enumerate(self.needs_input_grad))


def _einsum_grad(k, subs, out, inputs, g):
    """dX_k: contract G (subscripts ``out``) with the other operands onto X_k's distinct letters; letters
    of X_k found nowhere else were summed away, so G is broadcast along them; letters repeated in X_k
    (a diagonal) are put back on the diagonal by multiplying with identity matrices."""
    sk, x = subs[k], inputs[k]
    uniq = "".join(dict.fromkeys(sk))
    terms, ops = [out], [g]
    for j, (s, t) in enumerate(zip(subs, inputs)):
        if j != k:
            terms.append(s)
            ops.append(t)
    seen = set("".join(terms))
    kept = "".join(c for c in uniq if c in seen)
    grad = _einsum(terms, kept, ops)
    if len(kept) < len(uniq):  # letters only X_k had were summed away: broadcast G back along them
        grad = reshape(grad, tuple(grad.shape[kept.index(c)] if c in seen else 1 for c in uniq))
    # a letter broadcast from size 1 to n: size n in X_k came back as 1 (broadcast it too), size 1 in X_k
    # came back as n (the engine sums it)
    want = np.broadcast_shapes(grad.shape, tuple(x.shape[sk.index(c)] for c in uniq))
    if want != grad.shape:
        grad = broadcast_to(grad, want)
    if len(uniq) == len(sk):
        return grad
    free = iter(c for c in string.ascii_letters if c not in set("".join(subs) + out))
    target, eye_terms, eyes, first = [], [], [], set()
    for pos, c in enumerate(sk):
        if c not in first:
            first.add(c)
            target.append(c)
        else:
            f = next(free)
            target.append(f)
            eye_terms.append(c + f)
            eyes.append(_const(np.eye(x.shape[pos], dtype=g.dtype)))
    return _einsum([uniq] + eye_terms, "".join(target), [grad] + eyes)


def _einsum(subs, out, operands):
    return Einsum.apply(*operands, subs=tuple(subs), out=out)


def _parse_einsum(equation, shapes):
    """(input subscripts, output subscript) with every '...' replaced by letters of its own, checked
    against the operands' shapes as PyTorch checks them."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    bad = set(eq) - set(string.ascii_letters + ".,->")
    if bad:
        raise ValueError(f"einsum: invalid characters {sorted(bad)} in equation {equation!r} "
                         "(subscripts are letters a-z, A-Z and '...')")
    lhs, arrow, rhs = eq.partition("->")
    specs = lhs.split(",")
    if len(specs) != len(shapes):
        raise ValueError(f"einsum: equation {equation!r} names {len(specs)} operands, got {len(shapes)} "
                         f"(shapes {[tuple(s) for s in shapes]})")
    ell_dims = _ellipsis_dims(specs, shapes)
    n_ell = max(ell_dims, default=0)
    free = [c for c in string.ascii_letters if c not in set(c for c in eq if c.isalpha())]
    if n_ell > len(free):
        raise ValueError(f"einsum: equation {equation!r} needs more than 52 distinct subscripts")
    ell = "".join(free[:n_ell])
    subs = []
    for spec, shape in zip(specs, shapes):
        k = len(shape) - len(spec.replace("...", ""))
        subs.append(spec.replace("...", ell[n_ell - k:] if k else "") if "..." in spec else spec)
    if arrow:
        out = _explicit_output(lhs, rhs, ell, subs)
    else:  # implicit: the ellipsis dims, then the letters seen once, in alphabetical order
        counts = {}
        for spec in specs:
            for c in spec.replace("...", ""):
                counts[c] = counts.get(c, 0) + 1
        out = (ell if ell_dims else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    _check_sizes(subs, shapes)
    return subs, out


def _ellipsis_dims(specs, shapes):
    """How many dimensions each operand's '...' stands for (operands without one are checked)."""
    ell_dims = []
    for i, (spec, shape) in enumerate(zip(specs, shapes)):
        letters = spec.replace("...", "")
        if "." in letters:
            raise ValueError(f"einsum: operand {i} subscripts {spec!r}: '.' must come as an ellipsis '...'")
        if "..." in spec:
            if len(shape) < len(letters):
                raise ValueError(f"einsum: operand {i} has {len(shape)} dimensions (shape {tuple(shape)}) but "
                                 f"subscripts {spec!r} name {len(letters)}")
            ell_dims.append(len(shape) - len(letters))
        elif len(letters) != len(shape):
            raise ValueError(f"einsum: the number of subscripts in {spec!r} ({len(letters)}) does not match the "
                             f"number of dimensions ({len(shape)}) of operand {i} (shape {tuple(shape)}) and no "
                             "ellipsis was given")
    return ell_dims


def _explicit_output(lhs, rhs, ell, subs):
    if "." in rhs.replace("...", ""):
        raise ValueError(f"einsum: output subscripts {rhs!r}: '.' must come as an ellipsis '...'")
    out = rhs.replace("...", ell)
    for c in out:
        if out.count(c) > 1:
            raise ValueError(f"einsum: output subscript {c} appears more than once in the output {rhs!r}")
        if c not in "".join(subs):
            raise ValueError(f"einsum: output subscript {c} does not appear in the inputs {lhs!r}")
    return out


def _check_sizes(subs, shapes):
    """A letter's sizes agree across operands (or broadcast from 1), and within one operand (a diagonal)."""
    sizes = {}
    for i, (s, shape) in enumerate(zip(subs, shapes)):
        for c, n in zip(s, shape):
            if shape[s.index(c)] != n:
                raise ValueError(f"einsum: subscript {c} is repeated in operand {i} (a diagonal) but its "
                                 f"dimensions differ (shape {tuple(shape)})")
            prev = sizes.setdefault(c, n)
            if n != prev and 1 not in (n, prev):
                raise ValueError(f"einsum: subscript {c} has size {n} for operand {i} which does not broadcast "
                                 f"with previously seen size {prev} (shapes {[tuple(s) for s in shapes]})")
            if prev == 1:
                sizes[c] = n


def einsum(equation, *operands):
    """Einstein summation: ``einsum('bij,bjk->bik', a, b)`` is a batched matmul.  Letters shared by
    operands are multiplied, letters missing from the output are summed; '...' stands for the leading
    (broadcast) dimensions; without '->' the output is the letters seen once, sorted.  A letter repeated
    in one operand takes its diagonal.  Differentiable in every operand, to any order."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum: expected at least one operand")
    first = next((o for o in operands if isinstance(o, Tensor)), None)
    tensors = [as_tensor(o, first) for o in operands]
    subs, out = _parse_einsum(equation, [t.shape for t in tensors])
    return _einsum(subs, out, tensors)


install(matmul=matmul, dot=dot, outer=outer, mm=mm, bmm=bmm, mv=mv, __matmul__=matmul,
        __rmatmul__=lambda self, other: matmul(as_tensor(other, self), self))

__all__ = ['matmul', 'dot', 'outer', 'mm', 'bmm', 'mv', 'einsum']
