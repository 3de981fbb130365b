"""Sequence-to-sequence models: an RNN encoder-decoder with Bahdanau attention, and the Transformer.

Bahdanau, Cho and Bengio (2015), "Neural machine translation by jointly learning to align and translate":

    encoder   (h_1..h_S) = BiGRU(Embedding(x))                      h_j = [forward_j ; backward_j]
    start     s_0 = tanh(W_init [forward_S ; backward_1])
    step t    e_tj = v^T tanh(W_q s_{t-1} + W_k h_j)                 additive attention score
              a_t = softmax_j(e_t) (padding masked),  c_t = sum_j a_tj h_j
              s_t = GRUCell([Embedding(y_{t-1}) ; c_t], s_{t-1})
              p(y_t | y_<t, x) = softmax(W_out tanh(W_pre [s_t ; c_t ; Embedding(y_{t-1})]))

The alignment a_t is what the ``attention-maps`` experiment draws: for grapheme-to-phoneme conversion it
runs roughly along the diagonal, letters to the phonemes they spell.

The Transformer (Vaswani et al. 2017) is nabla.nn.Transformer (pre-norm) between token embeddings with
sinusoidal positions and a linear head; the decoder's self-attention is causal, its cross-attention
ignores the source's padding.

Both train with teacher forcing (``loss(src, src_lengths, tgt_in, tgt_out)``) and decode greedily or by
beam search through nabla.train.decoding (``decode(src, src_lengths, max_len, beam_size)``).
Registered as ``seq2seq-attn`` and ``seq2seq-transformer`` (task "seq2seq"): the builder's ``in_shape``
is ``(source vocabulary size,)`` and ``num_classes`` the target vocabulary size.
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from ..autograd.tensor import Tensor, from_numpy
from ..ops.activation import softmax, tanh
from ..ops.loss import cross_entropy
from ..ops.shape import cat, stack
from .decoding import beam_search, greedy_decode
from .registry import register_model

PAD, BOS, EOS = 0, 1, 2  # nabla.data.text's special ids


def _ints(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.int64)


def _padding_mask(lengths, width) -> np.ndarray:
    """(B, width) bool, True at positions >= length (padding)."""
    return np.arange(width)[None, :] >= _ints(lengths).reshape(-1, 1)


class Seq2SeqAttention(nn.Module):
    """The RNN encoder-decoder with additive (Bahdanau) attention described in the module docstring.

    ``forward(src (B, S), src_lengths (B,), tgt_in (B, T)) -> logits (B, T, V)``; ``attention`` returns
    the alignments (B, T, S) under teacher forcing."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, embed_dim: int = 64, hidden_size: int = 256,
                 attention_size: int | None = None, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        H, E = hidden_size, embed_dim
        self.src_vocab_size, self.tgt_vocab_size, self.hidden_size = src_vocab_size, tgt_vocab_size, H
        self.src_embedding = nn.Embedding(src_vocab_size, E, padding_idx=PAD)
        self.encoder = nn.GRU(E, H, num_layers, batch_first=True, bidirectional=True,
                              dropout=dropout if num_layers > 1 else 0.0)
        self.init_state = nn.Linear(2 * H, H)
        self.attention = nn.AdditiveAttention(H, 2 * H, attention_size or H)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, E, padding_idx=PAD)
        self.decoder = nn.GRUCell(E + 2 * H, H)
        self.pre_output = nn.Linear(H + 2 * H + E, H)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(H, tgt_vocab_size)

    # ------------------------------------------------------------------ pieces
    def encode(self, src, src_lengths):
        """-> (keys (B, S, 2H), projected keys (B, S, attention_size), additive mask (B, S), s_0 (B, H))."""
        enc, h_n = self.encoder(self.dropout(self.src_embedding(src)), lengths=src_lengths)
        s0 = tanh(self.init_state(cat([h_n[-2], h_n[-1]], 1)))       # last layer: forward end, backward start
        pad = _padding_mask(src_lengths, src.shape[1])
        mask = from_numpy(np.where(pad, -np.inf, 0.0).astype(enc.dtype))
        return enc, self.attention.W_k(enc), mask, s0

    def _attend(self, s, enc, keys, mask):
        """Additive attention of query s (B, H) over the encoder states: (context (B, 2H), weights (B, S)).
        The keys' projection W_k h_j is computed once per sequence, not once per step."""
        q = self.attention.W_q(s).unsqueeze(1)                          # (B, 1, A)
        scores = self.attention.w_v(tanh(keys + q)).squeeze(-1) + mask  # (B, S)
        a = softmax(scores, dim=-1)
        return (a.unsqueeze(1) @ enc).squeeze(1), a

    def _run(self, emb, enc, keys, mask, s, want_attention=False):
        """Teacher-forced decoder over emb (B, T, E): features (B*T, H + 2H + E) and the alignments."""
        states, contexts, alignments = [], [], []
        for t in range(emb.shape[1]):
            e = emb[:, t]
            c, a = self._attend(s, enc, keys, mask)
            s = self.decoder(cat([e, c], 1), s)
            states.append(s)
            contexts.append(c)
            if want_attention:
                alignments.append(a)
        feats = cat([stack(states, 1), stack(contexts, 1), emb], 2)   # (B, T, H + 2H + E)
        return feats, (stack(alignments, 1) if want_attention else None)

    def _logits(self, feats):
        flat = feats.reshape(-1, feats.shape[-1])
        return self.out(self.dropout(tanh(self.pre_output(flat))))

    # ------------------------------------------------------------------ training
    def forward(self, src, src_lengths, tgt_in):
        enc, keys, mask, s0 = self.encode(src, src_lengths)
        feats, _ = self._run(self.dropout(self.tgt_embedding(tgt_in)), enc, keys, mask, s0)
        return self._logits(feats).reshape(tgt_in.shape[0], tgt_in.shape[1], self.tgt_vocab_size)

    def loss(self, src, src_lengths, tgt_in, tgt_out, pad: int = PAD):
        """Mean cross-entropy over the non-padding target tokens (teacher forcing)."""
        enc, keys, mask, s0 = self.encode(src, src_lengths)
        feats, _ = self._run(self.dropout(self.tgt_embedding(tgt_in)), enc, keys, mask, s0)
        return cross_entropy(self._logits(feats), tgt_out.reshape(-1), ignore_index=pad)

    def attention_weights(self, src, src_lengths, tgt_in) -> np.ndarray:
        """The alignments a_t over the source (B, T, S) while reading ``tgt_in`` (teacher forcing)."""
        enc, keys, mask, s0 = self.encode(src, src_lengths)
        _, a = self._run(self.tgt_embedding(tgt_in), enc, keys, mask, s0, want_attention=True)
        return np.asarray(a.data)

    # ------------------------------------------------------------------ decoding
    def step(self, tokens, state):
        """One decoder step for nabla.train.decoding (feed="last"): state = (s, enc, keys, mask)."""
        s, enc, keys, mask = state
        e = self.tgt_embedding(tokens)
        c, _ = self._attend(s, enc, keys, mask)
        s = self.decoder(cat([e, c], 1), s)
        return self._logits(cat([s, c, e], 1)), (s, enc, keys, mask)

    def decode(self, src, src_lengths, max_len: int = 50, beam_size: int = 1, length_penalty: float = 1.0):
        """Output ids (B, L) (``<pad>`` after ``<eos>``): greedy when beam_size == 1, else beam search."""
        state = self.encode(src, src_lengths)
        state = (state[3], state[0], state[1], state[2])
        B = src.shape[0]
        if beam_size == 1:
            return greedy_decode(self.step, BOS, max_len, eos=EOS, state=state, batch_size=B)[0]
        return beam_search(self.step, BOS, beam_size, max_len, eos=EOS, length_penalty=length_penalty,
                           state=state, batch_size=B)[0]


