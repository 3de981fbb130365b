"""Convolution: conv1d, conv2d, conv_transpose2d (PyTorch's semantics and weight layouts).

conv2d correlates the zero-padded input with the kernel (no flip):
    y[n,k,oh,ow] = b[k] + sum_{c in group(k), i, j} w[k,c,i,j] xp[n,c, oh*s_h + i*d_h, ow*s_w + j*d_w]
It is bilinear in (x, w), so its three derivative maps are three kernels, each a Function whose
backward calls the other two (double backward, Hessians):
    conv2d(x, w)            -> y     backward:  dx = conv_transpose2d(g, w),  dw = conv2d_weight(x, g)
    conv_transpose2d(g, w)  -> x'    (the adjoint of conv2d in x)  backward: dg = conv2d(u, w), dw = conv2d_weight(u, g)
    conv2d_weight(x, g)     -> w'    (the adjoint of conv2d in w)  backward: dx = conv_transpose2d(g, v), dg = conv2d(x, v)
PyTorch's conv_transpose2d weight (C_in, C_out/groups, kh, kw) is exactly conv2d's (C_out, C_in/groups, kh, kw)
array of the convolution it is the adjoint of, so one weight serves both.

How it runs (NumPy, measured on 2 cores; see benchmarks/workloads/conv.py):
- Channels-last inside.  The input is copied once into a zero-padded (N, Hp, Wp, C) buffer; the output is
  computed as an (N, OH, OW, K) array and returned as its (N, K, OH, OW) transposed *view*, so the next
  convolution reads it channels-last without a copy (NumPy's elementwise ops keep that layout, as
  PyTorch's channels_last memory format does).
- Stride 1 (no groups, 5+ channels): the row unfold.  The padded batch is unfolded along the width only,
  X (N, Hp, OW, kw*C) with X[n, r, q] = the kw pixels xp[n, r, q + j*d_w] side by side (a run of kw*C
  contiguous values per output pixel, so the copy is cheap: kw times the input).  Flattened to rows, kernel
  row i is X shifted by i*d_h*OW rows, so y = sum over the kh kernel rows of (shifted X) @ W_i, W_i the
  (kw*C, K) matrix of that row: kh products with kw*C terms each (fewer, deeper products than one per
  kernel offset, and only kh - 1 output-sized additions), computed on the (N, Hp, OW) grid (each image's
  last rows are dropped).  X is kept for the weight gradient, dw_i = (shifted X)^T @ G (G zero on the
  dropped rows).  The input gradient is the same correlation of G, zero-padded by (k - 1)*d - p, with the
  flipped, transposed kernel.  Where the whole im2col matrix is small (<= _SMALL_COLS, LeNet's 5x5 layer),
  im2col's single product is used instead.  Measured single-threaded (CPU time) on ResNet-20 shapes
  (batch 128, 28/14/7 pixels, 16/32/64 channels) this beat both 9 shifted products per offset and im2col.
- Strides > 1 (and small stride-1 cases): im2col through a strided window view (sliding_window_view) and one
  matrix product; the unfolded matrix is built a batch chunk at a time, at most _COLS_BYTES (32 MB) per
  chunk, and kept for the weight gradient when one chunk holds the whole batch.
- 1 to 4 input channels (the first layer: grayscale, RGB): channel-major im2col, a (C*kh*kw, N*OH*OW)
  matrix copied one kernel offset at a time from a channels-first padded copy (whole rows per copy),
  also kept for the weight gradient (LeNet's first layer: 5 MB at batch 64).
- Depthwise (one input channel per group): kh*kw broadcast multiply-adds, no matrix product.

Memory, 3x3 64->64 on 64x64x32x32 float32 (input 16.8 MB): textbook im2col would unfold 151 MB.  The row
unfold is 3x the padded input (53 MB here), built in batch chunks of at most _COLS_BYTES; when it takes more
than one chunk, only the padded input (18.9 MB) is kept and the weight gradient unfolds it again, chunk by
chunk.  The output is written on the (N, Hp, OW) grid with one temporary of the same size per chunk.
Time (2 shared cores, measured while other jobs ran, so rough): the products run at OpenBLAS's speed for
these thin shapes; forward, input gradient and weight gradient cost about the same.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ._util import as_tensor
from .shape import unsqueeze, squeeze

_COLS_BYTES = 32 << 20     # largest unfolded (im2col) chunk
_SHIFT_MIN_C = 16          # stride-1 convolutions with at least this many input channels per group go "shifted"
_CHANNEL_MAJOR_MAX_C = 4   # up to this many input channels (grayscale, RGB): channel-major im2col, kept for dw
_SMALL_COLS = 4 << 20      # stride-1 convolutions whose whole im2col matrix is at most this use it (one product)

_window_view = np.lib.stride_tricks.sliding_window_view


# ---------------------------------------------------------------------------------------------- arguments
def _tuple(v, n, name, op):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    try:
        t = tuple(int(a) for a in v)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}") from None
    if len(t) == 1:
        t = t * n
    if len(t) != n:
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {v!r}")
    return t


def _padding(padding, kernel, stride, dilation, op):
    """(top, bottom, left, right) from an int, a pair, 'valid' or 'same' (PyTorch puts the odd extra at the end)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride {stride})")
            out = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                out += [total // 2, total - total // 2]
            return tuple(out)
        raise ValueError(f"{op}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
    ph, pw = _tuple(padding, 2, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


def _out_size(n, lo, hi, k, s, d):
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


# ---------------------------------------------------------------------------------------------- kernels
def _padded_nhwc(x, pads, hp=None, wp=None):
    """x (N, C, H, W) of any memory layout -> a C-contiguous zero-padded (N, Hp, Wp, C) array."""
    n, c, h, w = x.shape
    t, b, l, r = pads
    hp = h + t + b if hp is None else max(hp, h + t)
    wp = w + l + r if wp is None else max(wp, w + l)
    xt = x.transpose(0, 2, 3, 1)
    if t == l == 0 and hp == h and wp == w and xt.flags.c_contiguous:
        return xt
    xp = np.zeros((n, hp, wp, c), dtype=x.dtype)
    xp[:, t:t + h, l:l + w] = xt
    return xp


def _nhwc(x):
    """(N, C, H, W) -> C-contiguous (N, H, W, C) (free when x is already channels-last in memory)."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def _chunks(n, bytes_per_item):
    step = max(1, min(n, _COLS_BYTES // max(1, bytes_per_item)))
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def _windows(xp, kh, kw, oh, ow, stride, dilation, groups):
    """The (n, oh, ow, kh, kw, C) window view of a padded NHWC batch (groups > 1: (G, n, oh, ow, kh, kw, Cg))."""
    sh, sw = stride
    dh, dw = dilation
    v = _window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(1, 2))
    v = v[:, :sh * (oh - 1) + 1:sh, :sw * (ow - 1) + 1:sw, :, ::dh, ::dw]  # (n, oh, ow, C, kh, kw)
    if groups == 1:
        return v.transpose(0, 1, 2, 4, 5, 3)
    n, _, _, c = xp.shape[0], 0, 0, xp.shape[3]
    v = v.reshape(n, oh, ow, groups, c // groups, kh, kw)
    return v.transpose(3, 0, 1, 2, 5, 6, 4)


def _offset(xp, i, j, oh, ow, stride, dilation):
    """The strided (N, oh, ow, C) slice of a padded NHWC batch that kernel offset (i, j) reads."""
    sh, sw = stride
    a, b = i * dilation[0], j * dilation[1]
    return xp[:, a:a + sh * (oh - 1) + 1:sh, b:b + sw * (ow - 1) + 1:sw]


def _cols_channel_major(x, pads, kh, kw, oh, ow, stride, dilation):
    """im2col for few input channels: a (C*kh*kw, N*OH*OW) matrix in PyTorch's (c, i, j) weight order,
    built one kernel offset at a time from a padded channels-first copy (each copy moves whole rows;
    the channels-last window view would move runs of C = 1 or 3 elements)."""
    n, c, h, w = x.shape
    t, b, l, r = pads
    xp = np.zeros((n, c, h + t + b, w + l + r), dtype=x.dtype)
    xp[:, :, t:t + h, l:l + w] = x
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    sh, sw = stride
    for i in range(kh):
        for j in range(kw):
            a, bb = i * dilation[0], j * dilation[1]
            cols[:, i, j] = xp[:, :, a:a + sh * (oh - 1) + 1:sh, bb:bb + sw * (ow - 1) + 1:sw].transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def _use_channel_major(c, groups, n, oh, ow, kh, kw, itemsize):
    return groups == 1 and c <= _CHANNEL_MAJOR_MAX_C and c * kh * kw * n * oh * ow * itemsize <= _COLS_BYTES


def _use_shifted(stride, cg, kh, kw, groups):
    return stride == (1, 1) and cg >= _SHIFT_MIN_C and kh * kw > 1


def _use_rows(stride, groups, cg, cols_bytes):
    """Stride-1 (in height) convolutions without groups go through the row unfold (see _rows_unfold),
    unless the whole im2col matrix is small (<= _SMALL_COLS): then one matrix product over kh*kw*C
    terms, with no partial sums to add, is the faster (LeNet's 5x5 layer, 7x7 maps)."""
    return groups == 1 and stride[0] == 1 and cg > _CHANNEL_MAJOR_MAX_C and cols_bytes > _SMALL_COLS


def _rows_unfold(xp, kw, ow, sw, dw):
    """The width-only unfold of a padded NHWC batch: (n, Hp, ow, kw*C), C-contiguous, with
    X[n, r, o, j*C + c] = xp[n, r, o*sw + j*dw, c].  Each output row reads kw*C contiguous values when
    dw == 1, so the copy is a run of memcpys; for kw == 1 and a dense grid it is xp itself."""
    n, hp, wp, c = xp.shape
    if kw == 1 and sw == 1 and ow == wp:
        return xp
    ew = dw * (kw - 1) + 1
    v = _window_view(xp, ew, axis=2)[:, :, :sw * (ow - 1) + 1:sw, :, ::dw]  # (n, Hp, ow, C, kw)
    return np.ascontiguousarray(v.transpose(0, 1, 2, 4, 3)).reshape(n, hp, ow, kw * c)


def _rows_conv(xp, wrows, dh, oh, ow, sw, dw, kw, keep=None):
    """Stride-1 (in height) correlation of a padded NHWC batch, groups == 1:
        y[n, o, q] = sum_i X[n, o + i*dh, q] @ wrows[i],  X = _rows_unfold(xp),  wrows (kh, kw*C, K).
    X flattened to (n*Hp*ow, kw*C) rows, kernel row i is the slice shifted by i*dh*ow rows, so the output is
    kh matrix products (each with kw*C terms) summed, computed on the (n, Hp, ow) grid: each image's last
    Hp - oh output rows read across into the next image and are dropped.  Batch chunks keep each X under
    _COLS_BYTES; ``keep`` receives X when one chunk holds the whole batch (for the weight gradient).
    Returns an (n, oh, ow, K) view."""
    n, hp, _, c = xp.shape
    kh, kwc, k = wrows.shape
    dt = np.result_type(xp.dtype, wrows.dtype)
    out = np.empty((n, hp, ow, k), dtype=dt)
    shift = dh * ow
    chunks = _chunks(n, hp * ow * kwc * xp.itemsize)
    tmp = None
    for a, b in chunks:
        xr = _rows_unfold(xp[a:b], kw, ow, sw, dw)
        if keep is not None and len(chunks) == 1:
            keep["rows"] = xr
        xf, of = xr.reshape(-1, kwc), out[a:b].reshape(-1, k)
        m = xf.shape[0] - (kh - 1) * shift
        np.matmul(xf[:m], wrows[0], out=of[:m])
        for i in range(1, kh):
            if tmp is None or tmp.shape[0] < m:
                tmp = np.empty((m, k), dtype=dt)
            np.matmul(xf[i * shift:i * shift + m], wrows[i], out=tmp[:m])
            of[:m] += tmp[:m]
    return out[:, :oh]


def _rows_weight(xp, xr, g4, kh, kw, stride, dilation):
    """dw for the row path: dw_i = X[rows shifted by i*dh*ow]^T @ G (G zero on the dropped rows).
    Returns (K, C, kh, kw)."""
    n, hp, _, c = xp.shape if xp is not None else (xr.shape[0], xr.shape[1], None, xr.shape[3] // kw)
    _, oh, ow, k = g4.shape
    dh = dilation[0]
    shift = dh * ow
    dt = g4.dtype
    acc = np.zeros((kh, kw * c, k), dtype=dt)
    tmp = np.empty((kw * c, k), dtype=dt)
    chunks = [(0, n)] if xr is not None else _chunks(n, hp * ow * kw * c * xp.itemsize)
    for a, b in chunks:
        x_r = xr if xr is not None else _rows_unfold(xp[a:b], kw, ow, stride[1], dilation[1])
        if hp == oh:
            gp = g4[a:b]
        else:
            gp = np.zeros((b - a, hp, ow, k), dtype=dt)
            gp[:, :oh] = g4[a:b]
        xf, gf = x_r.reshape(-1, kw * c), gp.reshape(-1, k)
        m = xf.shape[0] - (kh - 1) * shift
        for i in range(kh):
            np.matmul(xf[i * shift:i * shift + m].T, gf[:m], out=tmp)
            acc[i] += tmp
    return np.ascontiguousarray(acc.reshape(kh, kw, c, k).transpose(3, 2, 0, 1))


def _wrows(w):
    """(K, C, kh, kw) -> (kh, kw*C, K): kernel row i as one (kw*C, K) matrix in the row unfold's order."""
    k, c, kh, kw = w.shape
    return np.ascontiguousarray(w.transpose(2, 3, 1, 0)).reshape(kh, kw * c, k)


def _conv_forward(x, w, stride, pads, dilation, groups, out_hw=None, xp=None, keep=None):
    """y = conv2d(x, w) as an (N, OH, OW, K) C-contiguous array (or a view of one).  Returns (y, xp).
    ``keep``: a dict that receives the channel-major unfolded input, when that path ran (for dw)."""
    n, c, h, wd = x.shape
    k, cg, kh, kw = w.shape
    g, kg = groups, k // groups
    oh = _out_size(h, pads[0], pads[1], kh, stride[0], dilation[0])
    ow = _out_size(wd, pads[2], pads[3], kw, stride[1], dilation[1])
    if out_hw is not None:
        oh, ow = min(oh, out_hw[0]), min(ow, out_hw[1])
    dt = np.result_type(x.dtype, w.dtype)
    if xp is None and _use_channel_major(c, g, n, oh, ow, kh, kw, x.itemsize):
        cols = _cols_channel_major(x, pads, kh, kw, oh, ow, stride, dilation)
        if keep is not None:
            keep["cols"] = cols
        out = np.matmul(cols.T, w.reshape(k, -1).T)
        return out.reshape(n, oh, ow, k), None
    if xp is None:
        xp = _padded_nhwc(x, pads)
    if cg == 1 and g > 1:
        return _depthwise_conv(xp, w, oh, ow, stride, dilation, dt), xp
    if _use_rows(stride, g, cg, n * oh * ow * kh * kw * c * xp.itemsize):
        y = _rows_conv(xp, _wrows(w), dilation[0], oh, ow, stride[1], dilation[1], kw, keep=keep)
        return y, xp
    wt = np.ascontiguousarray(w.reshape(g, kg, cg, kh, kw).transpose(3, 4, 0, 2, 1))  # (kh, kw, G, Cg, Kg)
    if _use_shifted(stride, cg, kh, kw, g):
        return _shifted_conv(xp, wt, k, dilation, dt)[:, :oh, :ow], xp
    return _im2col_conv(xp, wt, oh, ow, stride, dilation, g, dt, keep), xp


def _depthwise_conv(xp, w, oh, ow, stride, dilation, dt):
    """Depthwise (one input channel a group): y[..., g, m] = sum_ij x_ij[..., g] w[g, m, i, j]."""
    n = xp.shape[0]
    k, _, kh, kw = w.shape
    g = xp.shape[3]
    wt = w.reshape(g, k // g, kh, kw)
    out = np.zeros((n, oh, ow, g, k // g), dtype=dt)
    tmp = np.empty_like(out)
    for i in range(kh):
        for j in range(kw):
            np.multiply(_offset(xp, i, j, oh, ow, stride, dilation)[..., None], wt[:, :, i, j], out=tmp)
            out += tmp
    return out.reshape(n, oh, ow, k)


def _shifted_conv(xp, wt, k, dilation, dt):
    """Stride 1: the padded input as (rows, C), each kernel offset one product with the rows shifted by
    it, summed; (N, HP, WP, K), of which [:, :OH, :OW] is the output (wt (kh, kw, G, Cg, Kg))."""
    n, hp, wp, c = xp.shape
    kh, kw, g, cg, kg = wt.shape
    flat = xp.reshape(-1, c)
    rows = flat.shape[0]
    span = (kh - 1) * dilation[0] * wp + (kw - 1) * dilation[1]
    m = rows - span
    out = np.empty((rows, k), dtype=dt)
    tmp = np.empty((m, k), dtype=dt)
    first = True
    for i in range(kh):
        for j in range(kw):
            s = i * dilation[0] * wp + j * dilation[1]
            dst = out[:m] if first else tmp
            if g == 1:
                np.matmul(flat[s:s + m], wt[i, j, 0], out=dst)
            else:
                np.matmul(flat[s:s + m].reshape(m, g, cg).transpose(1, 0, 2), wt[i, j],
                          out=dst.reshape(m, g, kg).transpose(1, 0, 2))
            if not first:
                out[:m] += tmp
            first = False
    return out.reshape(n, hp, wp, k)


def _im2col_conv(xp, wt, oh, ow, stride, dilation, g, dt, keep):
    """im2col, a batch chunk at a time: the windows as rows, one product with the kernel per chunk."""
    n, c = xp.shape[0], xp.shape[3]
    kh, kw, _, cg, kg = wt.shape
    k = g * kg
    out = np.empty((n, oh, ow, k), dtype=dt)
    wmat = wt.transpose(2, 0, 1, 3, 4).reshape(g, kh * kw * cg, kg)
    chunks = _chunks(n, oh * ow * kh * kw * c * xp.itemsize)
    for a, b in chunks:
        cols = np.ascontiguousarray(_windows(xp[a:b], kh, kw, oh, ow, stride, dilation, g))
        if g == 1:
            np.matmul(cols.reshape(-1, kh * kw * c), wmat[0], out=out[a:b].reshape(-1, k))
            if keep is not None and len(chunks) == 1:
                keep["cols_nhwc"] = cols
        else:
            np.matmul(cols.reshape(g, -1, kh * kw * cg), wmat,
                      out=out[a:b].reshape(-1, g, kg).transpose(1, 0, 2))
    return out


def _conv_transpose_forward(gy, w, stride, pads, dilation, groups, out_hw):
    """The adjoint of conv2d in x: (N, K, OH, OW) -> an (N, H, W, C) array (a view of a padded buffer)."""
    n, k, oh, ow = gy.shape
    _, cg, kh, kw = w.shape
    g, kg = groups, k // groups
    c = cg * g
    h, wd = out_hw
    t, _, l, _ = pads
    hp = max(t + h + pads[1], dilation[0] * (kh - 1) + stride[0] * (oh - 1) + 1)
    wp = max(l + wd + pads[3], dilation[1] * (kw - 1) + stride[1] * (ow - 1) + 1)
    dt = np.result_type(gy.dtype, w.dtype)
    top, left = dilation[0] * (kh - 1) - t, dilation[1] * (kw - 1) - l
    if g == 1 and c >= _SHIFT_MIN_C and stride == (1, 1) and min(top, left, h + t - oh, wd + l - ow) >= 0:
        # stride 1: dx is the correlation of g, padded by (k - 1)*d - p, with the flipped, transposed kernel
        gp = np.zeros((n, h + dilation[0] * (kh - 1), wd + dilation[1] * (kw - 1), k), dtype=dt)
        gp[:, top:top + oh, left:left + ow] = gy.transpose(0, 2, 3, 1)
        wflip = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (C, K, kh, kw)
        y, _ = _conv_forward(gp.transpose(0, 3, 1, 2), wflip, (1, 1), (0, 0, 0, 0), dilation, 1, xp=gp)
        return y, None
    dxp = np.zeros((n, hp, wp, c), dtype=dt)
    g4 = _nhwc(gy)
    if cg == 1 and g > 1:  # depthwise: dx[..., g] += sum_m g[..., g, m] w[g, m, i, j]
        wt = w.reshape(g, kg, kh, kw)
        g5 = g4.reshape(n, oh, ow, g, kg)
        for i in range(kh):
            for j in range(kw):
                contrib = g4 * wt[:, 0, i, j] if kg == 1 else np.einsum("nhwgm,gm->nhwg", g5, wt[:, :, i, j])
                _offset(dxp, i, j, oh, ow, stride, dilation)[...] += contrib
        return dxp[:, t:t + h, l:l + wd], dxp
    g2 = g4.reshape(-1, k)
    m = g2.shape[0]
    wt = w.reshape(g, kg, cg, kh, kw)
    wts = np.ascontiguousarray(wt.transpose(3, 4, 0, 1, 2))  # (kh, kw, G, Kg, Cg)
    tmp = np.empty((m, c), dtype=dt)
    tmp4 = tmp.reshape(n, oh, ow, c)
    for i in range(kh):
        for j in range(kw):
            if g == 1:
                np.matmul(g2, wts[i, j, 0], out=tmp)
            else:
                np.matmul(g2.reshape(m, g, kg).transpose(1, 0, 2), wts[i, j],
                          out=tmp.reshape(m, g, cg).transpose(1, 0, 2))
            _offset(dxp, i, j, oh, ow, stride, dilation)[...] += tmp4
    return dxp[:, t:t + h, l:l + wd], dxp


def _conv_weight(x, gy, kshape, stride, pads, dilation, groups, xp=None, cols=None, cols_nhwc=None, rows=None):
    """The adjoint of conv2d in w: dw[k,c,i,j] = sum_{n,oh,ow} xp[n,c,oh*s+i*d,..] g[n,k,oh,ow]."""
    n, c = x.shape[:2]
    k, cg, kh, kw = kshape
    g, kg = groups, k // groups
    oh, ow = gy.shape[2], gy.shape[3]
    if rows is not None or (cols is None and cols_nhwc is None
                            and _use_rows(stride, g, cg, n * oh * ow * kh * kw * c * x.itemsize)):
        if rows is None and xp is None:
            xp = _padded_nhwc(x, pads)
        dw = _rows_weight(xp, rows, _nhwc(gy), kh, kw, stride, dilation)
        return dw.astype(np.result_type(x.dtype, gy.dtype), copy=False)
    if cols is not None or (xp is None and _use_channel_major(c, g, n, oh, ow, kh, kw, x.itemsize)):
        if cols is None:
            cols = _cols_channel_major(x, pads, kh, kw, oh, ow, stride, dilation)
        return np.ascontiguousarray(np.matmul(cols, _nhwc(gy).reshape(-1, k)).T).reshape(kshape)
    if xp is None:
        xp = _padded_nhwc(x, pads)
    hp, wp = xp.shape[1], xp.shape[2]
    dt = np.result_type(x.dtype, gy.dtype)
    g4 = _nhwc(gy)
    if cg == 1 and g > 1:
        out = np.empty((g, kg, kh, kw), dtype=dt)
        g5 = g4.reshape(n, oh, ow, g, kg)
        for i in range(kh):
            for j in range(kw):
                out[:, :, i, j] = np.einsum("nhwg,nhwgm->gm", _offset(xp, i, j, oh, ow, stride, dilation), g5)
        return out.reshape(k, 1, kh, kw)
    if _use_shifted(stride, cg, kh, kw, g):
        # the gradient on the padded grid (zeros where the forward computed the dropped columns)
        gp = np.zeros((n, hp, wp, k), dtype=dt)
        gp[:, :oh, :ow] = g4
        flat, gflat = xp.reshape(-1, c), gp.reshape(-1, k)
        m = flat.shape[0] - ((kh - 1) * dilation[0] * wp + (kw - 1) * dilation[1])
        out = np.empty((kh, kw, g, cg, kg), dtype=dt)
        for i in range(kh):
            for j in range(kw):
                s = i * dilation[0] * wp + j * dilation[1]
                if g == 1:
                    np.matmul(flat[s:s + m].T, gflat[:m], out=out[i, j, 0])
                else:
                    np.matmul(flat[s:s + m].reshape(m, g, cg).transpose(1, 2, 0),
                              gflat[:m].reshape(m, g, kg).transpose(1, 0, 2), out=out[i, j])
        return np.ascontiguousarray(out.transpose(2, 4, 3, 0, 1)).reshape(kshape)
    if cols_nhwc is not None:  # the forward's unfolded input (one chunk, groups == 1)
        dw = np.matmul(cols_nhwc.reshape(-1, kh * kw * c).T, g4.reshape(-1, k))
        return np.ascontiguousarray(dw.reshape(kh, kw, c, k).transpose(3, 2, 0, 1))
    acc = np.zeros((g, kh * kw * cg, kg), dtype=dt)
    for a, b in _chunks(n, oh * ow * kh * kw * c * xp.itemsize):
        cols = np.ascontiguousarray(_windows(xp[a:b], kh, kw, oh, ow, stride, dilation, g))
        gc = g4[a:b].reshape(-1, k)
        if g == 1:
            acc[0] += np.matmul(cols.reshape(-1, kh * kw * c).T, gc)
        else:
            acc += np.matmul(cols.reshape(g, -1, kh * kw * cg).transpose(0, 2, 1),
                             gc.reshape(-1, g, kg).transpose(1, 0, 2))
    return np.ascontiguousarray(acc.reshape(g, kh, kw, cg, kg).transpose(0, 4, 3, 1, 2)).reshape(kshape)


def _nchw(y):
    return y.transpose(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------- Functions
class _ConvBase(Function):
    def __init__(self, stride, pads, dilation, groups, out_hw=None):
        self.stride, self.pads, self.dilation, self.groups, self.out_hw = stride, pads, dilation, groups, out_hw

    @property
    def geometry(self):
        return dict(stride=self.stride, pads=self.pads, dilation=self.dilation, groups=self.groups)


class Conv2dFunction(_ConvBase):
    """y = conv2d(x, w) + b.   dx = conv_transpose2d(g, w),  dw = conv2d_weight(x, g),  db = sum_{n,h,w} g."""

    def forward(self, x, w, *b):
        keep = {}
        y, xp = _conv_forward(x, w, self.stride, self.pads, self.dilation, self.groups, self.out_hw, keep=keep)
        # the padded or unfolded input, reused by the weight gradient (unfolded: only when it fits one chunk)
        self.xp, self.cols, self.cols_nhwc, self.rows = xp, keep.get("cols"), keep.get("cols_nhwc"), keep.get("rows")
        if self.rows is not None:
            self.xp = None  # the row unfold replaces the padded input
        if b:
            y += b[0]
        return _nchw(y)

    def backward_arrays(self, gd):
        x, w = self.inputs[0].data, self.inputs[1].data
        needs = self.needs_input_grad
        geo = self.geometry
        gx = _nchw(_conv_transpose_forward(gd, w, out_hw=x.shape[2:], **geo)[0]) if needs[0] else None
        gw = _conv_weight(x, gd, w.shape, xp=self.xp, cols=self.cols, cols_nhwc=self.cols_nhwc, rows=self.rows,
                          **geo) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (gd.sum(axis=(0, 2, 3)) if needs[2] else None)

    def backward(self, gy):
        x, w = self.inputs[0], self.inputs[1]
        needs = self.needs_input_grad
        geo = self.geometry
        gx = ConvTranspose2dFunction.apply(gy, w, out_hw=x.shape[2:], **geo) if needs[0] else None
        gw = Conv2dWeightFunction.apply(x, gy, kshape=w.shape, **geo) if needs[1] else None
        if len(needs) == 2:
            return gx, gw
        return gx, gw, (gy.sum(dim=(0, 2, 3)) if needs[2] else None)


class ConvTranspose2dFunction(_ConvBase):
    """x' = conv_transpose2d(g, w) + b: the adjoint of conv2d(., w), output spatial size out_hw.
    dg = conv2d(u, w) (cropped to g's size),  dw = conv2d_weight(u, g),  db = sum_{n,h,w} u."""

    def forward(self, gy, w, *b):
        x, _ = _conv_transpose_forward(gy, w, self.stride, self.pads, self.dilation, self.groups, self.out_hw)
        if b:
            x += b[0]
        return _nchw(x)

    def backward_arrays(self, ud):
        gy, w = self.inputs[0].data, self.inputs[1].data
        needs = self.needs_input_grad
        geo = self.geometry
        xp = _padded_nhwc(ud, self.pads) if (needs[0] or needs[1]) else None
        gg = _nchw(_conv_forward(ud, w, out_hw=gy.shape[2:], xp=xp, **geo)[0]) if needs[0] else None
        gw = _conv_weight(ud, gy, w.shape, xp=xp, **geo) if needs[1] else None
        if len(needs) == 2:
            return gg, gw
        return gg, gw, (ud.sum(axis=(0, 2, 3)) if needs[2] else None)

    def backward(self, u):
        gy, w = self.inputs[0], self.inputs[1]
        needs = self.needs_input_grad
        geo = self.geometry
        gg = Conv2dFunction.apply(u, w, out_hw=gy.shape[2:], **geo) if needs[0] else None
        gw = Conv2dWeightFunction.apply(u, gy, kshape=w.shape, **geo) if needs[1] else None
        if len(needs) == 2:
            return gg, gw
        return gg, gw, (u.sum(dim=(0, 2, 3)) if needs[2] else None)


class Conv2dWeightFunction(_ConvBase):
    """w' = conv2d_weight(x, g): the adjoint of conv2d(x, .).  dx = conv_transpose2d(g, v),  dg = conv2d(x, v)."""

    def __init__(self, kshape, **geo):
        super().__init__(**geo)
        self.kshape = tuple(kshape)

    def forward(self, x, gy):
        return _conv_weight(x, gy, self.kshape, self.stride, self.pads, self.dilation, self.groups)

    def backward(self, v):
        x, gy = self.inputs
        nx, ng = self.needs_input_grad
        geo = self.geometry
        gx = ConvTranspose2dFunction.apply(gy, v, out_hw=x.shape[2:], **geo) if nx else None
        gg = Conv2dFunction.apply(x, v, out_hw=gy.shape[2:], **geo) if ng else None
        return gx, gg


# ---------------------------------------------------------------------------------------------- public API
def _check_common(op, x, weight, bias, groups, transposed=False):
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        raise TypeError(f"{op}: input ({x.dtype}), weight ({weight.dtype})"
                        + (f" and bias ({bias.dtype})" if bias is not None else "") + " must have the same dtype")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating-point input, got dtype {x.dtype}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    c = x.shape[1]
    if transposed:
        cin, cout_g = weight.shape[0], weight.shape[1]
        if c != cin:
            raise ValueError(f"{op}: input of shape {tuple(x.shape)} has {c} channels but weight of shape "
                             f"{tuple(weight.shape)} expects {cin} input channels")
        if cin % groups:
            raise ValueError(f"{op}: {cin} input channels are not divisible by groups={groups}")
        nout = cout_g * groups
    else:
        k, cg = weight.shape[0], weight.shape[1]
        if c % groups or k % groups:
            raise ValueError(f"{op}: input channels ({c}) and output channels ({k}) must both be divisible by "
                             f"groups={groups} (input {tuple(x.shape)}, weight {tuple(weight.shape)})")
        if cg * groups != c:
            raise ValueError(f"{op}: input of shape {tuple(x.shape)} has {c} channels but weight of shape "
                             f"{tuple(weight.shape)} with groups={groups} expects {cg * groups}")
        nout = k
    if bias is not None and tuple(bias.shape) != (nout,):
        raise ValueError(f"{op}: bias of shape {tuple(bias.shape)} should have shape ({nout},)")


def _batched(op, x, n_spatial):
    """(N, C, *spatial) as is, or an unbatched (C, *spatial) input with a batch axis added."""
    if x.ndim == n_spatial + 2:
        return x, False
    if x.ndim == n_spatial + 1:
        return unsqueeze(x, 0), True
    names = "(N, C, L) or (C, L)" if n_spatial == 1 else "(N, C, H, W) or (C, H, W)"
    raise ValueError(f"{op}: expected a {n_spatial + 2}-d input {names}, got shape {tuple(x.shape)}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution (cross-correlation) of input (N, C_in, H, W) with weight (C_out, C_in/groups, kh, kw).

    padding: int, (ph, pw), 'valid' or 'same'; output H_out = (H + 2p - d(kh - 1) - 1) // s + 1."""
    x = as_tensor(input)
    weight = as_tensor(weight)
    x, unbatched = _batched("conv2d", x, 2)
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected a 4-d weight (C_out, C_in/groups, kh, kw), got shape {tuple(weight.shape)}")
    _check_common("conv2d", x, weight, bias, groups)
    kh, kw = weight.shape[2:]
    stride = _tuple(stride, 2, "stride", "conv2d")
    dilation = _tuple(dilation, 2, "dilation", "conv2d")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"conv2d: stride {stride} and dilation {dilation} must be positive")
    pads = _padding(padding, (kh, kw), stride, dilation, "conv2d")
    h, w = x.shape[2:]
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    if h + pads[0] + pads[1] < eh or w + pads[2] + pads[3] < ew:
        raise ValueError(f"conv2d: kernel size ({kh}, {kw}) (dilated: ({eh}, {ew})) can't be greater than the "
                         f"padded input size ({h + pads[0] + pads[1]}, {w + pads[2] + pads[3]}); input "
                         f"{tuple(x.shape)}, weight {tuple(weight.shape)}, padding {padding!r}")
    args = (x, weight) if bias is None else (x, weight, as_tensor(bias))
    out = Conv2dFunction.apply(*args, stride=stride, pads=pads, dilation=dilation, groups=int(groups))
    return squeeze(out, 0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution of input (N, C_in, L) with weight (C_out, C_in/groups, k): conv2d on height 1."""
    x = as_tensor(input)
    weight = as_tensor(weight)
    x, unbatched = _batched("conv1d", x, 1)
    if weight.ndim != 3:
        raise ValueError(f"conv1d: expected a 3-d weight (C_out, C_in/groups, k), got shape {tuple(weight.shape)}")
    (s,), (d,) = _tuple(stride, 1, "stride", "conv1d"), _tuple(dilation, 1, "dilation", "conv1d")
    if isinstance(padding, str):
        pad2 = padding
    else:
        pad2 = (0, _tuple(padding, 1, "padding", "conv1d")[0])
    k = weight.shape[2]
    if not isinstance(padding, str) and x.shape[2] + 2 * pad2[1] < d * (k - 1) + 1:
        raise ValueError(f"conv1d: kernel size {k} (dilated: {d * (k - 1) + 1}) can't be greater than the padded "
                         f"input size {x.shape[2] + 2 * pad2[1]}; input {tuple(x.shape)}, weight {tuple(weight.shape)}")
    try:
        out = conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, (1, s), pad2, (1, d), groups)
    except (ValueError, TypeError) as e:
        raise type(e)(str(e).replace("conv2d", "conv1d")) from None
    out = squeeze(out, 2)
    return squeeze(out, 0) if unbatched else out


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed convolution: the gradient of conv2d with respect to its input, as a layer.

    input (N, C_in, H, W), weight (C_in, C_out/groups, kh, kw);
    H_out = (H - 1) s - 2p + d(kh - 1) + output_padding + 1."""
    x = as_tensor(input)
    weight = as_tensor(weight)
    x, unbatched = _batched("conv_transpose2d", x, 2)
    if weight.ndim != 4:
        raise ValueError(f"conv_transpose2d: expected a 4-d weight (C_in, C_out/groups, kh, kw), got shape "
                         f"{tuple(weight.shape)}")
    _check_common("conv_transpose2d", x, weight, bias, groups, transposed=True)
    kh, kw = weight.shape[2:]
    stride = _tuple(stride, 2, "stride", "conv_transpose2d")
    dilation = _tuple(dilation, 2, "dilation", "conv_transpose2d")
    if isinstance(padding, str):
        raise ValueError(f"conv_transpose2d: padding must be an int or a tuple, got {padding!r}")
    ph, pw = _tuple(padding, 2, "padding", "conv_transpose2d")
    oph, opw = _tuple(output_padding, 2, "output_padding", "conv_transpose2d")
    for op_, s, d in ((oph, stride[0], dilation[0]), (opw, stride[1], dilation[1])):
        if op_ < 0 or (op_ >= s and op_ >= d):
            raise ValueError(f"conv_transpose2d: output padding must be smaller than either stride or dilation, "
                             f"got output_padding {(oph, opw)}, stride {stride}, dilation {dilation}")
    h, w = x.shape[2:]
    oh = (h - 1) * stride[0] - 2 * ph + dilation[0] * (kh - 1) + oph + 1
    ow = (w - 1) * stride[1] - 2 * pw + dilation[1] * (kw - 1) + opw + 1
    if oh <= 0 or ow <= 0:
        raise ValueError(f"conv_transpose2d: the output size ({oh}, {ow}) is too small for input {tuple(x.shape)}, "
                         f"weight {tuple(weight.shape)}, stride {stride}, padding {(ph, pw)}")
    args = (x, weight) if bias is None else (x, weight, as_tensor(bias))
    out = ConvTranspose2dFunction.apply(*args, stride=stride, pads=(ph, ph, pw, pw), dilation=dilation,
                                        groups=int(groups), out_hw=(oh, ow))
    return squeeze(out, 0) if unbatched else out


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution: conv_transpose2d on height 1."""
    x = as_tensor(input)
    weight = as_tensor(weight)
    x, unbatched = _batched("conv_transpose1d", x, 1)
    if weight.ndim != 3:
        raise ValueError(f"conv_transpose1d: expected a 3-d weight (C_in, C_out/groups, k), got {tuple(weight.shape)}")
    one = lambda v, name: (1 if name == "stride" or name == "dilation" else 0,  # noqa: E731
                           _tuple(v, 1, name, "conv_transpose1d")[0])
    out = conv_transpose2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, one(stride, "stride"),
                           one(padding, "padding"), one(output_padding, "output_padding"), groups,
                           one(dilation, "dilation"))
    out = squeeze(out, 2)
    return squeeze(out, 0) if unbatched else out


def conv2d_weight(input, weight_size, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d with respect to its weight (torch.nn.grad.conv2d_weight)."""
    x, gy = as_tensor(input), as_tensor(grad_output)
    kh, kw = weight_size[2:]
    stride = _tuple(stride, 2, "stride", "conv2d_weight")
    dilation = _tuple(dilation, 2, "dilation", "conv2d_weight")
    pads = _padding(padding, (kh, kw), stride, dilation, "conv2d_weight")
    return Conv2dWeightFunction.apply(x, gy, kshape=tuple(weight_size), stride=stride, pads=pads,
                                      dilation=dilation, groups=int(groups))


def conv2d_input(input_size, weight, grad_output, stride=1, padding=0, dilation=1, groups=1):
    """The gradient of conv2d with respect to its input (torch.nn.grad.conv2d_input)."""
    w, gy = as_tensor(weight), as_tensor(grad_output)
    kh, kw = w.shape[2:]
    stride = _tuple(stride, 2, "stride", "conv2d_input")
    dilation = _tuple(dilation, 2, "dilation", "conv2d_input")
    pads = _padding(padding, (kh, kw), stride, dilation, "conv2d_input")
    return ConvTranspose2dFunction.apply(gy, w, stride=stride, pads=pads, dilation=dilation, groups=int(groups),
                                         out_hw=tuple(input_size[2:]))


__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "conv2d_weight", "conv2d_input"]
