"""Numerical gradients (finite differences) and gradcheck: the notes' second way to a gradient.

forward difference   df/dx_i ~ (f(x + h e_i) - f(x)) / h            error O(h)
central difference   df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h   error O(h^2)

gradcheck compares autodiff with central differences in float64.  The function's output is
contracted with a random cotangent u (a plain .sum() would hide errors that cancel across outputs,
e.g. in softmax, whose rows sum to 1), then:
  * every element of small inputs is checked, and the worst one is reported on failure;
  * the directional derivative along random directions v is checked for inputs of any size.
"""
from __future__ import annotations

import itertools

import numpy as np

from .grad_mode import enable_grad, no_grad
from .tensor import Tensor


def _as_tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def _scalar_value(f, arrays, tensors, cotangents):
    """<u, f(x)> evaluated with the arrays substituted into the tensors' data (no graph)."""
    saved = [t.data for t in tensors]
    try:
        for t, a in zip(tensors, arrays):
            t.data = a
        with no_grad():
            outs = _as_tuple(f(*tensors))
        total = 0.0
        for o, u in zip(outs, cotangents):
            total += float(np.sum(o.data.astype(np.float64) * (1.0 if u is None else u)))
        return total
    finally:
        for t, a in zip(tensors, saved):
            t.data = a


def numerical_grad(f, inputs, eps: float = 1e-6, method: str = "central", grad_outputs=None):
    """d f / d inputs by finite differences, one element at a time (O(numel) evaluations of f).

    f must return a scalar, unless ``grad_outputs`` gives the cotangent to contract its output with.
    Returns a tuple of arrays, one per input (or a single array for a single tensor input)."""
    if method not in ("central", "forward"):
        raise ValueError(f"numerical_grad: method must be 'central' or 'forward', got {method!r}")
    single = isinstance(inputs, Tensor)
    tensors = _as_tuple(inputs)
    if isinstance(grad_outputs, np.ndarray):  # one array is one cotangent, not a sequence of rows
        grad_outputs = (grad_outputs,)
    cot = None if grad_outputs is None else tuple(g.data if isinstance(g, Tensor) else np.asarray(g)
                                                  for g in _as_tuple(grad_outputs))
    if cot is None:
        with no_grad():
            out = _as_tuple(f(*tensors))
        if len(out) != 1 or out[0].data.size != 1:
            raise ValueError(f"numerical_grad: f returned shape {[o.shape for o in out]}; pass grad_outputs "
                             "for non-scalar outputs")
        cot = (None,)
    arrays = [t.data.copy() for t in tensors]
    base = _scalar_value(f, arrays, tensors, cot) if method == "forward" else None
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros(a.shape, dtype=np.float64)
        flat = a.reshape(-1)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = _scalar_value(f, arrays, tensors, cot)
            if method == "central":
                flat[k] = orig - eps
                minus = _scalar_value(f, arrays, tensors, cot)
                g.flat[k] = (plus - minus) / (2 * eps)
            else:
                g.flat[k] = (plus - base) / eps
            flat[k] = orig
        grads.append(g)
    return grads[0] if single else tuple(grads)


class GradcheckError(AssertionError):
    pass


def _elementwise_error(phi, base, i, ad_i, eps, atol, rtol):
    """Central differences for every element of input i: None where they agree with autodiff, else the
    message naming the worst element."""
    num = np.zeros(base[i].shape)
    arrays = [b.copy() for b in base]
    flat = arrays[i].reshape(-1)
    for k in range(flat.size):
        o = flat[k]
        flat[k] = o + eps
        p = phi(arrays)
        flat[k] = o - eps
        m = phi(arrays)
        flat[k] = o
        num.flat[k] = (p - m) / (2 * eps)
    err = np.abs(num - ad_i) - (atol + rtol * np.abs(num))
    if not err.size or err.max() <= 0:
        return None
    k = int(np.argmax(err))
    pos = np.unravel_index(k, num.shape) if num.ndim else ()
    return (f"gradcheck failed for input {i} (shape {base[i].shape}) at element {tuple(int(p) for p in pos)}: "
            f"numerical {num.flat[k]:.8g}, autodiff {ad_i.flat[k]:.8g}, "
            f"max abs difference {np.abs(num - ad_i).max():.3g}")


