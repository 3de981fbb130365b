"""Recurrent layers over a whole sequence as one Function each (what cuDNN does): LSTM, GRU, Elman RNN.

A layer is slow when it is a graph of small ops per time step (about 25 graph nodes a step for an LSTM);
here one direction of one layer is ONE graph node.  Its forward loops over time in NumPy:
    - the input projections W_ih x_t + b are batched products over several steps at once,
    - each step is one product W_hh h for all gates plus a few in-place elementwise calls, each on a
      contiguous (H, B) block (states are kept feature-major),
    - sigmoid(z) = (1 + tanh(z/2)) / 2, with the 1/2 folded into the weights of the sigmoid gates
      (exact: halving is exact in binary floating point), so one tanh call serves all gates of a step.
Its backward is a hand-written backpropagation through time: the factors of each step's Jacobian are
computed for all steps at once before the loop, so the loop keeps only the recurrent product and
three to five elementwise calls; the weight gradients are then single large products over all steps.

Equations (PyTorch's; x_t input, h, c state; gate rows of W stacked in PyTorch's order):
    RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)                                      act = tanh | relu
    LSTM  [i, f, g, o] = [s, s, tanh, s](W_ih x + b_ih + W_hh h + b_hh)    s = sigmoid
          c' = f c + i g,   h' = o tanh(c')
    GRU   r = s(W_ir x + b_ir + W_hr h + b_hr),  z = s(W_iz x + b_iz + W_hz h + b_hz)
          n = tanh(W_in x + b_in + r (W_hn h + b_hn)),   h' = (1 - z) n + z h
Gradients (per step, G = dL/d(pre-activations), dh = dL/dh' + the gradient from the step after):
    RNN   G = dh act'(.),                                dh_prev = G W_hh
    LSTM  dc = dc_next + dh o (1 - tanh^2 c'),  G = [dc g s'(i), dc c s'(f), dc i (1 - g^2), dh tanh(c') s'(o)],
          dh_prev = G W_hh,  dc_prev = dc f
    GRU   G_n = dh (1 - z)(1 - n^2),  G_z = dh (h - n) s'(z),  G_r = G_n (W_hn h + b_hn) s'(r),
          dh_prev = dh z + [G_r, G_z, r G_n] W_hh
    all   dW_ih = sum_t G_t^T x_t,  dW_hh = sum_t G_t'^T h_{t-1},  db = sum_t G_t,  dx_t = G_t W_ih

Variable lengths: the batch is sorted by decreasing length (the caller does it once for all layers)
and ``batch_sizes[t]`` says how many sequences are still running at step t, so every step works on
a prefix of the rows, as PyTorch's packed sequences do.  A finished sequence's state stays frozen
(the forward direction's h_n is each sequence's last valid state), its outputs past its length are
zero, and the reverse direction starts each sequence at its own end from h0.

Output: one array holding the output sequence and the final states, sliced by the layer:
    forward direction  [h0, y_0 .. y_{T-1}, h_n, (c_n)]     output = [1:T+1]
    reverse direction  [y_0 .. y_{T-1}, h0, h_n, (c_n)]     output = [0:T]
(the h0 slot makes the previous-state sequence a view for the weight gradient; its gradient goes to h0).
Each slot is feature-major, (H, B): the layer returns transposed views of them (see _RecurrentLayer).

Gradients of gradients: the first backward is NumPy code (``backward_arrays``); under ``create_graph``
it is recorded as a ``RecurrentGrad`` node whose own backward recomputes the layer step by step with
nabla ops and differentiates that twice (slow, exact).  That backward is array code only, so the engine
refuses third derivatives.
"""
from __future__ import annotations

import threading

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import enable_grad
from ._util import _const, sum_cols

__all__ = ["lstm_layer", "gru_layer", "rnn_layer", "recurrent_layer"]

# Internal gate orders.  LSTM: [g, i, f, o] (PyTorch: i, f, g, o), so the three sigmoid gates are
# contiguous (one affine fix-up after the shared tanh) and the three gates driven by dc are too.
_LSTM_ORDER = np.array([2, 0, 1, 3])
_LSTM_INV = np.argsort(_LSTM_ORDER)
_LSTM_SCALE = np.array([1.0, 0.5, 0.5, 0.5])
# GRU: input side keeps [r, z, n]; the recurrent side's backward uses [n, r, z] (see GRULayer).
_GRU_SCALE = np.array([0.5, 0.5, 1.0])
_GRU_HH_ORDER = np.array([2, 0, 1])
_GRU_HH_INV = np.argsort(_GRU_HH_ORDER)


