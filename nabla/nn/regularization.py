"""Regularisation the notes' way: add a penalty on the weights to the objective,

    objective = loss + lambda * penalty(params)

    l1_penalty(params) = sum_i |w_i|       gradient sign(w) (0 at 0): pushes weights to exactly 0
    l2_penalty(params) = sum_i w_i^2       gradient 2 w: shrinks weights in proportion to their size

The L2 penalty has NO factor 1/2: lambda * l2_penalty contributes 2 lambda w to the gradient, so it
matches an optimiser's ``weight_decay=wd`` (which adds wd * w, "coupled" L2) when lambda = wd / 2.
AdamW's decoupled decay is different: it shrinks w outside the adaptive step.

Example::

    loss = criterion(model(x), y) + 1e-4 * nn.l2_penalty(model.parameters())
"""
from __future__ import annotations

from ..autograd.tensor import Tensor
from .module import Module


def _params(params):
    if isinstance(params, Module):
        return list(params.parameters())
    if isinstance(params, Tensor):
        return [params]
    return list(params)


def l1_penalty(params) -> Tensor:
    """sum over all given tensors of sum |w| (a Module, a tensor, or an iterable of tensors)."""
    ps = _params(params)
    if not ps:
        raise ValueError("l1_penalty: got no parameters")
    total = ps[0].abs().sum()
    for p in ps[1:]:
        total = total + p.abs().sum()
    return total


def l2_penalty(params) -> Tensor:
    """sum over all given tensors of sum w^2 (no 1/2 factor; gradient 2 w)."""
    ps = _params(params)
    if not ps:
        raise ValueError("l2_penalty: got no parameters")
    total = (ps[0] * ps[0]).sum()
    for p in ps[1:]:
        total = total + (p * p).sum()
    return total
