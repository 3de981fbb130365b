"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adagrad", "AdaGrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011): coordinates with large past gradients take small steps.

    With ``g_t`` the gradient (negated if ``maximize``), all operations elementwise::

        g_t     <- g_t + weight_decay * theta_{t-1}
        lr_t    <- lr / (1 + (t - 1) * lr_decay)
        s_t     <- s_{t-1} + g_t^2                     (s_0 = initial_accumulator_value)
        theta_t <- theta_{t-1} - lr_t * g_t / (sqrt(s_t) + eps)

    The sum only grows, so the effective step of every coordinate shrinks over time: good for
    sparse features, too aggressive for long non-convex training (RMSprop and Adam forget instead).

    Args:
        lr (default 1e-2), lr_decay (0), weight_decay (0), initial_accumulator_value (0),
        eps (1e-10), maximize (False): as PyTorch's ``torch.optim.Adagrad``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False):
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, o: dict) -> None:
        super()._check_hyperparameters(o)
        self._check_nonnegative(o, "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def add_param_group(self, param_group: dict) -> None:
        # PyTorch creates Adagrad's state eagerly, so state_dict() lists every parameter from the start
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p, group: dict) -> dict:
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
        return state

    def _update_group(self, group: dict) -> None:
        lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
        eps, weight_decay = float(group["eps"]), float(group["weight_decay"])
        maximize = group["maximize"]
        for p in self._params_with_grad(group):
            state = self._init_state(p, group)
            state["step"] += 1
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            self._update_param(p, (state["sum"],), clr, eps, weight_decay, maximize)

    def _kernel(self, x, g, s, clr, eps, weight_decay, maximize):
        g = self._direction(x, g, weight_decay, maximize)
        t = self._tmp(x, 1)
        np.multiply(g, g, out=t)
        s += t
        np.sqrt(s, out=t)
        t += eps
        np.divide(g, t, out=t)
        t *= -clr
        x += t


AdaGrad = Adagrad  # the notes' spelling
