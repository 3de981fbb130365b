"""Loss modules: each holds its options and calls the function of the same name in
nabla.nn.functional.  ``reduction`` is 'mean' (default), 'sum' or 'none'."""
from __future__ import annotations

from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module

_REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    _reductions = _REDUCTIONS

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__()
        if size_average is not None or reduce is not None:  # PyTorch's deprecated pair
            size_average = True if size_average is None else size_average
            reduce = True if reduce is None else reduce
            reduction = "none" if not reduce else ("mean" if size_average else "sum")
        if reduction not in self._reductions:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"{', '.join(map(repr, self._reductions))}, got {reduction!r}")
        self.reduction = reduction

    def _same_shape(self, input, target):
        if tuple(input.shape) != tuple(getattr(target, "shape", ())):
            raise ValueError(f"{type(self).__name__}: input of shape {tuple(input.shape)} and target of shape "
                             f"{tuple(getattr(target, 'shape', ()))} differ; they must have the same shape")

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
        super().__init__(size_average, reduce, reduction)
        if weight is not None and not isinstance(weight, Tensor):
            weight = Tensor(weight)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """(x - y)^2, reduced.  Shapes must match: a (N,) target against (N, 1) predictions would
    broadcast to (N, N) silently, so this raises (PyTorch only warns)."""

    def forward(self, input, target):
        self._same_shape(input, target)
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """|x - y|, reduced."""

    def forward(self, input, target):
        self._same_shape(input, target)
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta for |d| < beta, else |d| - 0.5 beta (d = x - y); beta = 0 is the L1 loss.
    Detectors use beta = 1/9 for the RPN and 1 for the box head (Fast R-CNN's smooth L1)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        self._same_shape(input, target)
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """0.5 d^2 for |d| < delta, else delta (|d| - 0.5 delta) (d = x - y)."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0):
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        self._same_shape(input, target)
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy on logits (N, C, d...) or (C,), against class indices (N, d...) or class
    probabilities (input's shape).  Computed as one fused log-softmax + NLL (finite for huge logits);
    ignore_index targets contribute nothing; label_smoothing mixes in the uniform distribution."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        try:
            return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                                   reduction=self.reduction, label_smoothing=self.label_smoothing)
        except (IndexError, ValueError, TypeError) as e:
            raise type(e)(str(e).replace("cross_entropy:", "CrossEntropyLoss:", 1)) from None


class NLLLoss(_WeightedLoss):
    """-w[t] input[t] on log-probabilities (pair it with LogSoftmax)."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean"):
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        try:
            return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                              reduction=self.reduction)
        except (IndexError, ValueError, TypeError) as e:
            raise type(e)(str(e).replace("nll_loss:", "NLLLoss:", 1)) from None


class BCELoss(_WeightedLoss):
    """-w (y log x + (1 - y) log(1 - x)) on probabilities x (logs clamped to >= -100)."""

    def forward(self, input, target):
        self._same_shape(input, target)
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + BCE fused and stable on logits; pos_weight weights the positive term per class."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None):
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight if weight is None or isinstance(weight, Tensor) else Tensor(weight))
        self.register_buffer("pos_weight",
                             pos_weight if pos_weight is None or isinstance(pos_weight, Tensor) else Tensor(pos_weight))

    def forward(self, input, target):
        self._same_shape(input, target)
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class KLDivLoss(_Loss):
    """KL(target || exp(input)) pointwise, input being log-probabilities; 'batchmean' gives the true
    KL divergence per sample."""
    _reductions = _REDUCTIONS + ("batchmean",)

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        self._same_shape(input, target)
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class DiceLoss(_WeightedLoss):
    """Soft Dice loss on logits (N, C, d...) against class indices (N, d...), nabla's (PyTorch has none):
    1 - (2 sum p_c y_c + smooth) / (sum p_c + sum y_c + smooth) per class c, p = softmax over the classes,
    sums over the batch and all pixels, ignore_index pixels left out; see ``nn.functional.dice_loss``.
    Segmentation pairs it with cross-entropy (CE + Dice) against class imbalance."""

    def __init__(self, weight=None, ignore_index: int = -100, smooth: float = 1.0, reduction: str = "mean"):
        super().__init__(weight, reduction=reduction)
        self.ignore_index, self.smooth = ignore_index, smooth

    def forward(self, input, target):
        try:
            return F.dice_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               smooth=self.smooth, reduction=self.reduction)
        except (IndexError, ValueError, TypeError) as e:
            raise type(e)(str(e).replace("dice_loss:", "DiceLoss:", 1)) from None
