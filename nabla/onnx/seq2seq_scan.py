"""The teacher-forced decoder of Seq2SeqAttention as one ONNX Scan over the target positions.

Each step's input depends on the previous state through the attention, so no fused ONNX RNN op fits; an
unrolled graph would fix the target length.  Scan runs a body graph once per target position t, carrying
the state s and reading e_t (the embedded target token), with the encoder's outputs taken from the outer
graph:
    q = W_q s,   a = softmax_j(w_v^T tanh(K_j + q) + mask_j),   c = sum_j a_j h_j        (K_j = W_k h_j)
    GRUCell([e_t ; c], s):  r = sig(x W_ir^T + b_ir + s W_hr^T + b_hr),  z likewise,
                            n = tanh(x W_in^T + b_in + r (s W_hn^T + b_hn)),  s' = n + z (s - n)
and emits s' and c, stacked by Scan into (T, B, H) and (T, B, 2H).
"""
from __future__ import annotations

import numpy as np

from .graph_ops import ints, linear, transpose
from .layers import key


def _gate(g, cell, part: int, x: str, s: str, path: str):
    """(x W_i^T + b_i, s W_h^T + b_h) for gate block ``part`` (PyTorch's order r, z, n) of a GRUCell."""
    H = cell.hidden_size
    rows = slice(part * H, (part + 1) * H)
    out = []
    for inp, w, b, tag in ((x, cell.weight_ih, cell.bias_ih, "ih"), (s, cell.weight_hh, cell.bias_hh, "hh")):
        name = key(path, f"weight_{tag}.{'rzn'[part]}")
        wt = np.ascontiguousarray(np.asarray(w.data, np.float32)[rows].T)
        y = g.node("MatMul", [inp, g.constant(wt, f"{name}_t")], f"{path}.{tag}_{'rzn'[part]}")
        if b is not None:
            y = g.node("Add", [y, g.constant(np.asarray(b.data, np.float32)[rows], f"{name}_bias")], f"{y}_b")
        out.append(y)
    return out


def _gru_cell(g, cell, x: str, s: str, path: str) -> str:
    (xr, hr), (xz, hz), (xn, hn) = (_gate(g, cell, i, x, s, path) for i in range(3))
    r = g.node("Sigmoid", [g.node("Add", [xr, hr], f"{path}.r_in")], f"{path}.r")
    z = g.node("Sigmoid", [g.node("Add", [xz, hz], f"{path}.z_in")], f"{path}.z")
    n = g.node("Tanh", [g.node("Add", [xn, g.node("Mul", [r, hn], f"{path}.r_hn")], f"{path}.n_in")], f"{path}.n")
    return g.node("Add", [n, g.node("Mul", [z, g.node("Sub", [s, n], f"{path}.s_n")], f"{path}.z_s_n")], f"{path}.s")


def _step(g, module, s: str, e: str, enc: str, keys: str, mask: str, path: str):
    """One decoder step: (s', c) from (s, e_t) and the outer graph's enc, keys, mask."""
    att = module.attention
    q = g.node("Unsqueeze", [linear(g, att.W_q, s, f"{path}.attention.W_q"), ints(g, [1], f"{path}.ax1")],
               f"{path}.q")                                                                   # (B, 1, A)
    feats = g.node("Tanh", [g.node("Add", [keys, q], f"{path}.keys_q")], f"{path}.feats")
    scores = g.node("Squeeze", [linear(g, att.w_v, feats, f"{path}.attention.w_v"), ints(g, [2], f"{path}.ax2")],
                    f"{path}.scores")
    a = g.node("Softmax", [g.node("Add", [scores, mask], f"{path}.masked")], f"{path}.alignment", axis=-1)
    a_b1s = g.node("Unsqueeze", [a, ints(g, [1], f"{path}.a_ax1")], f"{path}.a_b1s")
    c = g.node("Squeeze", [g.node("MatMul", [a_b1s, enc], f"{path}.context_b1"), ints(g, [1], f"{path}.c_ax1")],
               f"{path}.context")                                                             # (B, 2H)
    x = g.node("Concat", [e, c], f"{path}.decoder_input", axis=1)
    return _gru_cell(g, module.decoder, x, s, f"{path}.decoder"), c


def attention_decoder(g, module, emb: str, enc: str, keys: str, mask: str, s0: str, path: str):
    """Scan over emb (B, T, E): the decoder states (B, T, H) and contexts (B, T, 2H) under teacher forcing."""
    from onnx import TensorProto, helper
    s_in, e_in = g.fresh(f"{path}.step.s_prev"), g.fresh(f"{path}.step.e")
    outer, g.nodes = g.nodes, []
    try:
        s_new, c = _step(g, module, s_in, e_in, enc, keys, mask, f"{path}.step")
        s_out = g.node("Identity", [s_new], f"{path}.step.s_out")
        body_nodes = g.nodes
    finally:
        g.nodes = outer
    info = lambda n: helper.make_tensor_value_info(n, TensorProto.FLOAT, None)  # noqa: E731
    body = helper.make_graph(body_nodes, "attention_decoder_step", [info(s_in), info(e_in)],
                             [info(s_new), info(s_out), info(c)])
    outs = g.node_outputs("Scan", [s0, transpose(g, emb, [1, 0, 2], f"{path}.emb_tb")],
                          [f"{path}.s_final", f"{path}.states_tb", f"{path}.contexts_tb"], f"{path}.decoder",
                          num_scan_inputs=1, body=body)
    return transpose(g, outs[1], [1, 0, 2], f"{path}.states"), transpose(g, outs[2], [1, 0, 2], f"{path}.contexts")