class _Workspace(threading.local):
    """Large scratch arrays kept between calls.  A fresh multi-megabyte array is new memory from the OS,
    and its first touch costs a page fault per 4 KiB (about a third of an LSTM layer's forward time
    here); arrays a layer needs only until its backward are handed back (``release``) and reused.
    Bounded: at most ``limit`` bytes are kept, the oldest dropped first.  One list per thread, so that
    threads running recurrent layers at once never hand each other the same array."""

    def __init__(self, limit=256 << 20):
        self.free, self.limit, self.bytes = [], limit, 0

    def get(self, shape, dtype, zero=False):
        dtype = np.dtype(dtype)
        for k, a in enumerate(self.free):
            if a.shape == shape and a.dtype == dtype:
                del self.free[k]
                self.bytes -= a.nbytes
                if zero:
                    a.fill(0)
                return a
        return (np.zeros if zero else np.empty)(shape, dtype=dtype)

    def put(self, *arrays):
        for a in arrays:
            if a is None or a.nbytes > self.limit:
                continue
            self.free.append(a)
            self.bytes += a.nbytes
        while self.bytes > self.limit:
            self.bytes -= self.free.pop(0).nbytes


_workspace = _Workspace()
_XP_CHUNK = 1 << 17     # elements of input projections computed at once (512 KiB in float32: stays in L2)