class TransformerSeq2Seq(nn.Module):
    """Token embeddings (scaled by sqrt(d_model)) + sinusoidal positions -> nn.Transformer (pre-norm, batch
    first) -> Linear(target vocabulary).  ``forward(src, src_lengths, tgt_in) -> logits (B, T, V)``."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int = 128, nhead: int = 4,
                 num_encoder_layers: int = 2, num_decoder_layers: int = 2, dim_feedforward: int = 512,
                 dropout: float = 0.1, max_len: int = 512, activation: str = "relu"):
        super().__init__()
        self.src_vocab_size, self.tgt_vocab_size, self.d_model = src_vocab_size, tgt_vocab_size, d_model
        self.src_embedding = nn.Embedding(src_vocab_size, d_model, padding_idx=PAD)
        self.tgt_embedding = nn.Embedding(tgt_vocab_size, d_model, padding_idx=PAD)
        for emb in (self.src_embedding, self.tgt_embedding):  # unit scale after the sqrt(d) lift
            nn.init.normal_(emb.weight, 0.0, d_model ** -0.5)
        self.positions = nn.SinusoidalPositionalEncoding(d_model, dropout=dropout, max_len=max_len, batch_first=True)
        self.transformer = nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                          dropout, activation=activation, batch_first=True, norm_first=True)
        self.out = nn.Linear(d_model, tgt_vocab_size)
        self.scale = math.sqrt(d_model)

    def encode(self, src, src_lengths):
        """-> (memory (B, S, d_model), source padding mask (B, S) bool, True at padding)."""
        pad = from_numpy(_padding_mask(src_lengths, src.shape[1]))
        x = self.positions(self.src_embedding(src) * self.scale)
        return self.transformer.encoder(x, src_key_padding_mask=pad), pad

    def _decode_features(self, tgt_in, memory, pad):
        y = self.positions(self.tgt_embedding(tgt_in) * self.scale)
        # target padding sits after each sequence's end: the causal mask already keeps it out of real positions
        return self.transformer.decoder(y, memory, memory_key_padding_mask=pad, tgt_is_causal=True)

    def forward(self, src, src_lengths, tgt_in):
        memory, pad = self.encode(src, src_lengths)
        return self.out(self._decode_features(tgt_in, memory, pad))

    def loss(self, src, src_lengths, tgt_in, tgt_out, pad: int = PAD):
        memory, mask = self.encode(src, src_lengths)
        h = self._decode_features(tgt_in, memory, mask)
        return cross_entropy(self.out(h.reshape(-1, self.d_model)), tgt_out.reshape(-1), ignore_index=pad)

    def step(self, prefix, state):
        """feed="prefix": the whole target prefix (N, t) -> next-token logits (N, V); state = (memory, mask)."""
        memory, pad = state
        h = self._decode_features(prefix, memory, pad)
        return self.out(h[:, -1]), state

    def decode(self, src, src_lengths, max_len: int = 50, beam_size: int = 1, length_penalty: float = 1.0):
        state = self.encode(src, src_lengths)
        B = src.shape[0]
        if beam_size == 1:
            return greedy_decode(self.step, BOS, max_len, eos=EOS, state=state, batch_size=B, feed="prefix")[0]
        return beam_search(self.step, BOS, beam_size, max_len, eos=EOS, length_penalty=length_penalty, state=state,
                           batch_size=B, feed="prefix")[0]

    def attention_weights(self, src, src_lengths, tgt_in) -> np.ndarray:
        """The last decoder layer's cross-attention, per head: (B, heads, T, S) (target reads source)."""
        memory, pad = self.encode(src, src_lengths)
        dec = self.transformer.decoder
        y = self.positions(self.tgt_embedding(tgt_in) * self.scale)
        for layer in dec.layers[:-1]:
            y = layer(y, memory, memory_key_padding_mask=pad, tgt_is_causal=True)
        last = dec.layers[-1]
        if last.norm_first:
            y = y + last._sa_block(last.norm1(y), None, None, True)
            q = last.norm2(y)
        else:
            y = last.norm1(y + last._sa_block(y, None, None, True))
            q = y
        _, w = last.multihead_attn(q, memory, memory, key_padding_mask=pad, need_weights=True,
                                   average_attn_weights=False)
        return np.asarray(w.data)


@register_model("seq2seq-attn", "RNN encoder-decoder with Bahdanau (additive) attention: BiGRU encoder, GRU "
                "decoder; G2P (cmudict) or translation (kjv-rv1909)", task="seq2seq", default_dataset="cmudict",
                training={"batch_size": 64, "lr": 2e-3, "epochs": 2}, embed_dim=64, hidden_size=256, attention_size=256, num_layers=1, dropout=0.0)
def _seq2seq_attn(in_shape, num_classes, **options):
    return Seq2SeqAttention(int(in_shape[0]), num_classes, **options)


@register_model("seq2seq-transformer", "Transformer encoder-decoder (pre-norm, sinusoidal positions); G2P "
                "(cmudict) or translation (kjv-rv1909)", task="seq2seq", default_dataset="cmudict",
                training={"batch_size": 64, "lr": 1e-3, "epochs": 2, "warmup": 100}, d_model=128,
                nhead=4, num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=512, dropout=0.1,
                max_len=512)
def _seq2seq_transformer(in_shape, num_classes, **options):
    return TransformerSeq2Seq(int(in_shape[0]), num_classes, **options)


__all__ = ["Seq2SeqAttention", "TransformerSeq2Seq"]
