"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""
from __future__ import annotations

import numpy as np

from .optimizer import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012): Adagrad with an exponential moving average instead of a sum.

    With ``g_t`` the gradient (negated if ``maximize``), all operations elementwise::

        g_t     <- g_t + weight_decay * theta_{t-1}
        v_t     <- alpha * v_{t-1} + (1 - alpha) * g_t^2               (square_avg)
        a_t     <- sqrt(v_t) + eps
        centered:  m_t <- alpha * m_{t-1} + (1 - alpha) * g_t          (grad_avg)
                   a_t <- sqrt(v_t - m_t^2) + eps                      (a variance estimate)
        momentum > 0:  b_t <- momentum * b_{t-1} + g_t / a_t,   theta_t <- theta_{t-1} - lr * b_t
        otherwise:                                             theta_t <- theta_{t-1} - lr * g_t / a_t

    Args:
        lr (default 1e-2), alpha (0.99), eps (1e-8), weight_decay (0), momentum (0),
        centered (False), maximize (False): as PyTorch's ``torch.optim.RMSprop``.
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, o: dict) -> None:
        super()._check_hyperparameters(o)
        self._check_nonnegative(o, "eps", "momentum", "weight_decay", "alpha")

    def _update_group(self, group: dict) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        centered, maximize = group["centered"], group["maximize"]
        for p in self._params_with_grad(group):
            x = p.data
            state = self.state[p]
            if not state:
                state["step"] = 0.0
                state["square_avg"] = np.zeros_like(x)
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = np.zeros_like(x)
            if centered and "grad_avg" not in state:
                state["grad_avg"] = np.zeros_like(x)
            state["step"] += 1
            self._update_param(p, (state["square_avg"], state.get("grad_avg"), state.get("momentum_buffer")),
                               lr, alpha, eps, weight_decay, momentum, centered, maximize)

    def _kernel(self, x, g, v, m, b, lr, alpha, eps, weight_decay, momentum, centered, maximize):
        g = self._direction(x, g, weight_decay, maximize)
        t = self._tmp(x, 1)
        v *= alpha
        np.multiply(g, g, out=t)
        t *= 1.0 - alpha
        v += t
        if centered:
            np.subtract(g, m, out=t)  # lerp toward g, as PyTorch: m + (1 - alpha) * (g - m)
            t *= 1.0 - alpha
            m += t
            np.multiply(m, m, out=t)
            np.subtract(v, t, out=t)
            np.sqrt(t, out=t)
        else:
            np.sqrt(v, out=t)
        t += eps
        np.divide(g, t, out=t)
        if momentum > 0:
            b *= momentum
            b += t
            np.multiply(b, -lr, out=t)
        else:
            t *= -lr
        x += t