def _directional_error(phi, base, idx, ad, rng, eps, atol, rtol):
    """One random directional derivative of all inputs at once against autodiff: None or the message."""
    dirs = [rng.standard_normal(base[i].shape) for i in idx]
    plus = [b.copy() for b in base]
    minus = [b.copy() for b in base]
    for i, v in zip(idx, dirs):
        plus[i] = base[i] + eps * v
        minus[i] = base[i] - eps * v
    num = (phi(plus) - phi(minus)) / (2 * eps)
    ana = sum(float(np.sum(a * v)) for a, v in zip(ad, dirs))
    if abs(num - ana) > atol + rtol * abs(num):
        return f"gradcheck failed along a random direction: numerical {num:.8g}, autodiff {ana:.8g}"
    return None


def gradcheck(f, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, n_directions: int = 3,
              max_elementwise: int = 400, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check autodiff against central differences (inputs should be float64 and require grad): every
    element of inputs up to max_elementwise elements, then n_directions random directions for all."""
    rng = np.random.default_rng(seed)
    tensors = _as_tuple(inputs)
    diff = [t for t in tensors if t.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    for t in diff:
        if t.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs should be float64 for reliable differences, got {t.dtype}")
    with no_grad():
        outs = _as_tuple(f(*tensors))
    cot = tuple(rng.standard_normal(o.shape) for o in outs)
    ad = [np.zeros(t.shape) if g is None else g.data.astype(np.float64)
          for g, t in zip(_grads_subset(f, tensors, diff, cot), diff)]

    def phi(arrays):
        return _scalar_value(f, arrays, tensors, cot)

    base = [t.data.copy() for t in tensors]
    idx = [i for i, t in enumerate(tensors) if t.requires_grad]
    messages = (_elementwise_error(phi, base, i, ad[j], eps, atol, rtol)
                for j, i in enumerate(idx) if base[i].size <= max_elementwise)
    directions = (_directional_error(phi, base, idx, ad, rng, eps, atol, rtol) for _ in range(n_directions))
    for msg in itertools.chain(messages, directions):  # lazily: stop at the first failure
        if msg is not None:
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def _grads_subset(f, tensors, diff, cot):
    from .functional import grad
    outs = _as_tuple(f(*tensors))
    pairs = [(o, Tensor(u.astype(o.dtype))) for o, u in zip(outs, cot) if o.requires_grad]
    if not pairs:
        return tuple(None for _ in diff)
    return grad([o for o, _ in pairs], diff, grad_outputs=[u for _, u in pairs], allow_unused=True)


def gradgradcheck(f, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3, seed: int = 0,
                  **kwargs) -> bool:
    """Check second derivatives: gradcheck of x -> grad(<u, f(x)>, x, create_graph=True) for a fixed random u."""
    from .functional import grad
    rng = np.random.default_rng(seed + 1)
    tensors = _as_tuple(inputs)
    diff_idx = [i for i, t in enumerate(tensors) if t.requires_grad]
    with no_grad():
        outs = _as_tuple(f(*tensors))
    cot = tuple(Tensor(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs)

    @enable_grad()
    def first_grads(*xs):
        ys = _as_tuple(f(*xs))
        pairs = [(y, u) for y, u in zip(ys, cot) if y.requires_grad]
        diff = [xs[i] for i in diff_idx]
        if not pairs:
            return tuple(Tensor(np.zeros(x.shape)) for x in diff)
        gs = grad([y for y, _ in pairs], diff, grad_outputs=[u for _, u in pairs], create_graph=True,
                  allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(x.shape)) for g, x in zip(gs, diff))

    return gradcheck(first_grads, tensors, eps=eps, atol=atol, rtol=rtol, seed=seed, **kwargs)
