"""The functional API: gradients as return values instead of ``.grad`` side effects.

grad      d(outputs)/d(inputs) contracted with grad_outputs (reverse mode)
vjp       v^T J: one reverse sweep
jvp       J v: forward-mode product by the double-vjp trick -- u -> vjp(u) is linear in u, so its
          own vjp with cotangent v is J v
jacobian  one vjp per output element (rows of J)
hessian   the jacobian of the gradient
hvp       H v as the gradient of <grad f, v>
"""
from __future__ import annotations

import numpy as np

from .engine import run_backward
from .function import Function
from .grad_mode import enable_grad
from .tensor import Tensor


def _tuple(x):
    return (x,) if isinstance(x, Tensor) else tuple(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned as a tuple (``.grad`` untouched)."""
    outputs, inputs = _tuple(outputs), _tuple(inputs)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    else:
        grad_outputs = _tuple(grad_outputs) if not isinstance(grad_outputs, (list, tuple)) else tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad(): {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad(): input {i} (shape {t.shape}) does not require grad")
    return run_backward(outputs, grad_outputs, retain_graph=retain_graph, create_graph=create_graph,
                        capture=inputs, allow_unused=allow_unused)


def _prepare(inputs, create_graph):
    """Fresh leaves that require grad, so that the caller's tensors are not touched."""
    single = isinstance(inputs, Tensor)
    inputs = _tuple(inputs)
    prepared = tuple(t if (create_graph and t.requires_grad) else Tensor._make(t.data, None).requires_grad_()
                     for t in inputs)
    return single, prepared


def _zeros_for_unused(grads, inputs):
    return tuple(g if g is not None else Tensor._make(np.zeros_like(t.data), None) for g, t in zip(grads, inputs))


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J).  ``v`` may be omitted when func returns a scalar."""
    single, xs = _prepare(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
    outs = _tuple(out)
    vs = (None,) * len(outs) if v is None else _tuple(v)
    diff = [(o, g) for o, g in zip(outs, vs) if o.requires_grad]
    if diff:
        grads = run_backward(tuple(o for o, _ in diff), tuple(g for _, g in diff), retain_graph=create_graph,
                             create_graph=create_graph, capture=xs, allow_unused=True)
    else:
        grads = (None,) * len(xs)
    grads = _zeros_for_unused(grads, xs)
    out = out if create_graph else (out.detach() if isinstance(out, Tensor) else tuple(o.detach() for o in out))
    return out, (grads[0] if single else grads)


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v) by the double-vjp trick: g(u) = u^T J is linear in u; d<g(u), v>/du = J v."""
    single, xs = _prepare(inputs, True)
    vs = _tuple(v) if v is not None else tuple(Tensor._make(np.ones_like(t.data), None) for t in xs)
    with enable_grad():
        out = func(*xs)
        outs = _tuple(out)
        us = tuple(Tensor._make(np.zeros_like(o.data), None).requires_grad_() for o in outs)
        diff = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
        if not diff:
            jv = tuple(Tensor._make(np.zeros_like(o.data), None) for o in outs)
        else:
            gs = run_backward(tuple(o for o, _ in diff), tuple(u for _, u in diff), retain_graph=True,
                              create_graph=True, capture=xs, allow_unused=True)
            pairs = [(g, vv) for g, vv in zip(gs, vs) if g is not None and g.requires_grad]
            if not pairs:
                jv = tuple(Tensor._make(np.zeros_like(o.data), None) for o in outs)
            else:
                jv = run_backward(tuple(g for g, _ in pairs), tuple(vv for _, vv in pairs),
                                  retain_graph=create_graph, create_graph=create_graph, capture=us,
                                  allow_unused=True)
                jv = tuple(j if j is not None else Tensor._make(np.zeros_like(u.data), None)
                           for j, u in zip(jv, us))
    if not create_graph:
        jv = tuple(j.detach() for j in jv)
        out = out.detach() if isinstance(out, Tensor) else tuple(o.detach() for o in out)
    return out, (jv[0] if isinstance(out, Tensor) else jv)


class _Stack(Function):
    """y = stack(x_1, ..., x_n) along a new first axis;  dx_k = g[k].  The rows of a jacobian (ops' stack
    is a layer up: the engine's package does not import the ops)."""
    save_inputs = False

    def forward(self, *rows):
        return np.stack(rows)

    def backward(self, g):
        return tuple(g.unbind(0))


def jacobian(func, inputs, create_graph=False):
    """J[i..., j...] = d out[i...] / d in[j...], one reverse sweep per output element.

    One input and one output give a tensor of shape out.shape + in.shape; several inputs a tuple."""
    single, xs = _prepare(inputs, create_graph)
    with enable_grad():
        out = func(*xs)
    if not isinstance(out, Tensor):
        raise TypeError("jacobian(): func must return a single tensor")
    rows = [[] for _ in xs]
    flat_n = out.data.size
    for k in range(flat_n):
        e = np.zeros(out.shape, dtype=out.dtype)
        e.flat[k] = 1
        if out.requires_grad:
            gs = run_backward((out,), (Tensor._make(e, None),), retain_graph=True, create_graph=create_graph,
                              capture=xs, allow_unused=True)
        else:
            gs = (None,) * len(xs)
        for i, (g, x) in enumerate(zip(_zeros_for_unused(gs, xs), xs)):
            rows[i].append(g)
    jac = tuple(_Stack.apply(*r).reshape(out.shape + x.shape) for r, x in zip(rows, xs))
    if not create_graph:
        jac = tuple(j.detach() for j in jac)
    return jac[0] if single else jac


def hessian(func, inputs, create_graph=False):
    """The matrix of second derivatives of a scalar function: the jacobian of its gradient.

    One input gives a tensor of shape x.shape + x.shape; several give H[i][j] = d2f / dx_i dx_j."""
    single, xs = _prepare(inputs, True)

    def gradients(*args):
        with enable_grad():
            y = func(*args)
            if y.data.size != 1:
                raise RuntimeError(f"hessian(): func must return a scalar, got shape {y.shape}")
            return _zeros_for_unused(grad(y, args, create_graph=True, allow_unused=True), args)

    if single:
        return jacobian(lambda x: gradients(x)[0], xs[0], create_graph=create_graph)
    return tuple(jacobian(lambda *a, i=i: gradients(*a)[i], xs, create_graph=create_graph)
                 for i in range(len(xs)))


def hvp(func, inputs, v, create_graph=False):
    """(func(x), H v) for scalar func: the gradient of <grad func(x), v>."""
    single, xs = _prepare(inputs, True)
    vs = _tuple(v)
    with enable_grad():
        y = func(*xs)
        gs = _zeros_for_unused(grad(y, xs, create_graph=True, allow_unused=True), xs)
        inner = None
        for g, vv in zip(gs, vs):
            term = (g * vv).sum()
            inner = term if inner is None else inner + term
        hv = _zeros_for_unused(grad(inner, xs, create_graph=create_graph, allow_unused=True), xs) \
            if inner.requires_grad else tuple(Tensor._make(np.zeros_like(x.data), None) for x in xs)
    if not create_graph:
        hv = tuple(h.detach() for h in hv)
        y = y.detach()
    return y, (hv[0] if single else hv)
