"""Gradient clipping (PyTorch's ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_``)."""
from __future__ import annotations

import math
import types
import warnings

import numpy as np

from ...autograd.tensor import Tensor, from_numpy

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors) -> list:
    if isinstance(tensors, Tensor):
        return [tensors]
    is_generator = isinstance(tensors, types.GeneratorType)
    tensors = list(tensors)
    if is_generator and not tensors:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    return tensors


def _vector_norm(a: np.ndarray, p: float):
    """||a||_p over all elements, in a's dtype (0-d array)."""
    a = a.ravel()
    if p == 2.0:
        if a.dtype.kind == "c":
            return np.sqrt(np.vdot(a, a).real)
        return np.sqrt(np.dot(a, a))  # no temporary the size of a
    x = np.abs(a)
    if p == math.inf:
        return x.max(initial=0)
    if p == -math.inf:
        return x.min() if x.size else np.asarray(math.inf, x.dtype)
    if p == 0.0:
        return np.asarray(np.count_nonzero(x), x.dtype)
    if p == 1.0:
        return x.sum()
    return (x ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    r"""The ``norm_type``-norm of all ``tensors`` taken together, as if concatenated into one vector.

    ``||(||t_1||_p, ..., ||t_k||_p)||_p = (sum_i sum_j |t_ij|^p)^(1/p)``; ``inf`` gives the largest
    absolute value.  Returns a 0-d Tensor (``tensor(0.)`` for no tensors).
    """
    tensors = [t.data if isinstance(t, Tensor) else np.asarray(t) for t in _as_list(tensors)]
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(np.asarray(0.0, dtype=np.float32))
    dtype = np.result_type(*tensors)
    if dtype.kind not in "fc":
        raise TypeError(f"get_total_norm: expected floating-point gradients, got dtype {dtype}")
    real = np.empty(0, dtype).real.dtype
    norms = np.array([_vector_norm(t, norm_type) for t in tensors], dtype=real)
    total = np.asarray(_vector_norm(norms, norm_type), dtype=real)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           "so it cannot be clipped. To disable this error and scale the gradients by the "
                           "non-finite norm anyway, set `error_if_nonfinite=False`")
    return from_numpy(total)


def _writable_grads(parameters) -> list:
    """The gradients to change in place, in a form where changing each one once is correct.

    A parameter's ``.grad`` array may be shared with another parameter's, be a view of another array,
    or be a read-only broadcast (the engine hands the same array to several leaves).  Shared arrays are
    visited once; views and read-only arrays (and arrays something else views) get a fresh array on
    ``.grad`` instead of being written through.  Returns (parameters, array, in_place) triples.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    view_bases = set()
    for g in grads:
        base = g.data.base
        while base is not None:
            view_bases.add(id(base))
            base = base.base
    groups: dict[int, list] = {}  # id(array) -> [array, tensors whose .grad holds it]
    for p in parameters:
        if p.grad is not None:
            groups.setdefault(id(p.grad.data), [p.grad.data]).append(p)
    out = []
    for arr, *params in groups.values():
        in_place = arr.flags.writeable and arr.base is None and id(arr) not in view_bases
        out.append((params, arr, in_place))
    return out


def clip_grads_with_norm_(parameters, max_norm: float, total_norm) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    items = _writable_grads(parameters)
    if not items:
        return
    total = total_norm.data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    dt = total.dtype if total.dtype.kind == "f" else np.dtype(np.float32)
    # float arithmetic in the norm's dtype, as PyTorch's tensor ops do
    coef = np.minimum(dt.type(float(max_norm)) / (total.astype(dt) + dt.type(1e-6)), dt.type(1.0))
    if coef == 1.0:
        return  # multiplying by exactly one changes nothing
    for params, arr, in_place in items:
        c = coef.astype(arr.dtype) if arr.dtype.kind == "f" else coef
        if in_place:
            np.multiply(arr, c, out=arr, casting="same_kind")
        else:
            arr = (arr * c).astype(arr.dtype, copy=False)
        _set_grads(params, arr, in_place)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    r"""Rescale the gradients so that their total norm is at most ``max_norm``; returns that norm.

    With ``N = ||(g_1, ..., g_k)||_p`` the norm of all gradients as one vector (before clipping)::

        g_i <- g_i * min(1, max_norm / (N + 1e-6))

    so the direction of the full gradient is kept and only its length is capped (used against
    exploding gradients in RNNs).  ``norm_type`` may be ``inf``.  With ``error_if_nonfinite`` a NaN or
    infinite norm raises RuntimeError; otherwise the gradients are scaled by it anyway, as PyTorch.

    Returns: the total norm of the original gradients, a 0-d Tensor.
    """
    parameters = _as_list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_` (as in PyTorch)."""
    warnings.warn("`nabla.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`nabla.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite)


def clip_grad_value_(parameters, clip_value: float) -> None:
    r"""Clamp every gradient element into ``[-clip_value, clip_value]`` in place: ``g <- clip(g, -c, c)``."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    c = float(clip_value)
    for params, arr, in_place in _writable_grads(parameters):
        if in_place:
            np.clip(arr, -c, c, out=arr)
        else:
            arr = np.clip(arr, -c, c).astype(arr.dtype, copy=False)
        _set_grads(params, arr, in_place)


def _set_grads(params, arr, in_place) -> None:
    if in_place:
        for g in {id(p.grad): p.grad for p in params}.values():
            g._version += 1
    else:
        for p in params:
            p.grad = from_numpy(arr)
