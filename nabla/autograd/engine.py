"""Reverse-mode automatic differentiation: walk the graph from the outputs back to the leaves.

1. Order the nodes topologically with an explicit stack (no recursion: a chain of 100,000 ops is fine).
2. Visit them outputs-first.  Each node's Function turns the gradient of its output into gradients
   of its inputs (a vector-Jacobian product); gradients reaching the same tensor are summed.
3. Leaves that require grad accumulate into ``.grad``; the graph is freed unless ``retain_graph``.

With ``create_graph=True`` the backward formulas run with recording on, so the gradients are
themselves differentiable (gradients of gradients, Hessians); without it, a Function's
``backward_arrays`` (plain array code) runs where it has one (see function.py: the choice is made here,
in ``_backward_node``, and nowhere else).  Broadcast gradients are summed back
to the input's shape here, in one place, and cast to the input's dtype.
"""
from __future__ import annotations

import numpy as np

from .broadcast import sum_to, sum_to_array
from .grad_mode import _GradState
from .tensor import Tensor


def _seq(t):
    fn = t._fn
    return -1 if fn is None else fn.seq


def _topological_order(roots):
    """Tensors reachable from ``roots`` through recorded Functions, every tensor before its inputs.

    Each recorded Function carries a creation number, and an op's inputs are always created before
    it, so sorting by decreasing number orders consumers before producers, without recursion."""
    nodes, seen = [], set()
    stack = [r for r in roots if r.requires_grad]
    while stack:
        node = stack.pop()
        key = id(node)
        if key in seen:
            continue
        seen.add(key)
        nodes.append(node)
        fn = node._fn
        if fn is not None and not fn.freed:
            for inp in fn.inputs:
                if inp.requires_grad and id(inp) not in seen:
                    stack.append(inp)
    nodes.sort(key=_seq, reverse=True)
    return nodes


def _check_versions(node, fn) -> None:
    if fn.save_inputs:
        for inp, v in zip(fn.inputs, fn.input_versions):
            if inp._version != v:
                raise RuntimeError(
                    f"one of the tensors needed for gradient computation has been modified by an in-place "
                    f"operation: an input of {fn.name} of shape {inp.shape} is at version {inp._version}, "
                    f"expected version {v}. Use an out-of-place operation, or clone() before modifying.")
    if fn.save_output and node._version != fn.output_version:
        raise RuntimeError(
            f"the output of {fn.name} (shape {node.shape}) was modified in place after it was saved for "
            f"backward (version {node._version}, expected {fn.output_version}).")


def _fit_to_input(grad: Tensor, inp: Tensor, fn) -> Tensor:
    """Undo broadcasting (sum over broadcast axes) and match the input's dtype."""
    if grad.shape != inp.shape:
        try:
            if _GradState.enabled:
                grad = sum_to(grad, inp.shape)
            else:  # not recording: skip the op machinery on this hot path
                grad = Tensor._make(sum_to_array(grad.data, inp.shape), None)
        except ValueError:
            raise RuntimeError(f"{fn.name}.backward returned a gradient of shape {grad.shape} for an input "
                               f"of shape {inp.shape}") from None
    if grad.dtype != inp.dtype and inp.dtype.kind in "fc":
        grad = grad.to(inp.dtype)
    return grad


def _seed_gradient(root: Tensor, grad) -> Tensor:
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(f"backward(): grad can be implicitly created only for scalar outputs; this output "
                               f"has shape {root.shape}, so pass gradient= a tensor of that shape")
        return Tensor._make(np.ones(root.shape, dtype=root.dtype), None)
    grad = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=root.dtype)
    if grad.shape != root.shape:
        raise RuntimeError(f"backward(): gradient has shape {grad.shape} but the output has shape {root.shape}")
    return grad


def _check_roots(roots) -> None:
    for r in roots:
        if not r.requires_grad:
            raise RuntimeError(f"element 0 of tensors does not require grad and does not have a grad_fn: "
                               f"the output of shape {r.shape} was not computed from any tensor with "
                               f"requires_grad=True (or was computed under no_grad)")


def _run_hooks(node: Tensor, grad: Tensor) -> Tensor:
    for hook in node._hooks:
        new = hook(grad)
        if new is not None:
            grad = new if isinstance(new, Tensor) else Tensor(new)
    return grad


