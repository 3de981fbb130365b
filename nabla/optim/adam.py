"""Adam and AdamW: momentum on the gradient, RMSprop on its scale, both bias-corrected."""
from __future__ import annotations

import math

import numpy as np

from .optimizer import Optimizer

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), with coupled L2 weight decay; AMSGrad optional.

    With ``g_t`` the gradient (negated if ``maximize``), all operations elementwise::

        g_t     <- g_t + weight_decay * theta_{t-1}              (coupled: the penalty's gradient)
        m_t     <- beta1 * m_{t-1} + (1 - beta1) * g_t           (exp_avg)
        v_t     <- beta2 * v_{t-1} + (1 - beta2) * g_t^2         (exp_avg_sq)
        amsgrad:   v_t^max <- max(v_{t-1}^max, v_t), used in place of v_t below
        m^_t    =  m_t / (1 - beta1^t),     v^_t = v_t / (1 - beta2^t)   (bias corrections)
        theta_t <- theta_{t-1} - lr * m^_t / (sqrt(v^_t) + eps)

    With ``decoupled_weight_decay=True`` the decay is not added to the gradient but applied to the
    weights directly, ``theta <- theta * (1 - lr * weight_decay)``, which is :class:`AdamW`.

    The step is computed as ``theta -= (lr * sqrt(1 - beta2^t) / (1 - beta1^t)) * m_t /
    (sqrt(v_t) + eps * sqrt(1 - beta2^t))`` -- the same quantity with the corrections folded into two
    scalars, which saves passes over memory.

    Args:
        lr (default 1e-3), betas ((0.9, 0.999)), eps (1e-8), weight_decay (0), amsgrad (False),
        maximize (False), decoupled_weight_decay (False): as PyTorch's ``torch.optim.Adam``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=_betas(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, o: dict) -> None:
        super()._check_hyperparameters(o)
        self._check_nonnegative(o, "eps")
        betas = o["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"Invalid betas: expected a pair (beta1, beta2), got {betas!r}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        self._check_nonnegative(o, "weight_decay")

    def add_param_group(self, param_group: dict) -> None:
        if isinstance(param_group, dict) and "betas" in param_group:
            param_group = dict(param_group, betas=_betas(param_group["betas"]))
        super().add_param_group(param_group)

    def _fix_loaded_group(self, group: dict) -> None:
        group["betas"] = _betas(group["betas"])

    def _update_group(self, group: dict) -> None:
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad, maximize = group["amsgrad"], group["maximize"]
        decay = 1.0 - lr * weight_decay if group["decoupled_weight_decay"] else 1.0
        coupled = 0.0 if group["decoupled_weight_decay"] else weight_decay
        for p in self._params_with_grad(group):
            x = p.data
            state = self.state[p]
            if not state:
                state["step"] = 0.0
                state["exp_avg"] = np.zeros_like(x)
                state["exp_avg_sq"] = np.zeros_like(x)
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(x)
            state["step"] += 1
            step = state["step"]
            bias_correction1 = 1 - beta1 ** step
            bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
            self._update_param(p, (state["exp_avg"], state["exp_avg_sq"],
                                   state.get("max_exp_avg_sq") if amsgrad else None),
                               decay, coupled, maximize, beta1, beta2, eps * bias_correction2_sqrt,
                               -lr * bias_correction2_sqrt / bias_correction1)

    def _kernel(self, x, g, m, v, vmax, decay, weight_decay, maximize, beta1, beta2, eps_c, step_size):
        if decay != 1.0:  # decoupled weight decay (AdamW) acts on the weights first
            x *= decay
        g = self._direction(x, g, weight_decay, maximize)
        t = self._tmp(x, 1)
        np.subtract(g, m, out=t)  # m lerps toward g: m + (1 - beta1) * (g - m), as PyTorch
        t *= 1.0 - beta1
        m += t
        v *= beta2
        np.multiply(g, g, out=t)
        t *= 1.0 - beta2
        v += t
        if vmax is not None:
            np.maximum(vmax, v, out=vmax)
            v = vmax
        np.sqrt(v, out=t)
        t += eps_c
        np.divide(m, t, out=t)
        t *= step_size
        x += t


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with *decoupled* weight decay.

    The update is Adam's on the plain gradient, preceded by a decay of the weights themselves::

        theta_{t-1} <- theta_{t-1} * (1 - lr * weight_decay)
        m_t, v_t, bias corrections as in Adam (g_t is the loss gradient only)
        theta_t     <- theta_{t-1} - lr * m^_t / (sqrt(v^_t) + eps)

    With coupled L2 (Adam's ``weight_decay``) the penalty's gradient is divided by sqrt(v^), so
    weights with large gradients are barely regularised; decoupling decays every weight at the
    same rate.  Default ``weight_decay=1e-2``, as PyTorch.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def _fix_loaded_group(self, group: dict) -> None:
        super()._fix_loaded_group(group)
        group["decoupled_weight_decay"] = True


def _betas(betas):
    if isinstance(betas, (tuple, list)) and len(betas) == 2:
        return tuple(float(b) if not isinstance(b, (float, int)) else b for b in betas)
    return betas
