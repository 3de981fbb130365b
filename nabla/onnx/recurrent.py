"""ONNX emitters for nn.RNN, nn.LSTM and nn.GRU: one ONNX RNN / LSTM / GRU node per layer (both directions in
one node when bidirectional), so the batch and the sequence length stay dynamic.

PyTorch's (nabla's) parameters are rearranged into ONNX's layout, per layer, stacked over directions:
    W = weight_ih (gates*H, in),  R = weight_hh (gates*H, H),  B = [bias_ih ; bias_hh] (2*gates*H)
with the gate blocks reordered:  LSTM  PyTorch [i, f, g, o] -> ONNX [i, o, f, c];
                                 GRU   PyTorch [r, z, n]    -> ONNX [z, r, h], linear_before_reset=1
(PyTorch's n = tanh(W_in x + b_in + r (W_hn h + b_hn)) applies r after the recurrent product, which is ONNX's
linear_before_reset=1).  ONNX's Y (T, dirs, B, H) becomes nabla's (T, B, dirs*H) by Transpose + Reshape; h_n
stacks each layer's Y_h (dirs, B, H), layer-major as PyTorch.

Variable lengths (nabla's ``lengths=``) are ONNX's ``sequence_lens``: as in nabla, padding never reaches the
states, outputs past a sequence's end are zero, h_n holds each sequence's last valid state and the reverse
direction starts at each sequence's own end.  Dropout between layers is a training-time thing (export is eval).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from .graph import Value, onnx_emitter, unsupported
from .graph_ops import ints, reshape, transpose
from .layers import key

_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(array, mode: str, hidden: int):
    """Gate blocks (rows of ``hidden``) from PyTorch's order into ONNX's."""
    a = np.asarray(getattr(array, "data", array), dtype=np.float32)
    return np.concatenate([a[i * hidden:(i + 1) * hidden] for i in _GATE_ORDER[mode]], 0)


def _layer_weights(g, module, layer: int, path: str):
    """(W, R, B) initializer names of one layer, directions stacked (ONNX's layout, gates reordered)."""
    mode, H, dirs = module.mode, module.hidden_size, 2 if module.bidirectional else 1
    ws, rs, bs = [], [], []
    for d in range(dirs):
        w_ih, w_hh, b_ih, b_hh = module._layer_params(layer, d)
        ws.append(_reorder(w_ih, mode, H))
        rs.append(_reorder(w_hh, mode, H))
        gates = len(_GATE_ORDER[mode]) * H
        b = np.zeros(2 * gates, np.float32) if b_ih is None else \
            np.concatenate([_reorder(b_ih, mode, H), _reorder(b_hh, mode, H)])
        bs.append(b)
    name = key(path, f"l{layer}")
    return (g.constant(np.stack(ws), f"{name}.W"), g.constant(np.stack(rs), f"{name}.R"),
            g.constant(np.stack(bs), f"{name}.B"))


def _layer_states(g, state: str | None, layer: int, dirs: int, hint: str) -> str:
    """Rows ``layer*dirs .. (layer+1)*dirs`` of an initial state (layers*dirs, B, H), or "" (zeros)."""
    if not state:
        return ""
    bounds = [ints(g, [layer * dirs], f"{hint}.start"), ints(g, [(layer + 1) * dirs], f"{hint}.end")]
    return g.node("Slice", [state, *bounds, ints(g, [0], f"{hint}.axis")], hint)


def recurrent_layers(g, module, x: str, path: str, lengths: str | None = None, h0: str | None = None,
                     c0: str | None = None):
    """nabla's ``_run_layers`` as ONNX: ``x`` time-major (T, B, in); ``lengths`` (B,) int64 or None; initial
    states (layers*dirs, B, H) or None (zeros).  Returns the ONNX names (output (T, B, dirs*H), h_n, c_n or
    None)."""
    if module.proj_size:
        raise unsupported(module, path, f"proj_size={module.proj_size}")
    mode, H, dirs = module.mode, module.hidden_size, 2 if module.bidirectional else 1
    op = _OP[mode]
    attrs = {"hidden_size": H, "direction": "bidirectional" if dirs == 2 else "forward"}
    if op == "RNN":
        attrs["activations"] = ["Relu" if mode == "RNN_RELU" else "Tanh"] * dirs
    if op == "GRU":
        attrs["linear_before_reset"] = 1
    seq_lens = g.node("Cast", [lengths], f"{path}.sequence_lens", to=6) if lengths else ""  # 6: INT32
    h_n, c_n = [], []
    for layer in range(module.num_layers):
        hint = f"{path}.l{layer}"
        inputs = [x, *_layer_weights(g, module, layer, path), seq_lens, _layer_states(g, h0, layer, dirs, f"{hint}.h0")]
        if op == "LSTM":
            inputs.append(_layer_states(g, c0, layer, dirs, f"{hint}.c0"))
        while inputs and inputs[-1] == "":  # trailing optional inputs are left out
            inputs.pop()
        outputs = g.node_outputs(op, inputs, [f"{hint}.Y", f"{hint}.Y_h"] + ([f"{hint}.Y_c"] if op == "LSTM" else []),
                                 hint, **attrs)
        x = reshape(g, transpose(g, outputs[0], [0, 2, 1, 3], f"{hint}.Y_tbdh"), [0, 0, -1], f"{hint}.out")
        h_n.append(outputs[1])
        if op == "LSTM":
            c_n.append(outputs[2])
    stack = lambda names, h: names[0] if len(names) == 1 else g.node("Concat", names, h, axis=0)  # noqa: E731
    return x, stack(h_n, f"{path}.h_n"), (stack(c_n, f"{path}.c_n") if op == "LSTM" else None)


@onnx_emitter(nn.RNN, nn.LSTM, nn.GRU)
def _recurrent(g, module, x, *states, path):
    """``module(x)`` or ``module(x, h_0)`` (LSTM: ``module(x, (h_0, c_0))``, given as two inputs): the graph
    outputs are the output, h_n (and c_n).  Batched input only (3-d); no ``lengths`` (model emitters pass it)."""
    if len(x.shape) != 3:
        raise unsupported(module, path, f"input of rank {len(x.shape)}; export supports batched 3-d input")
    is_lstm = module.mode == "LSTM"
    if states and len(states) != (2 if is_lstm else 1):
        raise unsupported(module, path, f"{len(states)} state inputs; expected {'h_0 and c_0' if is_lstm else 'h_0'}")
    name = transpose(g, x.name, [1, 0, 2], f"{path}.time_major") if module.batch_first else x.name
    names = [s.name for s in states] + [None, None]
    out, h_n, c_n = recurrent_layers(g, module, name, path, h0=names[0], c0=names[1])
    if module.batch_first:
        out = transpose(g, out, [1, 0, 2], f"{path}.batch_first")
    hx = None if not states else ((states[0].tensor, states[1].tensor) if is_lstm else states[0].tensor)
    y, state = module(x.tensor, hx)
    if is_lstm:
        return Value(out, y), Value(h_n, state[0]), Value(c_n, state[1])
    return Value(out, y), Value(h_n, state)
