"""ONNX emitters for the zoo's sequence models and ViT, and what ``nabla export`` writes for their tasks.

Each emitter mirrors its class's ``forward`` with the helpers of recurrent.py, transformer.py and graph_ops.py,
and every size that varies (batch, sequence lengths) is read at run time, so one file serves every batch size
and sequence length (ViT's and the forecaster's input sizes are fixed by their weights):

    CharRNNLM            tokens (B, T) -> logits (B, T, V), h_n (, c_n)     (the final state, for sampling on)
    GPT                  tokens (B, T) -> logits (B, T, V)                  (causal mask; T <= max_len)
    Seq2SeqAttention     src (B, S), src_lengths (B,), tgt_in (B, T) -> logits (B, T, V)   (teacher forcing;
                         the decoder's step loop is an ONNX Scan over the target positions)
    TransformerSeq2Seq   the same inputs and output (source padding mask, causal target mask)
    TextCNN / TextLSTM / TextTransformer    tokens (B, T)[, lengths (B,)] -> logits (B, classes)
    BiLSTMTagger         tokens (B, T)[, lengths (B,)] -> logits (B, T, tags)
    RNNForecaster        x (B, window, 1) -> forecast (B, horizon)
    VisionTransformer    images (B, C, H, W) -> logits (B, classes)

Without ``lengths`` the text models count the non-``<pad>`` tokens of each row, as their forward does.
Decoding (greedy, beam search, sampling) stays in nabla: the exported seq2seq graph is the teacher-forced
forward, which a decoder loop outside ONNX calls once per output token (``TransformerSeq2Seq.step`` is that
forward's last position).
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..models.forecaster import RNNForecaster
from ..models.gpt import GPT
from ..models.rnn_lm import CharRNNLM
from ..models.seq2seq import Seq2SeqAttention, TransformerSeq2Seq
from ..models.tagger import BiLSTMTagger
from ..models.text_classifiers import TextCNN, TextLSTM, TextTransformer
from ..models.vit import VisionTransformer
from . import transformer as T
from .checkpoint import ExportTarget, export_target
from .graph import Value, onnx_emitter, unsupported
from .graph_ops import (additive, beyond, expand_batch, floats, ints, lengths_from_tokens, linear, size, take,
                        transpose)
from .layers import conv1d, embedding, key, layer_norm
from .recurrent import recurrent_layers
from .seq2seq_scan import attention_decoder


def _scaled(g, x: str, scale: float, hint: str) -> str:
    return x if scale == 1.0 else g.node("Mul", [x, floats(g, scale, f"{hint}.scale")], hint)


def _lengths(g, tokens: Value, lengths, pad: int, path: str) -> str:
    return lengths[0].name if lengths else lengths_from_tokens(g, tokens.name, pad, f"{path}.lengths")


def masked_mean(g, h: str, lengths: str, path: str) -> str:
    """The mean of h (B, T, F) over each row's first lengths[b] steps: sum_t h_t keep_t / max(L, 1)."""
    keep = g.node("Cast", [g.node("Not", [beyond(g, lengths, size(g, h, 1, f"{path}.T", scalar=True),
                                                 f"{path}.padding")], f"{path}.keep_b")], f"{path}.keep", to=1)
    denom = g.node("Cast", [g.node("Max", [lengths, ints(g, 1, f"{path}.one")], f"{path}.at_least_1")],
                   f"{path}.denominator", to=1)
    w = g.node("Div", [keep, g.node("Unsqueeze", [denom, ints(g, [1], f"{path}.ax1")], f"{path}.denom_b1")],
               f"{path}.weights")
    weighted = g.node("Mul", [h, g.node("Unsqueeze", [w, ints(g, [2], f"{path}.ax2")], f"{path}.weights_bt1")],
                      f"{path}.weighted")
    return g.node("ReduceSum", [weighted, ints(g, [1], f"{path}.time")], f"{path}.mean", keepdims=0)