def _gates(w, k, order=None, scale=None):
    """w (k*H, n) viewed as k gate blocks, reordered and scaled per block; returns (k*H, n)."""
    kh = w.shape[0]
    w3 = w.reshape(k, kh // k, -1)
    if order is not None:
        w3 = w3[order]
    if scale is not None:
        w3 = w3 * scale.astype(w.dtype)[:, None, None]
    return np.ascontiguousarray(w3.reshape(kh, -1))


def _ungates(g, k, inv):
    """Undo an internal gate order on a gradient of shape (k*H, ...)."""
    shape = g.shape
    return g.reshape((k, shape[0] // k) + shape[1:])[inv].reshape(shape)


class _RecurrentLayer(Function):
    """Shared bookkeeping: inputs (x, h0, [c0], w_ih, w_hh, [b_ih, b_hh]), time order, state slots.

    Layout: states and gates are kept feature-major, (H, B) per step, so that each gate block of a step
    is one contiguous (H, B) array: NumPy runs an elementwise call on a contiguous block 2-3x faster than
    on the same block cut out of a (B, 4H) row layout (a call per row).  The step's product is W_hh h with
    h an (H, B) block of columns."""
    n_states = 1        # 2 for the LSTM (h, c)

    def __init__(self, batch_sizes=None, reverse=False, nonlinearity="tanh"):
        self.batch_sizes = batch_sizes       # tuple of ints, non-increasing, or None (all full)
        self.reverse = bool(reverse)
        self.nonlinearity = nonlinearity

    def _times(self, T):
        return range(T - 1, -1, -1) if self.reverse else range(T)

    def _sizes(self, T, B):
        bs = self.batch_sizes
        return [B] * T if bs is None else bs

    def _steps(self, T, B):
        """[(t, n, prev_n)] in the direction's time order, for the steps with a batch (n > 0 columns alive):
        prev_n is the column count of the step before (0 for the first), as _prev_state reads it."""
        sizes, steps, prev_n = self._sizes(T, B), [], 0
        for t in self._times(T):
            if sizes[t]:
                steps.append((t, sizes[t], prev_n))
                prev_n = sizes[t]
        return steps

    def _lengths(self, T, B):
        """Each (sorted) sequence's length, from batch_sizes."""
        bs = np.asarray(self._sizes(T, B))
        return (bs[:, None] > np.arange(B)[None, :]).sum(0)

    # slots of the output buffer
    def _slots(self, T):
        """(h0 slot, output slice, h_n slot)."""
        return (0, slice(1, T + 1), T + 1) if not self.reverse else (T, slice(0, T), T + 1)

    def _prev_state(self, buf, t, T, n, h0T, prev_n):
        """The state columns [:n] entering step t.  Running forward they are the previous step's outputs
        (a sequence alive at t was alive at t-1).  Running backward, sequences that start at t (their
        last step) enter from h0: columns [prev_n:n] are taken from h0."""
        if not self.reverse:
            return buf[t][:, :n]
        src = buf[t + 1]
        if n > prev_n and t < T - 1:
            return np.concatenate((src[:, :prev_n], h0T[:, prev_n:n]), axis=1)
        return src[:, :n]

    def _final(self, buf, cells, T, B):
        """h_n (and c_n) into their slots: the forward direction's each sequence's last valid state."""
        if self.reverse:
            buf[T + 1] = buf[0]
            if cells is not None:
                buf[T + 2] = cells[0]
        elif self.batch_sizes is None:
            buf[T + 1] = buf[T]
            if cells is not None:
                buf[T + 2] = cells[T]
        else:
            lengths, cols = self._lengths(T, B), np.arange(B)
            buf[T + 1] = buf[lengths, :, cols].T
            if cells is not None:
                buf[T + 2] = cells[lengths, :, cols].T

    def _input_projection(self, w, x, lo, hi, bias, out):
        """out[:hi-lo] = W x_t^T + bias for steps lo..hi-1: (hi-lo, kH, B), one batched product."""
        xp = out[:hi - lo]
        np.matmul(w, x[lo:hi].transpose(0, 2, 1), out=xp)
        if bias is not None:
            xp += bias
        return xp

    @staticmethod
    def _bias_block(b, B):
        """A bias (kH,) as a contiguous (kH, B) block: adding it is then one contiguous pass per step."""
        return np.ascontiguousarray(np.broadcast_to(b[:, None], (b.shape[0], B)))

    @staticmethod
    def _by_columns(G):
        """G (T, kH, B) as (kH, T*B), column t*B + b for step t, sequence b: the weight gradients are then
        single products with x and the previous states laid out as (T*B, .) rows."""
        T, kH, B = G.shape
        out = _workspace.get((kH, T, B), G.dtype)
        np.copyto(out, G.transpose(1, 0, 2))
        return out.reshape(kH, T * B)

    def _dw_hh(self, Gc, buf, h0T, T, B):
        """sum_t G_t h_{t-1}^T as one product over all steps (Gc (k*H, T*B), zero on padding columns)."""
        H = buf.shape[1]
        prev = buf[0:T] if not self.reverse else buf[1:T + 1]
        dw = np.matmul(Gc, prev.transpose(0, 2, 1).reshape(T * B, H))
        if self.reverse and self.batch_sizes is not None:
            # a sequence shorter than T starts (running backward) at step len-1 from h0, but the slot
            # read above is its zero output at step len: add the missing h0 term
            lengths = self._lengths(T, B)
            short = np.nonzero(lengths < T)[0]
            if short.size:
                first = Gc.reshape(-1, T, B)[:, lengths[short] - 1, short]
                dw += np.matmul(first, h0T[:, short].T)
        return dw

    def _input_grads(self, Gx, x, w_ih):
        """(dx (T, B, I) or None, dW_ih, db) from the input-side gradient Gx (kH, T*B)."""
        T, B, I = x.shape
        dx = np.matmul(Gx.T, w_ih).reshape(T, B, I) if self.needs_input_grad[0] else None
        dw_ih = np.matmul(Gx, x.reshape(T * B, I))
        return dx, dw_ih, sum_cols(Gx)

    _scratch = ()      # names of saved arrays to hand back to the workspace when the graph is freed

    def release(self) -> None:
        _workspace.put(*[self.__dict__.get(name) for name in self._scratch])
        super().release()

    # ----------------------------------------------------------------- the two backwards
    def backward_arrays(self, g):
        return tuple(self._bptt(g))

    def backward(self, g):
        """Recorded (create_graph): the same BPTT as a node that can be differentiated once more."""
        return _split_grads(RecurrentGrad.apply(g, *self.inputs, layer=self), self)

    def _bptt(self, g):  # pragma: no cover - abstract: each cell kind defines its backward through time
        raise NotImplementedError(f"{type(self).__name__} must define _bptt()")


# ====================================================================== Elman RNN
class RNNLayer(_RecurrentLayer):
    """One direction of one RNN layer (tanh or relu) over all time steps; see the module docstring."""

    def forward(self, x, h0, w_ih, w_hh, *b):
        T, B, I = x.shape
        H = w_hh.shape[1]
        bias = self._bias_block(b[0] + b[1], B) if b else None
        xp = self._input_projection(w_ih, x, 0, T, bias, np.empty((T, H, B), dtype=x.dtype))
        buf = (np.zeros if self.batch_sizes is not None else np.empty)((T + 2, H, B), dtype=x.dtype)
        h_slot, _, _ = self._slots(T)
        buf[h_slot] = h0.T
        relu = self.nonlinearity == "relu"
        for t, n, prev_n in self._steps(T, B):
            hp = self._prev_state(buf, t, T, n, h0.T, prev_n)
            out = buf[t + (0 if self.reverse else 1)][:, :n]
            np.matmul(w_hh, hp, out=out)
            out += xp[t, :, :n]
            if relu:
                np.maximum(out, 0, out=out)
            else:
                np.tanh(out, out=out)
        self._final(buf, None, T, B)
        self.buf = buf
        return buf

    def _bptt(self, g):
        x, h0, w_ih, w_hh = (t.data for t in self.inputs[:4])
        T, B, I = x.shape
        H = w_hh.shape[1]
        buf = self.buf
        h_slot, out_sl, hn_slot = self._slots(T)
        y, gy = buf[out_sl], g[out_sl]
        if self.nonlinearity == "relu":
            D = (y > 0).astype(x.dtype)
        else:
            D = 1 - y * y
        G = (np.zeros if self.batch_sizes is not None else np.empty)((T, H, B), dtype=x.dtype)
        whT = np.ascontiguousarray(w_hh.T)
        dh = g[hn_slot].copy()
        for t, n, _ in reversed(self._steps(T, B)):
            d = dh[:, :n]
            d += gy[t, :, :n]
            gt = G[t, :, :n]
            np.multiply(d, D[t, :, :n], out=gt)
            np.matmul(whT, gt, out=d)
        Gc = self._by_columns(G)
        dx, dw_ih, db = self._input_grads(Gc, x, w_ih)
        out = [dx, (dh + g[h_slot]).T, dw_ih, self._dw_hh(Gc, buf, h0.T, T, B)]
        if len(self.inputs) > 4:
            out += [db, db.copy()]
        _workspace.put(Gc.reshape(H, T, B))
        return out


# ====================================================================== LSTM
class LSTMLayer(_RecurrentLayer):
    """One direction of one LSTM layer over all time steps; see the module docstring.

    Each step's activations are kept as five (H, B) slots [g, i, f, o, tanh(c')] of one (5H, B) block, so
    that the backward step reads them once while they are in cache and combines neighbouring slots in
    single calls; the factors of the step's Jacobian are computed there, not in passes over all steps
    (those would stream every array through memory again)."""
    n_states = 2
    _scratch = ("A", "cells")

    def forward(self, x, h0, c0, w_ih, w_hh, *b):
        T, B, I = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        wi = _gates(w_ih, 4, _LSTM_ORDER, _LSTM_SCALE)
        wh = _gates(w_hh, 4, _LSTM_ORDER, _LSTM_SCALE)
        bias = _gates((b[0] + b[1])[:, None], 4, _LSTM_ORDER, _LSTM_SCALE)[:, 0] if b else None
        bias = None if bias is None else self._bias_block(bias, B)
        # input projections [g, i, f, o], computed a few steps at a time so that they are still in cache
        # when the steps read them (one product for all steps would stream megabytes through memory)
        chunk = max(1, min(T, _XP_CHUNK // max(1, B * 4 * H)))
        XP = _workspace.get((chunk, 4 * H, B), dt)
        lo = hi = 0
        padded = self.batch_sizes is not None
        A = _workspace.get((T, 5 * H, B), dt, zero=padded)   # [g, i, f, o, tanh c] per step
        A5 = A.reshape(T, 5, H, B)
        buf = (np.zeros if padded else np.empty)((T + 3, H, B), dtype=dt)
        cells = _workspace.get((T + 1, H, B), dt)    # cell states, laid out like buf's h slots
        h_slot, _, _ = self._slots(T)
        h0T, c0T = h0.T, c0.T
        buf[h_slot] = h0T
        cells[h_slot] = c0T
        tmpc = np.empty((H, B), dtype=dt)
        step = 0 if self.reverse else 1
        for t, n, prev_n in self._steps(T, B):
            hp = self._prev_state(buf, t, T, n, h0T, prev_n)
            cin = cells[t + 1 - step]
            if self.reverse and n > prev_n and t < T - 1:
                cin[:, prev_n:n] = c0T[:, prev_n:n]   # sequences starting here (cells is internal: keep it)
            if not lo <= t < hi:
                lo, hi = (t, min(T, t + chunk)) if not self.reverse else (max(0, t + 1 - chunk), t + 1)
                self._input_projection(wi, x, lo, hi, bias, XP)
            z = A[t, :4 * H, :n]
            np.matmul(wh, hp, out=z)
            z += XP[t - lo, :, :n]
            np.tanh(z, out=z)
            s = z[H:]
            s *= 0.5
            s += 0.5                            # sigmoid of the (pre-halved) i, f, o gates
            a5 = A5[t, :, :, :n]
            c = cells[t + step][:, :n]
            np.multiply(a5[2], cin[:, :n], out=c)
            tc = tmpc[:, :n]
            np.multiply(a5[1], a5[0], out=tc)
            c += tc
            np.tanh(c, out=a5[4])
            np.multiply(a5[3], a5[4], out=buf[t + step][:, :n])
        self._final(buf, cells, T, B)
        _workspace.put(XP)
        self.buf, self.A, self.cells = buf, A, cells
        return buf

    def _bptt(self, g):
        x, h0, c0, w_ih, w_hh = (t.data for t in self.inputs[:5])
        T, B, I = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        buf, A5, cells = self.buf, self.A.reshape(T, 5, H, B), self.cells
        h_slot, out_sl, hn_slot = self._slots(T)
        gy = g[out_sl]
        cprev = cells[0:T] if not self.reverse else cells[1:T + 1]
        G = _workspace.get((T, 4 * H, B), dt, zero=self.batch_sizes is not None)
        G4 = G.reshape(T, 4, H, B)                          # [g, i, f, o] pre-activation gradients
        whT = np.ascontiguousarray(_gates(w_hh, 4, _LSTM_ORDER).T)
        X = np.empty((5, H, B), dtype=dt)                   # the step's derivative factors
        Y = np.empty((2, H, B), dtype=dt)
        dh = g[hn_slot].copy()
        dc = g[hn_slot + 1].copy()
        for t, n, _ in reversed(self._steps(T, B)):
            a, x5, y, gt = A5[t, :, :, :n], X[:, :, :n], Y[:, :, :n], G4[t, :, :, :n]
            d, e = dh[:, :n], dc[:, :n]
            d += gy[t, :, :n]
            np.multiply(a, a, out=x5)
            np.subtract(a[1:4], x5[1:4], out=x5[1:4])   # s (1 - s) for i, f, o
            np.subtract(1, x5[::4], out=x5[::4])        # 1 - g^2, 1 - tanh^2 c
            np.multiply(a[3:5], d, out=y)               # [dh o, dh tanh c]
            np.multiply(y[0], x5[4], out=y[0])
            e += y[0]                                   # dc
            np.multiply(a[1::-1], e, out=gt[0:2])       # [dc i, dc g]
            np.multiply(e, cprev[t, :, :n], out=gt[2])
            np.multiply(y[1], x5[3], out=gt[3])
            np.multiply(gt[0:3], x5[0:3], out=gt[0:3])
            np.matmul(whT, G[t, :, :n], out=d)
            e *= a[2]
        Gc = self._by_columns(G)
        _workspace.put(G)
        dx, dw_ih, db = self._input_grads(Gc, x, _gates(w_ih, 4, _LSTM_ORDER))
        dw_hh = self._dw_hh(Gc, buf, h0.T, T, B)
        _workspace.put(Gc.reshape(4 * H, T, B))
        out = [dx, (dh + g[h_slot]).T, dc.T, _ungates(dw_ih, 4, _LSTM_INV), _ungates(dw_hh, 4, _LSTM_INV)]
        if len(self.inputs) > 5:
            db = _ungates(db, 4, _LSTM_INV)
            out += [db, db.copy()]
        return out


# ====================================================================== GRU
class GRULayer(_RecurrentLayer):
    """One direction of one GRU layer over all time steps; see the module docstring.

    The backward's gradient blocks are laid out [G_hn, G_r, G_z, G_n] so that [G_r, G_z, G_n] (for
    W_ih) and [G_hn, G_r, G_z] (for W_hh, reordered to [n, r, z]) are both contiguous."""

    def forward(self, x, h0, w_ih, w_hh, *b):
        T, B, I = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        wi = _gates(w_ih, 3, None, _GRU_SCALE)
        wh = _gates(w_hh, 3, None, _GRU_SCALE)
        bias = bhn = None
        if b:
            bias = b[0].copy()
            bias[:2 * H] += b[1][:2 * H]
            bias = self._bias_block(_gates(bias[:, None], 3, None, _GRU_SCALE)[:, 0], B)
            bhn = self._bias_block(b[1][2 * H:], B)
        XP = self._input_projection(wi, x, 0, T, bias, np.empty((T, 3 * H, B), dtype=dt))
        padded = self.batch_sizes is not None
        buf = (np.zeros if padded else np.empty)((T + 2, H, B), dtype=dt)
        HP = np.empty((T, 3 * H, B), dtype=dt)     # W_hh h (+ b_hn on the n block)
        A = np.empty((T, 3 * H, B), dtype=dt)      # r, z, n
        DHN = np.empty((T, H, B), dtype=dt)        # h_prev - n
        h_slot, _, _ = self._slots(T)
        buf[h_slot] = h0.T
        step = 0 if self.reverse else 1
        for t, n, prev_n in self._steps(T, B):
            hp = self._prev_state(buf, t, T, n, h0.T, prev_n)
            q = HP[t, :, :n]
            np.matmul(wh, hp, out=q)
            hn = q[2 * H:]
            if bhn is not None:
                hn += bhn[:, :n]
            a = A[t, :, :n]
            rz = a[:2 * H]
            np.add(XP[t, :2 * H, :n], q[:2 * H], out=rz)
            np.tanh(rz, out=rz)
            rz *= 0.5
            rz += 0.5
            nn_ = a[2 * H:]
            np.multiply(a[:H], hn, out=nn_)
            nn_ += XP[t, 2 * H:, :n]
            np.tanh(nn_, out=nn_)
            d = DHN[t, :, :n]
            np.subtract(hp, nn_, out=d)
            out = buf[t + step][:, :n]
            np.multiply(a[H:2 * H], d, out=out)
            out += nn_
        self._final(buf, None, T, B)
        self.buf, self.A, self.HP, self.DHN = buf, A, HP, DHN
        return buf

    def _bptt(self, g):
        x, h0, w_ih, w_hh = (t.data for t in self.inputs[:4])
        T, B, I = x.shape
        H = w_hh.shape[1]
        dt = x.dtype
        buf, A, HP, DHN = self.buf, self.A, self.HP, self.DHN
        h_slot, out_sl, hn_slot = self._slots(T)
        gy = g[out_sl]
        r, z, n_ = A[:, :H], A[:, H:2 * H], A[:, 2 * H:]
        with np.errstate(all="ignore"):
            M = np.empty((T, 2, H, B), dtype=dt)       # dh -> [G_z, G_n]
            np.multiply(DHN, z - z * z, out=M[:, 0])
            np.multiply(1 - z, 1 - n_ * n_, out=M[:, 1])
            N2 = np.empty((T, 2, H, B), dtype=dt)      # G_n -> [G_hn, G_r]
            N2[:, 0] = r
            np.multiply(HP[:, 2 * H:], r - r * r, out=N2[:, 1])
        G4 = (np.zeros if self.batch_sizes is not None else np.empty)((T, 4, H, B), dtype=dt)
        G = G4.reshape(T, 4 * H, B)
        whT = np.ascontiguousarray(_gates(w_hh, 3, _GRU_HH_ORDER).T)
        tmp = np.empty((H, B), dtype=dt)
        dh = g[hn_slot].copy()
        for t, n, _ in reversed(self._steps(T, B)):
            d = dh[:, :n]
            d += gy[t, :, :n]
            np.multiply(M[t, :, :, :n], d, out=G4[t, 2:4, :, :n])
            np.multiply(N2[t, :, :, :n], G4[t, 3:4, :, :n], out=G4[t, 0:2, :, :n])
            np.matmul(whT, G[t, :3 * H, :n], out=tmp[:, :n])
            d *= z[t, :, :n]
            d += tmp[:, :n]
        Gc = self._by_columns(G)
        Gx, Gh = Gc[H:], Gc[:3 * H]               # [G_r, G_z, G_n], [G_hn, G_r, G_z]
        dx, dw_ih, db_ih = self._input_grads(Gx, x, w_ih)
        dw_hh = _ungates(self._dw_hh(Gh, buf, h0.T, T, B), 3, _GRU_HH_INV)
        out = [dx, (dh + g[h_slot]).T, dw_ih, dw_hh]
        if len(self.inputs) > 4:
            out += [db_ih, _ungates(sum_cols(Gh), 3, _GRU_HH_INV)]
        _workspace.put(Gc.reshape(4 * H, T, B))
        return out


_LAYERS = {"LSTM": LSTMLayer, "GRU": GRULayer, "RNN_TANH": RNNLayer, "RNN_RELU": RNNLayer}


# ====================================================================== double backward
class RecurrentGrad(Function):
    """The fused layer's input gradients as a function of (g, inputs), recorded under create_graph.

    forward: the NumPy backward through time, the gradients flattened into one array.
    backward (second derivatives): the layer is recomputed step by step with nabla ops (``composed``)
    on detached copies of (g, inputs); d<grads, gg>/d(g, inputs) is taken by differentiating that twice."""

    def __init__(self, layer):
        self.layer = layer

    def forward(self, g, *inputs):
        grads = self.layer._bptt(g)
        self.which = [i for i, a in enumerate(grads) if a is not None]
        self.shapes = [grads[i].shape for i in self.which]
        return np.concatenate([grads[i].reshape(-1) for i in self.which])

    # backward_arrays only: third derivatives through the layer are refused by the engine
    def backward_arrays(self, ggd):
        from ..autograd.engine import run_backward
        layer = self.layer
        proxies = [_const(t.data).requires_grad_() for t in self.inputs]
        g_p, ins = proxies[0], proxies[1:]
        with enable_grad():
            y = composed(layer, *ins)
            firsts = run_backward([y], [g_p], create_graph=True, capture=ins, allow_unused=True)
            total, offset = None, 0
            for i, shape in zip(self.which, self.shapes):
                size = int(np.prod(shape))
                part = _const(ggd[offset:offset + size].reshape(shape))
                offset += size
                if firsts[i] is not None and firsts[i].requires_grad:
                    term = (firsts[i] * part).sum()
                    total = term if total is None else total + term
        if total is None:
            return (None,) * len(proxies)
        seconds = run_backward([total], [None], capture=proxies, allow_unused=True)
        return tuple(None if s is None else s.data for s in seconds)


def _split_grads(flat, layer):
    """The recorded flat gradient, cut back into one tensor per input of the layer."""
    out = [None] * len(layer.inputs)
    grad_fn = flat._fn
    offset = 0
    for i, shape in zip(grad_fn.which, grad_fn.shapes):
        size = int(np.prod(shape))
        out[i] = flat[offset:offset + size].reshape(shape)
        offset += size
    return tuple(out)


# ====================================================================== composed (nabla ops) path
def _sigmoid(x):
    from .activation import sigmoid
    return sigmoid(x)


def cell_step(mode, x_proj, h, c, w_hh, b_hh, nonlinearity="tanh"):
    """One step from the input projection x_proj = x W_ih^T + b_ih: returns (h', c') (c' None but for
    the LSTM).  Written with nabla ops, so it can be differentiated any number of times."""
    from .linalg import matmul
    from .shape import split
    from .activation import relu
    hp = matmul(h, w_hh.mT)
    if b_hh is not None:
        hp = hp + b_hh
    H = w_hh.shape[1]
    if mode == "LSTM":
        i, f, g, o = split(x_proj + hp, H, dim=-1)
        i, f, o = _sigmoid(i), _sigmoid(f), _sigmoid(o)
        c2 = f * c + i * g.tanh()
        return o * c2.tanh(), c2
    if mode == "GRU":
        xr, xz, xn = split(x_proj, H, dim=-1)
        hr, hz, hn = split(hp, H, dim=-1)
        r, z = _sigmoid(xr + hr), _sigmoid(xz + hz)
        n = (xn + r * hn).tanh()
        return n + z * (h - n), None
    pre = x_proj + hp
    return (relu(pre) if nonlinearity == "relu" else pre.tanh()), None


def composed(layer, *inputs):
    """The same packed output as ``layer`` (a fused layer instance carrying batch_sizes/reverse), computed
    step by step with nabla ops (used for second derivatives; also a reference in tests)."""
    from .linalg import matmul
    from .shape import stack
    from .arithmetic import where
    mode = {LSTMLayer: "LSTM", GRULayer: "GRU", RNNLayer: "RNN"}[type(layer)]
    k = 2 if mode == "LSTM" else 1
    x, states = inputs[0], inputs[1:1 + k]
    w_ih, w_hh = inputs[1 + k], inputs[2 + k]
    b_ih, b_hh = (inputs[3 + k], inputs[4 + k]) if len(inputs) > 3 + k else (None, None)
    T, B = x.shape[0], x.shape[1]
    xp = matmul(x, w_ih.mT)
    if b_ih is not None:
        xp = xp + b_ih
    h, c = states[0], (states[1] if k == 2 else None)
    sizes = layer._sizes(T, B)
    outs = [None] * T
    for t in layer._times(T):
        h2, c2 = cell_step(mode, xp[t], h, c, w_hh, b_hh, layer.nonlinearity)
        if sizes[t] < B:
            alive = np.arange(B)[:, None] < sizes[t]
            outs[t] = where(alive, h2, 0.0)
            h = where(alive, h2, h)
            c = where(alive, c2, c) if c is not None else None
        else:
            outs[t] = h2
            h, c = h2, c2
    slots = outs + [states[0]] if layer.reverse else [states[0]] + outs
    slots.append(h)
    if c is not None:
        slots.append(c)
    return stack([s.mT for s in slots], 0)       # feature-major slots (H, B), as the fused layer's


# ====================================================================== entry point
def recurrent_layer(mode, x, states, w_ih, w_hh, b_ih=None, b_hh=None, batch_sizes=None, reverse=False,
                    nonlinearity="tanh"):
    """One direction of one recurrent layer over a time-major sequence x (T, B, I).

    mode: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU"; states: (h0,) or (h0, c0), each (B, H);
    batch_sizes: sequences running at each step (batch sorted by decreasing length), or None.
    Returns (output (T, B, H), h_n, c_n or None), with padding never leaking into the states."""
    cls = _LAYERS[mode]
    if mode == "RNN_RELU":
        nonlinearity = "relu"
    elif mode == "RNN_TANH":
        nonlinearity = "tanh"
    args = [x, *states, w_ih, w_hh]
    if b_ih is not None:
        args += [b_ih, b_hh]
    bs = None if batch_sizes is None else tuple(int(v) for v in batch_sizes)
    packed = cls.apply(*args, batch_sizes=bs, reverse=reverse, nonlinearity=nonlinearity)
    T = x.shape[0]
    out = (packed[0:T] if reverse else packed[1:T + 1]).mT      # slots are (H, B): views, no copies
    h_n = packed[T + 1].mT
    c_n = packed[T + 2].mT if mode == "LSTM" else None
    return out, h_n, c_n


def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, batch_sizes=None, reverse=False):
    """(output, h_n, c_n) of one LSTM direction; see ``recurrent_layer``."""
    return recurrent_layer("LSTM", x, (h0, c0), w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)


def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, batch_sizes=None, reverse=False):
    """(output, h_n) of one GRU direction; see ``recurrent_layer``."""
    out, h_n, _ = recurrent_layer("GRU", x, (h0,), w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)
    return out, h_n


def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, batch_sizes=None, reverse=False, nonlinearity="tanh"):
    """(output, h_n) of one Elman RNN direction (tanh or relu); see ``recurrent_layer``."""
    mode = "RNN_RELU" if nonlinearity == "relu" else "RNN_TANH"
    out, h_n, _ = recurrent_layer(mode, x, (h0,), w_ih, w_hh, b_ih, b_hh, batch_sizes, reverse)
    return out, h_n
