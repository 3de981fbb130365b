"""Recurrent layers with PyTorch's names, signatures, parameter layout and initialisation:
RNN (tanh / relu), LSTM, GRU and their cells RNNCell, LSTMCell, GRUCell.

Parameters (k = 1 for RNN, 4 for LSTM with gates [i, f, g, o], 3 for GRU with gates [r, z, n]):
    weight_ih_l{layer}{_reverse}  (k*hidden, input)     input of layer 0, 2*hidden (bidirectional) or hidden after
    weight_hh_l{layer}{_reverse}  (k*hidden, hidden)
    bias_ih_l{layer}{_reverse}, bias_hh_l{layer}{_reverse}  (k*hidden,)
all drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)), so a PyTorch state_dict loads unchanged.

Each direction of each layer runs as one fused Function over the whole sequence (nabla.ops.recurrent):
one product for the input projection of all steps, one product per step for all gates, a hand-written
backward through time.  The cells are built from nabla ops (a graph per step; any order of derivatives).

Variable lengths: pass a PackedSequence (pack_padded_sequence, as in PyTorch), or, beyond PyTorch, the
padded batch with ``lengths=``.  Either way padding never reaches the states: h_n (and c_n) hold each
sequence's last valid state, outputs past a sequence's length are zero, and the reverse direction starts
each sequence at its own end.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor, from_numpy
from ..ops.dropout import dropout as _dropout
from ..ops.index import index_select
from ..ops.linalg import matmul
from ..ops.recurrent import cell_step, recurrent_layer
from ..ops.shape import cat, stack, transpose
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import (PackedSequence, _as_tensor_ints, _batch_sizes, _check_lengths, _ints,
                        packed_data_to_padded, padded_to_packed_data)

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_dtype(who, x, weight):
    if x.dtype != weight.dtype:
        raise TypeError(f"{who}: input of dtype {x.dtype} does not match the parameters' dtype {weight.dtype} "
                        f"(convert one with .to())")


class RNNBase(Module):
    """The shared machinery of RNN, LSTM and GRU (mode 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU')."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if mode not in _GATES:
            raise ValueError(f"{name}: unknown mode {mode!r} (expected one of {', '.join(_GATES)})")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout!r}")
        for arg, val in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(val, numbers.Integral) or isinstance(val, bool):
                raise TypeError(f"{name}: {arg} should be of type int, got {type(val).__name__}")
        if hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be greater than zero, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"{name}: num_layers must be greater than zero, got {num_layers}")
        if input_size < 0:
            raise ValueError(f"{name}: input_size must be non-negative, got {input_size}")
        if proj_size:
            raise ValueError(f"{name}: proj_size (LSTM with projections) is not supported; use proj_size=0")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout option adds dropout after all but last recurrent layer, so non-zero "
                          f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}")
        self.mode = mode
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers, self.bias = int(num_layers), bool(bias)
        self.batch_first, self.dropout = bool(batch_first), float(dropout)
        self.bidirectional, self.proj_size = bool(bidirectional), 0
        self.nonlinearity = "relu" if mode == "RNN_RELU" else "tanh"
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        gate = _GATES[mode] * self.hidden_size
        dirs = 2 if self.bidirectional else 1
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(self.num_layers):
            for d in range(dirs):
                layer_in = self.input_size if layer == 0 else self.hidden_size * dirs
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                shapes = [(gate, layer_in), (gate, self.hidden_size)]
                if self.bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    shapes += [(gate,), (gate,)]
                for n, s in zip(names, shapes):
                    setattr(self, n, Parameter(np.empty(s, dtype=dt)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) (PyTorch's default)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """PyTorch compacts the weights for cuDNN; nothing to do here."""

    @property
    def _flat_weights(self):
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def _layer_params(self, layer, d):
        names = self._all_weights[layer * (2 if self.bidirectional else 1) + d]
        ws = [self._parameters[n] for n in names]
        return (ws[0], ws[1], ws[2], ws[3]) if self.bias else (ws[0], ws[1], None, None)

    # ------------------------------------------------------------------ input checks
    def _check_state(self, h, expected, what):
        if not isinstance(h, Tensor):
            raise TypeError(f"{self._short_repr()}: expected {what} to be a Tensor, got {type(h).__name__}")
        if tuple(h.shape) != expected:
            raise ValueError(f"{self._short_repr()}: expected {what} of shape {expected}, got {tuple(h.shape)}")

    # ------------------------------------------------------------------ forward
    def forward(self, input, hx=None, lengths=None):
        """input (T, B, input_size) ((B, T, input_size) with batch_first; (T, input_size) unbatched) or a
        PackedSequence; hx: h_0 (num_layers * num_directions, B, hidden_size) (LSTM: a tuple (h_0, c_0)),
        zeros when omitted; lengths (beyond PyTorch): each sequence's number of valid steps.
        Returns (output, h_n) (LSTM: (output, (h_n, c_n))); output (T, B, num_directions * hidden_size)."""
        who = self._short_repr()
        packed = isinstance(input, PackedSequence)
        unbatched = not packed and isinstance(input, Tensor) and input.ndim == 2
        if packed:
            x, batch_sizes, sorted_idx, unsorted_idx = self._packed_input(who, input, lengths)
        else:
            x, batch_sizes, sorted_idx, unsorted_idx = self._padded_input(who, input, lengths)
        _check_dtype(who, x, self._parameters[self._flat_weights_names[0]])
        h0, c0 = self._initial_states(who, hx, x, unbatched, sorted_idx)
        if sorted_idx is not None and not packed:
            x = index_select(x, 1, _as_tensor_ints(sorted_idx))
        x, h_n, c_n = self._run_layers(x, h0, c0, batch_sizes)
        if packed:
            output = PackedSequence(padded_to_packed_data(x, batch_sizes), input.batch_sizes,
                                    input.sorted_indices, input.unsorted_indices)
        else:
            output = x
            if unsorted_idx is not None:
                output = index_select(output, 1, _as_tensor_ints(unsorted_idx))
            if unbatched:
                output = output.squeeze(1)
            elif self.batch_first:
                output = transpose(output, 0, 1)
        is_lstm = self.mode == "LSTM"
        if unsorted_idx is not None:
            inv = _as_tensor_ints(unsorted_idx)
            h_n = index_select(h_n, 1, inv)
            c_n = index_select(c_n, 1, inv) if is_lstm else None
        if unbatched:
            h_n = h_n.squeeze(1)
            c_n = c_n.squeeze(1) if is_lstm else None
        return (output, (h_n, c_n)) if is_lstm else (output, h_n)

    def _packed_input(self, who, input, lengths):
        """(x padded (T, B, I), batch_sizes, sorted_idx, unsorted_idx) from a PackedSequence."""
        if lengths is not None:
            raise ValueError(f"{who}: pass either a PackedSequence or lengths=, not both")
        data = input.data
        if data.ndim != 2 or data.shape[-1] != self.input_size:
            raise ValueError(f"{who}: expected packed data of shape (N, {self.input_size}), got {tuple(data.shape)}")
        batch_sizes = _ints(input.batch_sizes).astype(np.int64)
        x = packed_data_to_padded(data, batch_sizes)
        if input.sorted_indices is None:
            return x, batch_sizes, None, None
        return x, batch_sizes, _ints(input.sorted_indices), _ints(input.unsorted_indices)

    def _padded_input(self, who, input, lengths):
        """(x (T, B, I), batch_sizes, sorted_idx, unsorted_idx) from a padded batch (or one sequence) and
        its optional lengths: batch sizes only where some sequence is shorter than T."""
        if not isinstance(input, Tensor):
            raise TypeError(f"{who}: expected input to be a Tensor or a PackedSequence, got {type(input).__name__}")
        if input.ndim not in (2, 3):
            raise ValueError(f"{who}: expected input of 2 (unbatched) or 3 dimensions, got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{who}: expected input with {self.input_size} features (last dimension), "
                             f"got shape {tuple(input.shape)}")
        if input.ndim == 2:
            if lengths is not None:
                raise ValueError(f"{who}: lengths= needs a batched input (3 dimensions), got shape "
                                 f"{tuple(input.shape)}")
            x = input.unsqueeze(1)
        else:
            x = transpose(input, 0, 1) if self.batch_first else input
        if x.shape[0] == 0:
            raise ValueError(f"{who}: expected a sequence of at least one step, got shape {tuple(input.shape)}")
        if lengths is None:
            return x, None, None, None
        T, B = x.shape[0], x.shape[1]
        lens = _check_lengths(lengths, B, T, who)
        if not np.any(lens != T):
            return x, None, None, None
        order = np.argsort(-lens, kind="stable")
        batch_sizes = _batch_sizes(lens[order], T)
        if np.any(order != np.arange(B)):
            return x, batch_sizes, order, np.argsort(order)
        return x, batch_sizes, None, None

    def _initial_states(self, who, hx, x, unbatched, sorted_idx):
        """(h0, c0): one (B, H) state per layer and direction (c0 None unless LSTM), zeros without hx."""
        is_lstm = self.mode == "LSTM"
        states_n = self.num_layers * (2 if self.bidirectional else 1)
        B, H = x.shape[1], self.hidden_size
        if hx is None:
            zero = from_numpy(np.zeros((B, H), dtype=x.dtype))
            return [zero] * states_n, ([zero] * states_n if is_lstm else None)
        expected = (states_n, H) if unbatched else (states_n, B, H)
        if is_lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"{who}: expected hx to be a tuple (h_0, c_0), got {type(hx).__name__}")
            self._check_state(hx[0], expected, "h_0")
            self._check_state(hx[1], expected, "c_0")
            hs = list(hx)
        else:
            if isinstance(hx, (tuple, list)):
                raise TypeError(f"{who}: expected hx to be a Tensor h_0, got a {type(hx).__name__}")
            self._check_state(hx, expected, "h_0")
            hs = [hx]
        for h in hs:
            _check_dtype(who + " (hidden state)", h, self._parameters[self._flat_weights_names[0]])
        if unbatched:
            hs = [h.unsqueeze(1) for h in hs]
        if sorted_idx is not None:
            hs = [index_select(h, 1, _as_tensor_ints(sorted_idx)) for h in hs]
        return [hs[0][i] for i in range(states_n)], ([hs[1][i] for i in range(states_n)] if is_lstm else None)

    def _run_layers(self, x, h0, c0, batch_sizes):
        """(output of the last layer (T, B, dirs*H), h_n, c_n (None unless LSTM)): each direction of each
        layer one fused Function, dropout between layers in training."""
        is_lstm = self.mode == "LSTM"
        dirs = 2 if self.bidirectional else 1
        h_n, c_n = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                i = layer * dirs + d
                w_ih, w_hh, b_ih, b_hh = self._layer_params(layer, d)
                states = (h0[i], c0[i]) if is_lstm else (h0[i],)
                out, hn, cn = recurrent_layer(self.mode, x, states, w_ih, w_hh, b_ih, b_hh,
                                              batch_sizes=batch_sizes, reverse=d == 1,
                                              nonlinearity=self.nonlinearity)
                outs.append(out)
                h_n.append(hn)
                if is_lstm:
                    c_n.append(cn)
            x = outs[0] if dirs == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout, True)
        return x, stack(h_n, 0), (stack(c_n, 0) if is_lstm else None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act = tanh or relu.

    RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', bias=True, batch_first=False,
    dropout=0.0, bidirectional=False); forward(input, h_0=None, lengths=None) -> (output, h_n)."""

    def __init__(self, *args, **kwargs):
        nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if len(args) > 3:  # PyTorch's positional order: input_size, hidden_size, num_layers, nonlinearity, ...
            nonlinearity, args = args[3], args[:3] + args[4:]
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory: gates [i, f, g, o] = [s, s, tanh, s](x W_ih^T + b_ih + h W_hh^T + b_hh),
    c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)  (s = sigmoid).

    LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False); forward(input, (h_0, c_0)=None, lengths=None) -> (output, (h_n, c_n))."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit: r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
    n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h_t = (1 - z) n + z h_{t-1}.

    GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
    bidirectional=False); forward(input, h_0=None, lengths=None) -> (output, h_n)."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


# ====================================================================== cells
class RNNCellBase(Module):
    """One step of a recurrent layer: weight_ih (k*hidden, input), weight_hh (k*hidden, hidden),
    bias_ih, bias_hh (k*hidden,), all ~ U(-1/sqrt(hidden), 1/sqrt(hidden))."""

    _mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        for arg, val in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(val, numbers.Integral) or isinstance(val, bool):
                raise TypeError(f"{name}: {arg} should be of type int, got {type(val).__name__}")
        if hidden_size <= 0:
            raise ValueError(f"{name}: hidden_size must be greater than zero, got {hidden_size}")
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        dt = backend.get_default_dtype() if dtype is None else np.dtype(dtype)
        self.weight_ih = Parameter(np.empty((num_chunks * hidden_size, input_size), dtype=dt))
        self.weight_hh = Parameter(np.empty((num_chunks * hidden_size, hidden_size), dtype=dt))
        if bias:
            self.bias_ih = Parameter(np.empty((num_chunks * hidden_size,), dtype=dt))
            self.bias_hh = Parameter(np.empty((num_chunks * hidden_size,), dtype=dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for w in self.parameters():
            init.uniform_(w, -stdv, stdv)

    def _prepare(self, input, hx, n_states):
        """(input (B, I), states [(B, H)...], unbatched) after checking shapes and dtypes."""
        who = self._short_repr()
        if not isinstance(input, Tensor):
            raise TypeError(f"{who}: expected input to be a Tensor, got {type(input).__name__}")
        if input.ndim not in (1, 2):
            raise ValueError(f"{who}: expected input of 1 (unbatched) or 2 dimensions (batch, {self.input_size}), "
                             f"got shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{who}: expected input with {self.input_size} features (last dimension), got shape "
                             f"{tuple(input.shape)}")
        _check_dtype(who, input, self.weight_ih)
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        B, H = x.shape[0], self.hidden_size
        if hx is None:
            states = [from_numpy(np.zeros((B, H), dtype=x.dtype))] * n_states
        else:
            if n_states > 1 and (not isinstance(hx, (tuple, list)) or len(hx) != n_states):
                raise TypeError(f"{who}: expected hx to be a tuple (h, c), got {type(hx).__name__}")
            hs = list(hx) if n_states > 1 else [hx]
            expected = (H,) if unbatched else (B, H)
            for h in hs:
                if not isinstance(h, Tensor) or tuple(h.shape) != expected:
                    got = tuple(h.shape) if isinstance(h, Tensor) else type(h).__name__
                    raise ValueError(f"{who}: expected a hidden state of shape {expected} for an input of shape "
                                     f"{tuple(input.shape)}, got {got}")
                _check_dtype(who + " (hidden state)", h, self.weight_hh)
            states = [h.unsqueeze(0) for h in hs] if unbatched else hs
        return x, states, unbatched

    def _step(self, x, h, c):
        xp = matmul(x, self.weight_ih.mT)
        if self.bias_ih is not None:
            xp = xp + self.bias_ih
        nonlinearity = "relu" if self._mode == "RNN_RELU" else "tanh"
        mode = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(self._mode, self._mode)
        return cell_step(mode, xp, h, c, self.weight_hh, self.bias_hh, nonlinearity)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        return s


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu; forward(input, hx=None) -> h'."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r} (expected 'tanh' or 'relu')")
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(input_size, hidden_size, bias, 1, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h2, _ = self._step(x, h, None)
        return h2.squeeze(0) if unbatched else h2


class LSTMCell(RNNCellBase):
    """[i, f, g, o] = [s, s, tanh, s](x W_ih^T + b_ih + h W_hh^T + b_hh), c' = f c + i g, h' = o tanh(c');
    forward(input, (h, c)=None) -> (h', c')."""
    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 4, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h, c), unbatched = self._prepare(input, hx, 2)
        h2, c2 = self._step(x, h, c)
        return (h2.squeeze(0), c2.squeeze(0)) if unbatched else (h2, c2)


class GRUCell(RNNCellBase):
    """r, z = s(...), n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)), h' = (1 - z) n + z h;
    forward(input, hx=None) -> h'."""
    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, 3, dtype=dtype)

    def forward(self, input, hx=None):
        x, (h,), unbatched = self._prepare(input, hx, 1)
        h2, _ = self._step(x, h, None)
        return h2.squeeze(0) if unbatched else h2