# ---------------------------------------------------------------------------------------------- language models
@onnx_emitter(CharRNNLM)
def _char_rnn(g, module, x, *state, path):
    """tokens (B, T)[, h_0[, c_0]] -> time-major embedding -> RNN -> linear head -> logits (B, T, V); plus h_n
    (and c_n).  With the state as inputs the graph continues a text chunk by chunk (sampling, long inputs)."""
    is_lstm = module.rnn.mode == "LSTM"
    if state and len(state) != (2 if is_lstm else 1):
        raise unsupported(module, path, f"{len(state)} state inputs; expected {'h_0 and c_0' if is_lstm else 'h_0'}")
    e = embedding(g, module.embedding, transpose(g, x.name, [1, 0], f"{path}.tokens_tb"), f"{path}.embedding")
    names = [s.name for s in state] + [None, None]
    out, h_n, c_n = recurrent_layers(g, module.rnn, e, f"{path}.rnn", h0=names[0], c0=names[1])
    logits = transpose(g, linear(g, module.decoder, out, f"{path}.decoder"), [1, 0, 2], f"{path}.logits")
    hx = None if not state else (tuple(s.tensor for s in state) if is_lstm else state[0].tensor)
    y, state = module(x.tensor, hx)
    if c_n is None:
        return Value(logits, y), Value(h_n, state)
    return Value(logits, y), Value(h_n, state[0]), Value(c_n, state[1])


@onnx_emitter(GPT)
def _gpt(g, module, x, path):
    """tokens -> E[x] (x sqrt(d) with sinusoidal positions) + positions -> causal pre-norm blocks -> head."""
    h = _scaled(g, embedding(g, module.tok_embedding, x.name, f"{path}.tok_embedding"), module.embed_scale,
                f"{path}.embed_scaled")
    h = T.positions(g, module.pos_embedding, h, f"{path}.pos_embedding")
    h = T.encoder(g, module.blocks, h, f"{path}.blocks", causal=True)
    return Value(linear(g, module.head, h, f"{path}.head"), module(x.tensor)[0])


