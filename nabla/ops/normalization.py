"""Normalisation: batch norm and layer norm, each one fused Function.

Both normalise x over a set of axes A (M elements per statistic) and apply a per-feature affine map:
    mu = mean_A(x),  var = mean_A((x - mu)^2)  (biased),  r = 1 / sqrt(var + eps)
    xh = (x - mu) r,  y = w xh + b
With dxh = g w, the gradient is (the classic three-term formula)
    dx = r / M * (M dxh - sum_A(dxh) - xh sum_A(dxh xh)),  dw = sum(g xh),  db = sum(g)
where dw and db sum over every axis w does not have.  The backward below is written with nabla ops
on the inputs (recomputing mu and r from x), so that grad-of-grad is exact; when nothing is recorded
the same formula runs on the arrays saved in forward.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function
from ._util import as_tensor, _const, sum_cols, sum_rows
from .shape import reshape


def _channel_view(a):
    """A 3-d view (B, S, C) or (B, C, S) of an (N, C, *) array whose per-channel sums are matrix-vector
    products, without a copy; returns (view, channels_last) or (None, None) when the layout allows none."""
    n, c = a.shape[:2]
    s = math.prod(a.shape[2:])
    for last, v in ((True, np.moveaxis(a, 1, -1)), (False, a)):
        try:
            w = v.view()
            w.shape = (n, s, c) if last else (n, c, s)  # raises where a reshape would copy
            return w, last
        except AttributeError:
            continue
    return None, None


def _channel_sum(a, axes):
    """sum of a over every axis but 1 (batch norm's statistics), shape (C,).  numpy's reduction over
    the leading axes of a channels-last array adds one C-long row at a time; a product with a ones
    vector runs through BLAS instead."""
    v, last = _channel_view(a) if a.ndim >= 2 else (None, None)
    if v is None or v.shape[1] * v.shape[2] == 0:
        return a.sum(axis=axes)
    if last:
        return np.matmul(np.ones(v.shape[1], dtype=a.dtype), v).sum(axis=0)
    return np.matmul(v, np.ones(v.shape[2], dtype=a.dtype)).sum(axis=0)


class _Normalize(Function):
    """y = w * (x - mean_A x) / sqrt(var_A x + eps) + b.  ``axes`` are the statistics' axes,
    ``pshape`` the shape w and b broadcast to (e.g. (1, C, 1, 1) for batch norm)."""

    def __init__(self, axes, pshape, eps, stats=None):
        self.axes, self.pshape, self.eps = axes, pshape, eps
        self.stats = stats  # a dict that receives the batch mean and variance (running statistics)
        # batch norm on (N, C, *): statistics per channel, through _channel_sum
        self.channel_stats = len(pshape) >= 2 and axes == (0,) + tuple(range(2, len(pshape)))

    def _forward_channels(self, x, *wb):
        """Batch norm's forward, the same formula: per-channel sums as matrix-vector products, and the
        normalised array allocated in x's memory order (channels-last stays channels-last)."""
        m = x.size // x.shape[1]
        mean = (_channel_sum(x, self.axes) / m).astype(x.dtype, copy=False).reshape(self.pshape)
        xc = np.subtract(x, mean)
        sq = np.square(xc)
        var = (_channel_sum(sq, self.axes) / m).astype(x.dtype, copy=False).reshape(self.pshape)
        del sq
        if self.stats is not None:
            self.stats["mean"], self.stats["var"] = mean, var
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xc *= invstd
        self.xhat, self.invstd = xc, invstd
        if not wb:
            return xc.copy()
        w, b = wb
        y = np.multiply(xc, w.reshape(self.pshape))
        y += b.reshape(self.pshape)
        return y

    def _forward_rows(self, x, *wb):
        """Layer norm's forward, the same formula on x viewed as (rows, m), the statistics of each row
        taken as matrix-vector products (BLAS) instead of NumPy's short last-axis reductions, which are
        several times slower at m = 128..1024."""
        m = math.prod(self.pshape)
        xr = x.reshape(-1, m)
        xc = xr - sum_cols(xr, 1.0 / m)[:, None]
        var = np.einsum("ij,ij->i", xc, xc) / m
        invstd = (1.0 / np.sqrt(var + self.eps)).astype(x.dtype, copy=False)
        xc *= invstd[:, None]
        self.xhat, self.invstd = xc, invstd
        if not wb:
            return xc.reshape(x.shape).copy()
        w, b = wb
        y = np.multiply(xc, w.reshape(-1))
        y += b.reshape(-1)
        return y.reshape(x.shape)

    def _backward_rows(self, gd, needs, has_wb, wshape):
        """dx = invstd (gw - mean_row(gw) - xhat mean_row(gw xhat)) with gw = g w;  dw = sum_rows(g xhat),
        db = sum_rows(g), on the (rows, m) view, the sums as matrix-vector products."""
        xhat, invstd = self.xhat, self.invstd
        rows, m = xhat.shape
        g2 = gd.reshape(rows, m)
        gx = gw = gb = None
        if has_wb and needs[2]:
            gb = sum_rows(g2).reshape(wshape)
        if has_wb and needs[1]:
            gw = sum_rows(g2 * xhat).reshape(wshape)
        if needs[0]:
            gxh = g2 * self.inputs[1].data.reshape(-1) if has_wb else g2
            s1 = sum_cols(gxh, 1.0 / m)
            s2 = np.einsum("ij,ij->i", gxh, xhat) / m
            gxa = np.multiply(xhat, s2[:, None])
            np.subtract(gxh, gxa, out=gxa)
            gxa -= s1[:, None]
            gxa *= invstd[:, None]
            gx = gxa.reshape(gd.shape)
        return (gx, gw, gb) if has_wb else gx

    def _by_rows(self, x, wb):
        """Whether forward and backward take the (rows, m) path: layer norm over x's trailing axes, floats
        of one dtype, no running statistics."""
        return (self.stats is None and x.dtype.kind == "f" and x.ndim > len(self.pshape)
                and self.axes == tuple(range(x.ndim - len(self.pshape), x.ndim))
                and all(a.dtype == x.dtype for a in wb))

    def forward(self, x, *wb):
        if self.channel_stats:
            return self._forward_channels(x, *wb)
        if self._by_rows(x, wb):
            return self._forward_rows(x, *wb)
        mean = x.mean(axis=self.axes, keepdims=True)
        xc = x - mean
        var = np.mean(np.square(xc), axis=self.axes, keepdims=True)
        if self.stats is not None:
            self.stats["mean"], self.stats["var"] = mean, var
        invstd = 1.0 / np.sqrt(var + self.eps)
        xhat = xc
        xhat *= invstd  # xc is a fresh array: normalise in place, one copy fewer
        self.xhat, self.invstd = xhat, invstd.astype(x.dtype, copy=False)
        if not wb:
            return xhat.copy()
        w, b = wb
        y = xhat * w.reshape(self.pshape)
        y += b.reshape(self.pshape)
        return y

    def _shared_axes(self, ndim):
        """The axes of x that w and b are shared over (their gradients sum over them)."""
        lead = ndim - len(self.pshape)
        return tuple(i for i in range(ndim) if i < lead or self.pshape[i - lead] == 1)

    def backward_arrays(self, gd):
        x = self.inputs[0].data
        has_wb = len(self.inputs) == 3
        needs = self.needs_input_grad
        wshape = self.inputs[1].shape if has_wb else None
        if self.channel_stats:
            return self._backward_channels(gd, needs, has_wb, wshape)
        if self._by_rows(x, [t.data for t in self.inputs[1:]]):
            return self._backward_rows(gd, needs, has_wb, wshape)
        axes, xhat = self.axes, self.xhat
        m = math.prod(x.shape[a] for a in axes)
        red = self._shared_axes(x.ndim)
        gx = gw = gb = None
        if has_wb and needs[2]:
            gb = gd.sum(axis=red).reshape(wshape)
        gxh = gd * self.inputs[1].data.reshape(self.pshape) if has_wb else gd
        if has_wb and needs[1]:
            gw = (gd * xhat).sum(axis=red).reshape(wshape)
        if needs[0]:
            s1 = gxh.sum(axis=axes, keepdims=True)
            s2 = (gxh * xhat).sum(axis=axes, keepdims=True)
            gx = gxh * m
            gx -= s1
            gx -= xhat * s2
            gx *= self.invstd / m
        return (gx, gw, gb) if has_wb else gx

    def _backward_channels(self, gd, needs, has_wb, wshape):
        """dx = w r (g - sum(g)/M - xhat sum(g xhat)/M),  dw = sum(g xhat),  db = sum(g): batch norm's
        per-channel sums as matrix-vector products, as in its forward."""
        xhat = self.xhat
        m = math.prod(self.inputs[0].shape[a] for a in self.axes)
        sg = _channel_sum(gd, self.axes)
        gxh_sum = gd * xhat
        sgx = _channel_sum(gxh_sum, self.axes)
        del gxh_sum
        gx = gw = gb = None
        if has_wb and needs[2]:
            gb = sg.astype(gd.dtype, copy=False).reshape(wshape)
        if has_wb and needs[1]:
            gw = sgx.astype(gd.dtype, copy=False).reshape(wshape)
        if needs[0]:
            dt = gd.dtype
            scale = self.invstd.reshape(-1)
            if has_wb:
                scale = scale * self.inputs[1].data.reshape(-1)
            gx = np.multiply(xhat, (sgx / m).astype(dt).reshape(self.pshape))
            np.subtract(gd, gx, out=gx)
            gx -= (sg / m).astype(dt).reshape(self.pshape)
            gx *= scale.astype(dt, copy=False).reshape(self.pshape)
        return (gx, gw, gb) if has_wb else gx

    def backward(self, g):
        """The same formula on tensors (recorded under create_graph), the statistics recomputed from x."""
        x = self.inputs[0]
        has_wb = len(self.inputs) == 3
        axes = self.axes
        m = math.prod(x.shape[a] for a in axes)
        needs = self.needs_input_grad
        red = self._shared_axes(x.ndim)
        mean = x.mean(dim=axes, keepdim=True)
        xc = x - mean
        invstd = ((xc * xc).mean(dim=axes, keepdim=True) + self.eps) ** -0.5
        xhat = xc * invstd
        gxh = g * reshape(self.inputs[1], self.pshape) if has_wb else g
        gx = gw = gb = None
        if needs[0]:
            s1 = gxh.sum(dim=axes, keepdim=True)
            s2 = (gxh * xhat).sum(dim=axes, keepdim=True)
            gx = (invstd / m) * (gxh * m - s1 - xhat * s2)
        if not has_wb:
            return gx
        wshape = self.inputs[1].shape
        gw = (reshape((g * xhat).sum(dim=red), wshape) if red else g * xhat) if needs[1] else None
        gb = (reshape(g.sum(dim=red), wshape) if red else g) if needs[2] else None
        return gx, gw, gb


def _affine_inputs(x, weight, bias, n):
    """(w, b) as tensors of x's dtype (ones/zeros where one is None), or () when both are None."""
    if weight is None and bias is None:
        return ()
    w = as_tensor(weight) if weight is not None else _const(np.ones(n, dtype=x.dtype))
    b = as_tensor(bias) if bias is not None else _const(np.zeros(n, dtype=x.dtype))
    return (w, b)


def batch_norm(input, running_mean=None, running_var=None, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    """Batch normalisation over (N, C, *): statistics per channel C over the batch and spatial axes.

    training (or no running statistics): normalise with the batch mean and biased variance, and update
        running_mean <- (1 - momentum) running_mean + momentum mean
        running_var  <- (1 - momentum) running_var  + momentum var * M / (M - 1)   (unbiased, as PyTorch)
    evaluation: y = (x - running_mean) / sqrt(running_var + eps) * w + b."""
    x = as_tensor(input)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, *), got {tuple(x.shape)}")
    c = x.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"batch_norm: {name} of shape {tuple(t.shape)} does not match the {c} channels of "
                             f"input {tuple(x.shape)} (expected ({c},))")
    axes = (0,) + tuple(range(2, x.ndim))
    pshape = (1, c) + (1,) * (x.ndim - 2)
    use_batch_stats = training or running_mean is None or running_var is None
    if not use_batch_stats:
        rm = running_mean.data.reshape(pshape)
        invstd = 1.0 / np.sqrt(running_var.data.reshape(pshape) + eps)
        if weight is None:
            scale = _const((invstd).astype(x.dtype))
        else:
            scale = reshape(weight, pshape) * _const(invstd.astype(x.dtype))
        shift = -_const(rm.astype(x.dtype)) * scale
        if bias is not None:
            shift = shift + reshape(bias, pshape)
        return x * scale + shift
    m = x.data.size // max(c, 1)
    if training and m <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                         f"shape {tuple(x.shape)}")
    stats = {}
    out = _Normalize.apply(x, *_affine_inputs(x, weight, bias, c), axes=axes, pshape=pshape, eps=eps, stats=stats)
    if training and running_mean is not None and running_var is not None:
        update_running_stats(running_mean, running_var, stats["mean"], stats["var"], m, momentum)
    return out


