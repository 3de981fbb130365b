"""Loss functions (PyTorch's ``nn.functional`` losses), each with ``reduction`` 'mean' | 'sum' | 'none'.

Classification losses are fused Functions for speed and stability:
    cross_entropy (class indices)  log-softmax + NLL in one node, through log-sum-exp, so logits of
                                   1e4 stay finite; its gradient is softmax - one-hot, scaled
    nll_loss                       picks -w[t] * logp[t]
    binary_cross_entropy           logs clamped to >= -100 like PyTorch
    binary_cross_entropy_with_logits  through softplus, stable for logits of any magnitude
Regression losses (mse, l1, smooth_l1, huber), kl_div and the soft Dice loss (dice_loss, a
segmentation loss PyTorch lacks) are compositions of nabla ops.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ._util import as_tensor, _const, exp_sums_unusable, max_shifted_exp
from .shape import reshape

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, op, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{op}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(op, input, target):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} and target of shape {tuple(target.shape)} "
                         "differ; they must have the same shape (broadcasting a target is usually a bug)")


def _input_and_target(op, input, target):
    """``(x, y)``: input and target as tensors (target in input's dtype) of the same shape, for a pointwise loss."""
    x = as_tensor(input)
    y = as_tensor(target, x)
    _same_shape(op, x, y)
    return x, y


def _weighted(loss: Tensor, weight, like: Tensor) -> Tensor:
    """``loss * weight`` (weight in like's dtype), or loss itself without a weight."""
    return loss if weight is None else loss * as_tensor(weight, like)


def _int_target(op, target):
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected class indices of an integer dtype (int64), got dtype {t.dtype}")
    return t


def _class_targets(op, x_shape, t, weight, ignore_index):
    """For logits/log-probs of shape (N, C, d...) and targets (N, d...): validity mask, safe indices, and
    per-element weights w[t] (0 where ignored), after checking shapes and ranges."""
    n_classes = x_shape[1]
    expected = (x_shape[0],) + tuple(x_shape[2:])
    if tuple(t.shape) != expected:
        raise ValueError(f"{op}: expected target of shape {expected} for input of shape {tuple(x_shape)}, "
                         f"got {tuple(t.shape)}")
    valid = t != ignore_index
    safe = np.where(valid, t, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= n_classes):
        bad = safe[(safe < 0) | (safe >= n_classes)].flat[0]
        raise IndexError(f"{op}: target class index {int(bad)} is out of range for {n_classes} classes (expected "
                         f"values in [0, {n_classes - 1}] or ignore_index={ignore_index}); input shape "
                         f"{tuple(x_shape)}")
    if weight is None:
        wt = valid
    else:
        wt = weight[safe] * valid
    return valid, safe, wt


def _check_weight(op, weight, n_classes):
    if weight is None:
        return None
    w = weight.data if isinstance(weight, Tensor) else np.asarray(weight)
    if w.shape != (n_classes,):
        raise ValueError(f"{op}: weight of shape {w.shape} should have one entry per class, i.e. shape ({n_classes},)")
    return w


def _reduce_by_class_weight(fn, loss: np.ndarray, wt: np.ndarray) -> np.ndarray:
    """``fn.reduction`` of the per-sample losses: 'mean' divides the sum by sum_i w[t_i] (kept as
    ``fn.denom`` for the backward), not by the number of samples."""
    if fn.reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    if fn.reduction == "mean":
        fn.denom = wt.sum(dtype=loss.dtype)
        return total / fn.denom
    return total


def _scale_for(g, reduction, denom, ndim):
    """The per-element factor dL/dloss_i: g / denom for 'mean', g for 'sum', g[:, None, ...] for 'none'
    (g a Tensor, or an array in a backward_arrays)."""
    if reduction == "none":
        return g.reshape(g.shape[:1] + (1,) + g.shape[1:]) if ndim > 1 else g
    return g / denom if reduction == "mean" else g


_BLOCK = 1 << 16    # elements of logits handled at once by _shifted_exp (256 KiB in float32: stays in cache)


def _shifted_exp(z):
    """(e, shift, sumexp) for logits z (..., C): e = exp(z - shift) a new array, with a per-row shift
    (keepdims) that keeps it finite, and sumexp its sums over the last axis (keepdims).

    The usual shift is each row's max.  For a C-contiguous float z it is first taken as 0: logits are
    almost always within exp's range, and skipping the max and the subtraction saves two of four passes
    over the logits (a 2048 x 1000 float32 batch is 8 MB); rows whose sum is unusable (see
    ``exp_sums_unusable``) are redone with the max shift.  The rows are taken
    a block at a time, so the exponential and the sum read a block that is still in cache."""
    c = z.shape[-1]
    e = np.empty(z.shape, dtype=z.dtype)
    shift = np.zeros(z.shape[:-1] + (1,), dtype=z.dtype)
    sumexp = np.empty(z.shape[:-1] + (1,), dtype=z.dtype)
    if not (z.flags.c_contiguous and z.dtype.kind == "f" and z.size and c > 1):
        np.max(z, axis=-1, keepdims=True, out=shift)
        np.subtract(z, shift, out=e)
        np.exp(e, out=e)
        np.sum(e, axis=-1, keepdims=True, out=sumexp)
        return e, shift, sumexp
    z2, e2, s2 = z.reshape(-1, c), e.reshape(-1, c), sumexp.reshape(-1)
    ones = np.ones(c, dtype=z.dtype)
    rows = max(1, _BLOCK // c)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        for lo in range(0, z2.shape[0], rows):
            eb = e2[lo:lo + rows]
            np.exp(z2[lo:lo + rows], out=eb)
            np.matmul(eb, ones, out=s2[lo:lo + rows])   # row sums by BLAS (NumPy's last-axis sum is slower)
    redo = np.flatnonzero(exp_sums_unusable(s2))
    if redo.size:
        er, m, sr = max_shifted_exp(z2[redo])
        e2[redo], s2[redo], shift.reshape(-1, 1)[redo] = er, sr[:, 0], m
    return e, shift, sumexp


class CrossEntropy(Function):
    """Softmax cross-entropy with class-index targets, fused.  Over the class axis 1, with q the
    (smoothed, weighted) target distribution of each element i:
        loss_i = -sum_c q_ic log softmax(x)_ic = S_i lse(x_i) - sum_c q_ic x_ic,   S_i = sum_c q_ic
        q_ic = (1 - eps) w[t_i] [c == t_i] + eps / C * w_c   (0 for ignored targets)
        dloss_i/dx_ic = S_i softmax(x)_ic - q_ic
    'mean' divides by sum_i w[t_i] over non-ignored targets (PyTorch's weighted mean)."""

    def __init__(self, target, weight, ignore_index, reduction, label_smoothing):
        self.target, self.weight, self.ignore_index = target, weight, ignore_index
        self.reduction, self.eps = reduction, label_smoothing

    def forward(self, x):
        c = x.shape[1]
        valid, safe, wt = _class_targets("cross_entropy", x.shape, self.target, self.weight, self.ignore_index)
        z = x if x.ndim == 2 else np.moveaxis(x, 1, -1)  # classes last: (N, d..., C)
        e, shift, sumexp = _shifted_exp(z)
        picked = np.take_along_axis(z, safe[..., None], axis=-1)[..., 0] - shift[..., 0]
        # the softmax is e / sumexp; it is never formed here: backward folds 1 / sumexp into its factor
        self.exp, self.sumexp = e, sumexp
        logz = np.log(sumexp)[..., 0]
        wt = wt.astype(x.dtype, copy=False)
        loss = wt * (logz - picked)  # -w[t] log softmax(x)[t]
        if self.eps > 0.0:
            logp = z - (shift + logz[..., None])
            w = np.ones(c, dtype=x.dtype) if self.weight is None else self.weight.astype(x.dtype)
            smooth = -(logp @ w) * valid
            loss = (1.0 - self.eps) * loss + (self.eps / c) * smooth
        self.wt, self.valid, self.safe = wt, valid, safe
        return _reduce_by_class_weight(self, loss, wt)

    def _probs(self):
        """softmax(x) (classes last), a new array."""
        return self.exp / self.sumexp

    def _q_and_rowsum(self, dtype, c):
        """The target distribution q (classes last) and its row sums S, as arrays."""
        q = np.zeros(self.exp.shape, dtype=dtype)
        hard = self.wt * (1.0 - self.eps)
        np.put_along_axis(q, self.safe[..., None], hard[..., None], axis=-1)
        rowsum = hard.astype(dtype, copy=True)
        if self.eps > 0.0:
            w = np.ones(c, dtype=dtype) if self.weight is None else self.weight.astype(dtype)
            soft = (self.eps / c) * self.valid[..., None] * w
            q += soft
            rowsum += soft.sum(axis=-1)
        return q, rowsum

    def backward_arrays(self, gd):
        (x,) = self.inputs
        denom = getattr(self, "denom", None)
        if self.eps > 0.0:  # label smoothing: the general formula, on the saved exponentials
            q, rowsum = self._targets_by_class(x)
            probs = self._probs()
            probs = probs if x.ndim == 2 else np.moveaxis(probs, -1, 1)
            return _scale_for(gd, self.reduction, denom, x.ndim) * (probs * rowsum - q)
        # G_i = c_i (softmax_i - onehot_i), c_i = w[t_i] dL/dloss_i
        scale = gd if self.reduction != "mean" else gd / denom
        coef = np.asarray(self.wt * scale, dtype=x.dtype)[..., None]
        # softmax * coef = exp * (coef / sumexp); the saved exponentials become the gradient in place
        # when this is the graph's last backward
        e = self.exp
        grad = np.multiply(e, (coef / self.sumexp).astype(x.dtype, copy=False), out=e if self.last_backward else None)
        idx = self.safe[..., None]
        np.put_along_axis(grad, idx, np.take_along_axis(grad, idx, axis=-1) - coef, axis=-1)
        return grad if x.ndim == 2 else np.moveaxis(grad, -1, 1)

    def _targets_by_class(self, x):
        """q and its row sums as (N, C, d...) and (N, 1, d...) arrays."""
        q, rowsum = self._q_and_rowsum(x.dtype, x.shape[1])
        return (q if x.ndim == 2 else np.moveaxis(q, -1, 1)), rowsum[:, None]

    def backward(self, g):
        """Recorded (create_graph): softmax as a function of x, for grad of grad."""
        from .reduce import logsumexp
        from .elementwise import exp
        (x,) = self.inputs
        q, rowsum = self._targets_by_class(x)
        probs = exp(x - logsumexp(x, dim=1, keepdim=True))
        return _scale_for(g, self.reduction, getattr(self, "denom", None), x.ndim) * (probs * _const(rowsum) - _const(q))


class NLLLoss(Function):
    """loss_i = -w[t_i] x[i, t_i] for log-probabilities x of shape (N, C, d...);
    dx = -w[t_i] [c == t_i] (scaled by the reduction).  'mean' divides by sum_i w[t_i]."""
    save_inputs = False

    def __init__(self, target, weight, ignore_index, reduction):
        self.target, self.weight, self.ignore_index, self.reduction = target, weight, ignore_index, reduction

    def forward(self, x):
        valid, safe, wt = _class_targets("nll_loss", x.shape, self.target, self.weight, self.ignore_index)
        self.x_shape, self.dtype = x.shape, x.dtype
        wt = wt.astype(x.dtype, copy=False)
        picked = np.take_along_axis(x, np.expand_dims(safe, 1), axis=1)[:, 0]
        loss = -wt * picked
        self.wt, self.safe = wt, safe
        return _reduce_by_class_weight(self, loss, wt)

    def backward(self, g):
        q = np.zeros(self.x_shape, dtype=self.dtype)
        np.put_along_axis(q, np.expand_dims(self.safe, 1), -np.expand_dims(self.wt, 1), axis=1)
        return _scale_for(g, self.reduction, getattr(self, "denom", None), len(self.x_shape)) * _const(q)


def _unbatched(input, target, op):
    """PyTorch accepts a single sample: logits (C,) with a 0-d target.  Add the batch axis."""
    if input.ndim == 1:
        t = target.data if isinstance(target, Tensor) else np.asarray(target)
        if t.ndim == 0 and t.dtype.kind in "iu":
            return reshape(input, (1,) + input.shape), t.reshape(1), True
        if t.ndim == 1 and t.dtype.kind == "f":
            return reshape(input, (1,) + input.shape), reshape(as_tensor(target), (1,) + t.shape), True
    if input.ndim == 0:
        raise ValueError(f"{op}: expected input of shape (N, C, d...) or (C,), got a 0-d tensor")
    return input, target, False


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Cross-entropy between softmax(input) over dim 1 and the target, for input (N, C, d...) or (C,).

    target as class indices (N, d...): loss_i = -w[t_i] log softmax(x_i)[t_i] (targets equal to
        ignore_index contribute nothing; 'mean' divides by the sum of w[t_i] over the others);
    target as class probabilities of input's shape: loss_i = -sum_c w_c p_ic log softmax(x_i)_c
        ('mean' divides by the number of elements N * d...).
    label_smoothing eps mixes the target with the uniform distribution: (1 - eps) target + eps / C."""
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = as_tensor(input)
    x, target, unbatched = _unbatched(x, target, "cross_entropy")
    if x.ndim < 2:
        raise ValueError(f"cross_entropy: expected input of shape (N, C, d...) or (C,), got {tuple(x.shape)}")
    w = _check_weight("cross_entropy", weight, x.shape[1])
    t = target.data if isinstance(target, Tensor) else np.asarray(target)
    if t.dtype.kind == "f":
        out = _soft_cross_entropy(x, as_tensor(target), w, reduction, label_smoothing)
    else:
        t = _int_target("cross_entropy", t)
        out = CrossEntropy.apply(x, target=t, weight=w, ignore_index=ignore_index, reduction=reduction,
                                 label_smoothing=float(label_smoothing))
    return reshape(out, ()) if unbatched and reduction == "none" else out


def _soft_cross_entropy(x, target, w, reduction, eps):
    """Probability targets: -sum_c w_c q_c log_softmax(x)_c, a composition of nabla ops (differentiable
    in both the logits and the target)."""
    from .reduce import logsumexp
    _same_shape("cross_entropy (class-probability target)", x, target)
    c = x.shape[1]
    logp = x - logsumexp(x, dim=1, keepdim=True)
    q = target * (1.0 - eps) + eps / c if eps > 0.0 else target
    if w is not None:
        q = q * _const(w.astype(x.dtype).reshape((1, c) + (1,) * (x.ndim - 2)))
    loss = -(q * logp).sum(dim=1)
    return _reduce(loss, reduction)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean"):
    """Negative log-likelihood of class indices under log-probabilities input (N, C, d...) or (C,):
    loss_i = -w[t_i] input[i, t_i]; 'mean' divides by the sum of w[t_i] over non-ignored targets."""
    _check_reduction(reduction, "nll_loss")
    x = as_tensor(input)
    x, target, unbatched = _unbatched(x, target, "nll_loss")
    if x.ndim < 2:
        raise ValueError(f"nll_loss: expected input of shape (N, C, d...) or (C,), got {tuple(x.shape)}")
    w = _check_weight("nll_loss", weight, x.shape[1])
    t = _int_target("nll_loss", target)
    out = NLLLoss.apply(x, target=t, weight=w, ignore_index=ignore_index, reduction=reduction)
    return reshape(out, ()) if unbatched and reduction == "none" else out


class BinaryCrossEntropy(Function):
    """loss = -w (y log x + (1 - y) log(1 - x)), each log clamped to >= -100 (PyTorch), x in [0, 1].
    dx = w (x - y) / max(x (1 - x), 1e-12),   dy = w (log(1 - x) - log x)  (same clamps)."""

    def forward(self, x, y):
        with np.errstate(divide="ignore"):
            lx = np.maximum(np.log(x), -100)
            l1x = np.maximum(np.log1p(-x), -100)
        return -(y * lx + (1 - y) * l1x)

    def backward(self, g):
        from .elementwise import clamp_min, log, log1p
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        gx = g * (x - y) / clamp_min(x * (1 - x), 1e-12) if nx else None
        gy = None
        if ny:
            with np.errstate(divide="ignore"):
                gy = g * (clamp_min(log1p(-x), -100.0) - clamp_min(log(x), -100.0))
        return gx, gy


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
    """The notes' log loss on probabilities: -w (y log x + (1 - y) log(1 - x)), logs clamped to >= -100."""
    _check_reduction(reduction, "binary_cross_entropy")
    x, y = _input_and_target("binary_cross_entropy", input, target)
    if x.data.size and (x.data.min() < 0 or x.data.max() > 1):
        raise ValueError(f"binary_cross_entropy: all elements of input should be between 0 and 1 (got values in "
                         f"[{x.data.min():.4g}, {x.data.max():.4g}]); for logits use binary_cross_entropy_with_logits")
    loss = BinaryCrossEntropy.apply(x, y)
    return _reduce(_weighted(loss, weight, x), reduction)


class BCEWithLogits(Function):
    """With L = 1 + (pos_weight - 1) y and softplus(-x) = log(1 + e^-x) (computed stably):
        loss = (1 - y) x + L softplus(-x)        (= -[pw y log s(x) + (1-y) log(1 - s(x))])
        dx = (1 - y) - L sigmoid(-x),   dy = -x + (pos_weight - 1) softplus(-x)"""

    def forward(self, x, y, *pw):
        # softplus(-x) = max(-x, 0) + log1p(e^-|x|): the same values as np.logaddexp(0, -x), ~10x faster
        sp = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
        if pw:
            return (1 - y) * x + (1 + (pw[0] - 1) * y) * sp
        return (1 - y) * x + sp

    def backward(self, g):
        from .elementwise import exp, log1p, abs as abs_
        from .arithmetic import maximum, where
        x, y = self.inputs[0], self.inputs[1]
        pw = self.inputs[2] if len(self.inputs) == 3 else None
        needs = self.needs_input_grad
        if pw is None:   # the common case, short: dx = g (sigmoid(x) - y), dy = -g x
            from .activation import Sigmoid
            return (g * (Sigmoid.apply(x) - y) if needs[0] else None), (g * -x if needs[1] else None)
        # sigmoid(-x) and softplus(-x) from exp(-|x|), which never overflows
        e = exp(-abs_(x))
        neg = (x.data < 0)
        sig_negx = where(neg, 1 / (1 + e), e / (1 + e))
        softplus_negx = log1p(e) + maximum(-x, 0.0)
        lw = 1 + (pw - 1) * y if pw is not None else None
        gx = gy = gp = None
        if needs[0]:
            gx = g * ((1 - y) - (lw * sig_negx if lw is not None else sig_negx))
        if needs[1]:
            gy = g * (-x + (pw - 1) * softplus_negx) if pw is not None else g * -x
        if pw is not None and needs[2]:
            gp = g * y * softplus_negx
        return (gx, gy, gp) if pw is not None else (gx, gy)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """Log loss on logits: sigmoid and log loss fused through softplus, so logits of magnitude 100 (or
    1e4) give finite values and gradients.  pos_weight (broadcast along the last axis, one per class)
    multiplies the positive term; weight multiplies each element's loss."""
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    x, y = _input_and_target("binary_cross_entropy_with_logits", input, target)
    if pos_weight is None:
        loss = BCEWithLogits.apply(x, y)
    else:
        pw = as_tensor(pos_weight, x)
        try:
            np.broadcast_shapes(pw.shape, x.shape)
        except ValueError:
            raise ValueError(f"binary_cross_entropy_with_logits: pos_weight of shape {tuple(pw.shape)} does not "
                             f"broadcast with input of shape {tuple(x.shape)}") from None
        loss = BCEWithLogits.apply(x, y, pw)
    return _reduce(_weighted(loss, weight, x), reduction)


# ---------------------------------------------------------------------- regression losses
def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    """Mean squared error: (x - y)^2 per element, reduced.  Shapes must match (PyTorch only warns)."""
    _check_reduction(reduction, "mse_loss")
    x, y = _input_and_target("mse_loss", input, target)
    d = x - y
    loss = d * d
    return _reduce(_weighted(loss, weight, x), reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    """Mean absolute error: |x - y| per element, reduced (gradient sign(x - y), 0 at 0)."""
    from .elementwise import abs as abs_
    _check_reduction(reduction, "l1_loss")
    x, y = _input_and_target("l1_loss", input, target)
    loss = abs_(x - y)
    return _reduce(_weighted(loss, weight, x), reduction)


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's deprecated (size_average, reduce) pair, when either is given, overrides reduction:
    reduce=False -> 'none', else size_average=False -> 'sum', else 'mean' (None counts as True)."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    """Smooth L1 (Fast R-CNN's box loss), d = x - y:

        l(d) = 0.5 d^2 / beta   where |d| < beta,   |d| - 0.5 beta   otherwise;
        dl/dx = d / beta        where |d| < beta,   sign(d)          otherwise.

    beta = 0 is the L1 loss (gradient sign(d), 0 at d = 0), as PyTorch.  Composed of nabla ops, so it
    has gradients of any order."""
    from .elementwise import abs as abs_
    from .arithmetic import where
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x, y = _input_and_target("smooth_l1_loss", input, target)
    d = x - y
    ad = abs_(d)
    if beta == 0.0:
        return _reduce(ad, reduction)
    loss = where(ad.data < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta)  (d = x - y); = delta * smooth_l1(beta=delta)."""
    from .elementwise import abs as abs_
    from .arithmetic import where
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x, y = _input_and_target("huber_loss", input, target)
    d = x - y
    ad = abs_(d)
    loss = where(ad.data < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    return _reduce(_weighted(loss, weight, x), reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    """KL(target || model) pointwise, with input the model's log-probabilities:
        target (log q - input) = xlogy(q, q) - q input   (0 where q = 0),   or with log_target
        exp(t) (t - input).
    'batchmean' divides the sum by the batch size input.shape[0] (the mathematical KL divergence);
    'mean' divides by the number of elements, as PyTorch does."""
    from .elementwise import exp, log
    from .arithmetic import where
    _check_reduction(reduction, "kl_div", _REDUCTIONS + ("batchmean",))
    x, t = _input_and_target("kl_div", input, target)
    if log_target:
        loss = exp(t) * (t - x)
    else:
        pos = t.data > 0
        safe = where(pos, t, 1.0)  # log(1) = 0: xlogy(0, 0) = 0 and a finite gradient
        loss = where(pos, t * log(safe), 0.0) - t * x
    if reduction == "batchmean":
        n = x.shape[0] if x.ndim else 1
        return loss.sum() / n
    return _reduce(loss, reduction)


def dice_loss(input, target, weight=None, ignore_index: int = -100, smooth: float = 1.0,
              reduction: str = "mean"):
    """Soft Dice loss (Milletari et al., V-Net 2016, with the usual smoothing term) of logits ``input``
    (N, C, d...) against class indices ``target`` (N, d...); nabla's, PyTorch has none.  With
    p = softmax(input) over dim 1, y the one-hot target and m = [target != ignore_index], summed over the
    batch and every pixel (one Dice per class for the whole batch, "batch Dice", so a class missing from
    one image does not make that image's term 0/0):

        I_c = sum m p_c y_c,   S_c = sum m p_c + sum m y_c,   D_c = (2 I_c + smooth) / (S_c + smooth)
        loss_c = w_c (1 - D_c)                          (w = ``weight``, default 1)

    'mean' returns sum_c loss_c / sum_c w_c, 'sum' sum_c loss_c, 'none' the vector (C,).  ``smooth`` keeps a
    class absent from the batch defined: its D_c = smooth / (sum p_c + smooth) asks for p_c -> 0.  Composed
    of nabla ops (softmax, products, sums), so it has gradients of any order."""
    from .activation import softmax
    _check_reduction(reduction, "dice_loss")
    if smooth < 0:
        raise ValueError(f"dice_loss: smooth must be non-negative, got {smooth}")
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"dice_loss: expected logits of shape (N, C, d...), got {tuple(x.shape)}")
    c = x.shape[1]
    w = _check_weight("dice_loss", weight, c)
    t = _int_target("dice_loss", target)
    valid, safe, _ = _class_targets("dice_loss", x.shape, t, None, ignore_index)
    classes = np.arange(c).reshape((1, c) + (1,) * (x.ndim - 2))
    onehot = ((np.expand_dims(safe, 1) == classes) & np.expand_dims(valid, 1)).astype(x.dtype)
    axes = (0,) + tuple(range(2, x.ndim))
    p = softmax(x, dim=1)
    inter = (p * _const(onehot)).sum(dim=axes)
    total = (p * _const(np.expand_dims(valid, 1).astype(x.dtype))).sum(dim=axes) + _const(onehot.sum(axis=axes))
    loss = 1.0 - (inter * 2.0 + smooth) / (total + smooth)
    if w is not None:
        loss = loss * _const(w.astype(x.dtype))
    if reduction == "mean":
        return loss.sum() / (float(w.sum()) if w is not None else float(c))
    return _reduce(loss, reduction)


__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "mse_loss",
           "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "dice_loss"]