class LanguageModelOutputs(nn.Module):
    """A language model whose ``forward(tokens, state)`` returns ``(logits, state)`` seen with flat inputs
    ``(tokens[, h_0[, c_0]])`` and flat outputs ``(logits[, h_n[, c_n]])`` (a None state left out): what
    ``nabla export`` writes for task "lm" (from the token ids alone, the state starting at zero)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, tokens, *state):
        hx = None if not state else (state if len(state) > 1 else state[0])
        logits, state = self.model(tokens, hx)
        states = () if state is None else (state if isinstance(state, (tuple, list)) else (state,))
        return (logits, *states) if states else logits


@onnx_emitter(LanguageModelOutputs)
def _lm_outputs(g, module, x, *state, path):
    return g.emit(module.model, x, *state, path=path)  # the model's own path: initializers keep its state_dict keys


# ------------------------------------------------------------------------------------------------------ seq2seq
@onnx_emitter(TransformerSeq2Seq)
def _transformer_seq2seq(g, module, src, src_lengths, tgt_in, path):
    """Encoder over the scaled source embeddings with the source padding ignored; causal decoder; linear head."""
    tr = module.transformer
    T.standard_stacks(tr, f"{path}.transformer")
    pad = T.key_padding(g, beyond(g, src_lengths.name, size(g, src.name, 1, f"{path}.S", scalar=True),
                                  f"{path}.src_padding"), f"{path}.src_mask")
    embed = lambda emb, ids, n: T.positions(  # noqa: E731
        g, module.positions, _scaled(g, embedding(g, emb, ids, f"{path}.{n}"), module.scale, f"{path}.{n}_scaled"),
        f"{path}.positions")
    memory = T.encoder(g, tr.encoder, embed(module.src_embedding, src.name, "src_embedding"),
                       f"{path}.transformer.encoder", mask=pad)
    h = T.decoder(g, tr.decoder, embed(module.tgt_embedding, tgt_in.name, "tgt_embedding"), memory,
                  f"{path}.transformer.decoder", memory_mask=pad, causal=True)
    return Value(linear(g, module.out, h, f"{path}.out"), module(src.tensor, src_lengths.tensor, tgt_in.tensor))


@onnx_emitter(Seq2SeqAttention)
def _seq2seq_attention(g, module, src, src_lengths, tgt_in, path):
    """BiGRU encoder over the valid source steps, s_0 = tanh(W [fwd_S ; bwd_1]), then the attention decoder."""
    e = embedding(g, module.src_embedding, transpose(g, src.name, [1, 0], f"{path}.src_tb"), f"{path}.src_embedding")
    out, h_n, _ = recurrent_layers(g, module.encoder, e, f"{path}.encoder", lengths=src_lengths.name)
    enc = transpose(g, out, [1, 0, 2], f"{path}.enc")                                   # (B, S, 2H)
    last = g.node("Concat", [take(g, h_n, -2, 0, f"{path}.h_fwd"), take(g, h_n, -1, 0, f"{path}.h_bwd")],
                  f"{path}.h_last", axis=1)
    s0 = g.node("Tanh", [linear(g, module.init_state, last, f"{path}.init_state")], f"{path}.s0")
    keys = linear(g, module.attention.W_k, enc, f"{path}.attention.W_k")
    mask = additive(g, beyond(g, src_lengths.name, size(g, src.name, 1, f"{path}.S", scalar=True),
                              f"{path}.src_padding"), f"{path}.src_mask")
    emb = embedding(g, module.tgt_embedding, tgt_in.name, f"{path}.tgt_embedding")      # (B, T, E)
    states, contexts = attention_decoder(g, module, emb, enc, keys, mask, s0, path)       # (B, T, H), (B, T, 2H)
    feats = g.node("Concat", [states, contexts, emb], f"{path}.features", axis=2)
    pre = g.node("Tanh", [linear(g, module.pre_output, feats, f"{path}.pre_output")], f"{path}.pre_tanh")
    return Value(linear(g, module.out, pre, f"{path}.out"), module(src.tensor, src_lengths.tensor, tgt_in.tensor))


# ----------------------------------------------------------------------------------------- text classification
@onnx_emitter(TextCNN)
def _text_cnn(g, module, tokens, *lengths, path):
    """Pad the batch to the widest filter, then per width: Conv1d, ReLU, -inf at windows past L - w, max."""
    n = _lengths(g, tokens, lengths, 0, path)
    short = g.node("Max", [g.node("Sub", [ints(g, [max(module.widths)], f"{path}.widest"),
                                          size(g, tokens.name, 1, f"{path}.T")], f"{path}.missing"),
                           ints(g, [0], f"{path}.zero")], f"{path}.pad_amount")
    pads = g.node("Concat", [ints(g, [0, 0, 0], f"{path}.pads_head"), short], f"{path}.pads", axis=0)
    ids = g.node("Pad", [tokens.name, pads, ints(g, 0, f"{path}.pad_id")], f"{path}.tokens_padded")
    e = transpose(g, embedding(g, module.embedding, ids, f"{path}.embedding"), [0, 2, 1], f"{path}.channels_first")
    pooled = []
    for i, (w, conv) in enumerate(zip(module.widths, module.convs)):
        p = f"{path}.convs.{i}"
        c = g.node("Relu", [conv1d(g, conv, e, p)], f"{p}.relu")                            # (B, F, T - w + 1)
        last = g.node("Max", [g.node("Sub", [n, ints(g, w - 1, f"{p}.w1")], f"{p}.n_w"), ints(g, 1, f"{p}.one")],
                      f"{p}.windows")
        outside = g.node("Unsqueeze", [beyond(g, last, size(g, c, 2, f"{p}.width", scalar=True), f"{p}.outside"),
                                       ints(g, [1], f"{p}.ax1")], f"{p}.outside_b1t")
        masked = g.node("Where", [outside, floats(g, -np.inf, f"{p}.neg_inf"), c], f"{p}.masked")
        pooled.append(g.node("Flatten", [g.node("GlobalMaxPool", [masked], f"{p}.max")], f"{p}.pooled", axis=1))
    feat = g.node("Concat", pooled, f"{path}.features", axis=1)
    return Value(linear(g, module.fc, feat, f"{path}.fc"), module(tokens.tensor, *[v.tensor for v in lengths]))


@onnx_emitter(TextLSTM)
def _text_lstm(g, module, tokens, *lengths, path):
    """(Bi)LSTM over the valid steps, then the masked mean of its outputs or the last states."""
    n = _lengths(g, tokens, lengths, 0, path)
    e = transpose(g, embedding(g, module.embedding, tokens.name, f"{path}.embedding"), [1, 0, 2], f"{path}.e_tb")
    out, h_n, _ = recurrent_layers(g, module.lstm, e, f"{path}.lstm", lengths=n)
    if module.pool == "mean":
        feat = masked_mean(g, transpose(g, out, [1, 0, 2], f"{path}.out_bt"), n, f"{path}.pool")
    elif module.bidirectional:
        feat = g.node("Concat", [take(g, h_n, -2, 0, f"{path}.h_fwd"), take(g, h_n, -1, 0, f"{path}.h_bwd")],
                      f"{path}.h_last", axis=1)
    else:
        feat = take(g, h_n, -1, 0, f"{path}.h_last")
    return Value(linear(g, module.fc, feat, f"{path}.fc"), module(tokens.tensor, *[v.tensor for v in lengths]))


@onnx_emitter(TextTransformer)
def _text_transformer(g, module, tokens, *lengths, path):
    """sqrt(d) E[tokens] (after a class token), + positions, encoder ignoring padding keys, mean or class token."""
    n = _lengths(g, tokens, lengths, 0, path)
    x = _scaled(g, embedding(g, module.embedding, tokens.name, f"{path}.embedding"), math.sqrt(module.d_model),
                f"{path}.embed_scaled")
    if module.pool == "cls":
        cls = expand_batch(g, g.weight(module.cls_token, key(path, "cls_token")), tokens.name, [1, module.d_model],
                           f"{path}.cls")
        x = g.node("Concat", [cls, x], f"{path}.with_cls", axis=1)
        n = g.node("Add", [n, ints(g, 1, f"{path}.one")], f"{path}.lengths_cls")
    x = T.positions(g, module.positions, x, f"{path}.positions")
    pad = T.key_padding(g, beyond(g, n, size(g, x, 1, f"{path}.width", scalar=True), f"{path}.padding"),
                        f"{path}.mask")
    h = T.encoder(g, module.encoder, x, f"{path}.encoder", mask=pad)
    feat = take(g, h, 0, 1, f"{path}.cls_out") if module.pool == "cls" else masked_mean(g, h, n, f"{path}.pool")
    return Value(linear(g, module.fc, feat, f"{path}.fc"), module(tokens.tensor, *[v.tensor for v in lengths]))


# ------------------------------------------------------------------------------------- tagging, forecasting, ViT
@onnx_emitter(BiLSTMTagger)
def _bilstm_tagger(g, module, tokens, *lengths, path):
    e = embedding(g, module.embedding, transpose(g, tokens.name, [1, 0], f"{path}.tokens_tb"), f"{path}.embedding")
    out, _, _ = recurrent_layers(g, module.lstm, e, f"{path}.lstm", lengths=lengths[0].name if lengths else None)
    logits = transpose(g, linear(g, module.head, out, f"{path}.head"), [1, 0, 2], f"{path}.logits")
    return Value(logits, module(tokens.tensor, *[v.tensor for v in lengths]))


@onnx_emitter(RNNForecaster)
def _forecaster(g, module, x, path):
    """last = x[:, -1:], z = x - last, h = RNN(z)[-1], y = last + head(h) (+ skip(z))."""
    last = g.node("Slice", [x.name, ints(g, [-1], f"{path}.start"), ints(g, [module.window], f"{path}.end"),
                            ints(g, [1], f"{path}.axis")], f"{path}.last")                # (B, 1, 1)
    z = g.node("Sub", [x.name, last], f"{path}.z")
    out, _, _ = recurrent_layers(g, module.rnn, transpose(g, z, [1, 0, 2], f"{path}.z_tb"), f"{path}.rnn")
    y = g.node("Add", [g.node("Squeeze", [last, ints(g, [2], f"{path}.ax2")], f"{path}.last_b1"),
                       linear(g, module.head, take(g, out, -1, 0, f"{path}.h_last"), f"{path}.head")], f"{path}.y")
    if module.skip is not None:
        z2 = g.node("Squeeze", [z, ints(g, [2], f"{path}.z_ax2")], f"{path}.z_bw")
        y = g.node("Add", [y, linear(g, module.skip, z2, f"{path}.skip")], f"{path}.forecast")
    return Value(y, module(x.tensor))


@onnx_emitter(VisionTransformer)
def _vit(g, module, x, path):
    """Patches by conv_proj, (N, D, h, w) -> (N, h*w, D), class token first, + positions, blocks, ln, head."""
    if list(module.heads._modules) != ["head"]:
        raise unsupported(module, path, "heads other than one linear 'head'")
    D = module.hidden_dim
    p = g.emit(module.conv_proj, x, path=f"{path}.conv_proj").name
    tokens = transpose(g, g.node("Reshape", [p, ints(g, [0, D, -1], f"{path}.flat_shape")], f"{path}.flat"),
                       [0, 2, 1], f"{path}.patches")
    cls = expand_batch(g, g.weight(module.class_token, key(path, "class_token")), x.name, [1, D], f"{path}.cls")
    enc = module.encoder
    h = g.node("Add", [g.node("Concat", [cls, tokens], f"{path}.tokens", axis=1),
                       g.weight(enc.pos_embedding, key(path, "encoder.pos_embedding"))], f"{path}.encoder.input")
    for i, layer in enumerate(enc.layers):
        h = T.encoder_layer(g, layer, h, f"{path}.encoder.layers.{i}")
    h = take(g, layer_norm(g, enc.ln, h, f"{path}.encoder.ln"), 0, 1, f"{path}.class_out")
    return Value(linear(g, module.heads.head, h, f"{path}.heads.head"), module(x.tensor))


# ---------------------------------------------------------------------------------------- nabla export targets
def _token_batch(rng, batch: int, width: int, vocab: int, low: int = 1):
    """Random ids in [low, vocab) (B, width), zero (<pad>) past random lengths in [1, width]; and the lengths."""
    lengths = rng.integers(1, width + 1, batch)
    lengths[0] = width  # one full row: the padded width is the batch's longest
    ids = rng.integers(low, max(vocab, low + 1), (batch, width))
    ids[np.arange(width)[None, :] >= lengths[:, None]] = 0
    return ids.astype(np.int64), lengths.astype(np.int64)


def _width(rng, longest: int) -> int:
    """A random sequence length (so the check on a second batch also tries another length)."""
    low = max(1, min(5, longest))
    return int(rng.integers(low, max(low, min(12, longest)) + 1))


@export_target("lm")
def lm_target(model, config) -> ExportTarget:
    """tokens (batch, sequence) -> logits (batch, sequence, vocabulary) [, h_n, c_n]."""
    wrapped = LanguageModelOutputs(model)
    longest = getattr(model, "max_len", 64)
    states = {"rnn": ["h_n"], "gru": ["h_n"], "lstm": ["h_n", "c_n"]}.get(getattr(model, "cell", None), [])
    axes = {"tokens": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"},
            **{s: {1: "batch"} for s in states}}
    return ExportTarget(wrapped, lambda b, rng: [rng.integers(0, model.vocab_size, (b, _width(rng, longest)))],
                        "token ids (batch, sequence)", ["tokens"], ["logits", *states], axes)


@export_target("seq2seq")
def seq2seq_target(model, config) -> ExportTarget:
    """The teacher-forced forward: src (batch, S), src_lengths (batch,), tgt_in (batch, T) -> logits."""
    def inputs(b, rng):
        src, lengths = _token_batch(rng, b, _width(rng, 64), model.src_vocab_size, low=3)
        tgt = rng.integers(3, max(model.tgt_vocab_size, 4), (b, _width(rng, 64))).astype(np.int64)
        tgt[:, 0] = 1  # <bos>
        return [src, lengths, tgt]
    axes = {"src": {0: "batch", 1: "source"}, "src_lengths": {0: "batch"}, "tgt_in": {0: "batch", 1: "target"},
            "logits": {0: "batch", 1: "target"}}
    return ExportTarget(model, inputs, "src ids (batch, source), src_lengths (batch,), tgt_in ids (batch, target)",
                        ["src", "src_lengths", "tgt_in"], ["logits"], axes)


@export_target("text-classification", "tagging")
def tokens_target(model, config) -> ExportTarget:
    """tokens (batch, sequence) padded with 0 and their lengths (batch,) -> logits (per sequence or per token)."""
    vocab = model.embedding.num_embeddings
    per_token = isinstance(model, BiLSTMTagger)
    axes = {"tokens": {0: "batch", 1: "sequence"}, "lengths": {0: "batch"},
            "logits": {0: "batch", 1: "sequence"} if per_token else {0: "batch"}}
    return ExportTarget(model, lambda b, rng: list(_token_batch(rng, b, _width(rng, 64), vocab)),
                        "token ids (batch, sequence), lengths (batch,)", ["tokens", "lengths"], ["logits"], axes)


@export_target("forecasting")
def forecasting_target(model, config) -> ExportTarget:
    """The standardised window (batch, window, 1) -> forecast (batch, horizon)."""
    return ExportTarget(model, lambda b, rng: [rng.standard_normal((b, model.window, 1)).astype(np.float32)],
                        f"(batch, {model.window}, 1)", ["input"], ["forecast"])


__all__ = ["LanguageModelOutputs", "masked_mean", "lm_target", "seq2seq_target", "tokens_target",
           "forecasting_target"]