def update_running_stats(running_mean, running_var, mean, var, m, momentum: float) -> None:
    """running <- (1 - momentum) running + momentum batch statistic, in place, the variance unbiased
    (var * m / (m - 1), m values per channel), as PyTorch; ``mean``/``var`` the biased batch statistics."""
    rm, rv = running_mean.data, running_var.data
    rm *= 1.0 - momentum
    rm += (momentum * mean.reshape(-1)).astype(rm.dtype, copy=False)
    rv *= 1.0 - momentum
    rv += (momentum * var.reshape(-1) * (m / (m - 1))).astype(rv.dtype, copy=False)
    running_mean._bump()
    running_var._bump()


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Layer normalisation over the last len(normalized_shape) axes (statistics per sample);
    weight and bias have shape normalized_shape."""
    x = as_tensor(input)
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(s) for s in normalized_shape)
    k = len(normalized_shape)
    if k == 0 or x.ndim < k or tuple(x.shape[x.ndim - k:]) != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {tuple(x.shape)} does not end with normalized_shape "
                         f"{normalized_shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} of shape {tuple(t.shape)} should have normalized_shape "
                             f"{normalized_shape}")
    axes = tuple(range(x.ndim - k, x.ndim))
    wb = _affine_inputs(x, weight, bias, normalized_shape)
    return _Normalize.apply(x, *wb, axes=axes, pshape=normalized_shape, eps=eps)


__all__ = ["batch_norm", "layer_norm"]
