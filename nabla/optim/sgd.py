"""SGD: (stochastic, mini-batch or full-batch) gradient descent, optionally with momentum or Nesterov."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""Gradient descent, optionally with (Nesterov) momentum, weight decay and maximisation.

    With ``g_t`` the gradient of the objective at :math:`\theta_{t-1}` (negated if ``maximize``)::

        g_t <- g_t + weight_decay * theta_{t-1}                    (coupled L2 penalty)
        b_t <- g_t                                   if t == 1     (momentum buffer)
        b_t <- momentum * b_{t-1} + (1 - dampening) * g_t   else
        d_t <- g_t + momentum * b_t   if nesterov,   b_t if momentum, g_t otherwise
        theta_t <- theta_{t-1} - lr * d_t

    **Batch, stochastic and mini-batch gradient descent are this same update**; they differ only in
    the data the gradient is computed on.  With a loss that averages over the examples of a batch,
    ``g_t`` is the gradient of the mean loss over the batch:

    * batch (full) gradient descent: the batch is the whole training set, so ``g_t`` is the exact
      gradient of the empirical risk and one step is one epoch;
    * stochastic gradient descent: batch size 1, a noisy but unbiased estimate, n steps per epoch;
    * mini-batch gradient descent: batch size B in between, an unbiased estimate whose variance
      falls like 1/B, n/B steps per epoch.

    So choose among them with the DataLoader's ``batch_size``, not with a different optimizer.

    Args:
        params: tensors or param-group dicts.
        lr: learning rate (default 1e-3, as PyTorch).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty coefficient, added to the gradient (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening = 0).
        maximize: ascend the objective instead of descending it.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, o: dict) -> None:
        super()._check_hyperparameters(o)
        if o["momentum"] < 0.0:
            raise ValueError(f"Invalid momentum value: {o['momentum']}")
        if o["weight_decay"] < 0.0:
            raise ValueError(f"Invalid weight_decay value: {o['weight_decay']}")
        if o["nesterov"] and (o["momentum"] <= 0 or o["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update_group(self, group: dict) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = float(group["weight_decay"])
        nesterov, maximize = group["nesterov"], group["maximize"]
        for p in self._params_with_grad(group):
            buf, first = None, False
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = np.zeros_like(p.data)
                    first = True
            self._update_param(p, (buf,), lr, momentum, dampening, weight_decay, nesterov, maximize, first)

    def _kernel(self, x, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
        d = self._direction(x, g, weight_decay, maximize)
        if buf is not None:
            if first:  # the buffer starts as the gradient itself, undampened (PyTorch's rule)
                np.copyto(buf, d)
            else:
                buf *= momentum
                if dampening != 0:
                    t = self._tmp(x, 1)
                    np.multiply(d, 1.0 - dampening, out=t)
                    buf += t
                else:
                    buf += d
            if nesterov:
                t = self._tmp(x, 1)
                np.multiply(buf, momentum, out=t)
                t += d
                d = t
            else:
                d = buf
        t = self._tmp(x, 1)
        np.multiply(d, -lr, out=t)
        x += t