def _store_grad(node: Tensor, grad: Tensor, create_graph: bool, handed_out: set) -> None:
    """Accumulate into ``node.grad`` (a leaf, or a tensor that retains its gradient)."""
    if create_graph:
        node.grad = grad if node.grad is None else node.grad + grad
    elif node.grad is None:
        # .grad gets its own writable array: optimizers update it in place, and Add's backward hands one
        # array to both inputs; broadcast views are read-only
        d = grad.data
        if id(d) in handed_out or not d.flags.owndata or not d.flags.writeable:
            d = d.copy()
        handed_out.add(id(d))
        node.grad = Tensor._make(d, None)
    else:  # a fresh array: grad arrays may be shared between tensors
        node.grad = Tensor._make(node.grad.data + grad.data, None)


_FREED = ("trying to backward through the graph a second time (or to use tensors after their graph was freed): "
          "the saved values were released after the first backward. Pass retain_graph=True to the first "
          "backward() if you need to call it twice.")


def _backward_node(node: Tensor, fn, grad: Tensor, grads: dict, fast: bool, retain_graph: bool) -> None:
    """Run one Function's backward and add the input gradients into ``grads``.  The one place that picks
    between the two backwards: ``backward_arrays`` (plain arrays) when the backward is not recorded and
    the class has it, else ``backward`` (nabla ops, recorded under create_graph)."""
    if fn.freed:
        raise RuntimeError(_FREED)
    if fn.save_inputs or fn.save_output:
        _check_versions(node, fn)
    if not retain_graph:
        fn.last_backward = True
    input_grads = fn.backward_arrays(grad.data) if fast and fn.has_backward_arrays else fn.backward(grad)
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    for inp, needs, g in zip(fn.inputs, fn.needs_input_grad, input_grads):
        if g is None or not needs:
            continue
        if type(g) is not Tensor:
            g = g if isinstance(g, Tensor) else Tensor._make(np.asarray(g), None)
        gd, idata = g.data, inp.data
        if gd.shape != idata.shape or gd.dtype != idata.dtype:
            g = _fit_to_input(g, inp, fn)
        key = id(inp)
        if key in grads:
            grads[key] = grads[key] + g
        else:
            grads[key] = g
    if not retain_graph:
        fn.release()


def _captured_result(capture, captured, allow_unused):
    if not allow_unused:
        for i, (t, g) in enumerate(zip(capture, captured)):
            if g is None:
                raise RuntimeError(f"grad(): input {i} (shape {t.shape}) was not used to compute the outputs; "
                                   "pass allow_unused=True to get None for it")
    return tuple(captured)


def run_backward(roots, grad_roots, retain_graph=None, create_graph=False, capture=None,
                 accumulate_into=None, allow_unused=False):
    """Backpropagate from ``roots`` seeded with ``grad_roots``.

    capture: tensors whose gradients are returned instead of accumulated into ``.grad`` (autograd.grad).
    accumulate_into: if given, only these leaves get ``.grad`` (``backward(inputs=...)``).
    """
    if retain_graph is None:
        retain_graph = create_graph
    _check_roots(roots)
    grads: dict[int, Tensor] = {}
    handed_out = set()  # ids of arrays a new .grad must not alias: the seeds and the .grads already set
    for r, g in zip(roots, grad_roots):
        g = _seed_gradient(r, g)
        handed_out.add(id(g.data))
        grads[id(r)] = grads[id(r)] + g if id(r) in grads else g

    captured_ids = None if capture is None else {id(t): i for i, t in enumerate(capture)}
    captured = [None] * (0 if capture is None else len(capture))
    only = None if accumulate_into is None else {id(t) for t in (
        accumulate_into if isinstance(accumulate_into, (list, tuple)) else [accumulate_into])}

    order = _topological_order(roots)
    pop = grads.pop
    prev = _GradState.enabled
    _GradState.enabled = create_graph
    try:
        for node in order:
            grad = pop(id(node), None)
            if grad is None:
                continue
            if node._hooks:
                grad = _run_hooks(node, grad)
            fn = node._fn
            if captured_ids is not None:
                if id(node) in captured_ids:
                    captured[captured_ids[id(node)]] = grad
            elif (fn is None or node._retains_grad) and (only is None or id(node) in only):
                _store_grad(node, grad, create_graph, handed_out)
            if fn is not None:
                _backward_node(node, fn, grad, grads, not create_graph, retain_graph)
    finally:
        _GradState.enabled = prev
    return None if capture is None else _captured_result(capture, captured, allow_unused)
