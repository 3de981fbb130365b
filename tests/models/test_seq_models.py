"""Sequence models: char-level RNN LMs, GPT, the Bahdanau and Transformer seq2seq models, and the
training / evaluation loops of nabla.train.sequence (tiny sizes, synthetic tokens)."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla import optim
from nabla.autograd.tensor import Tensor
from nabla.models import build_model, get_model_entry
from nabla.models.gpt import GPT
from nabla.models.rnn_lm import CharRNNLM
from nabla.models.seq2seq import BOS, EOS, PAD, Seq2SeqAttention, TransformerSeq2Seq
from nabla.ops.loss import cross_entropy
from nabla.train import sequence

V = 11


def ids(*shape, seed=0, low=3, high=V):
    return Tensor._make(np.random.default_rng(seed).integers(low, high, shape).astype(np.int64), None)


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(np.asarray(a.data if isinstance(a, Tensor) else a),
                               np.asarray(b.data if isinstance(b, Tensor) else b), rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------- char RNN LMs
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_char_rnn_shapes_loss_and_state_carry(cell):
    nb.manual_seed(0)
    m = CharRNNLM(V, cell, embed_dim=5, hidden_size=7, num_layers=2).eval()
    x, y = ids(3, 8), ids(3, 8, seed=1)
    logits, state = m(x)
    assert logits.shape == (3, 8, V)
    states = state if cell == "lstm" else (state,)
    assert all(s.shape == (2, 3, 7) for s in states)
    loss, _ = m.loss(x, y)
    close(loss, cross_entropy(logits.reshape(-1, V), y.reshape(-1)))
    # reading the text in two chunks with the state carried equals reading it at once
    a, s1 = m(x[:, :5])
    b, _ = m(x[:, 5:], s1)
    close(np.concatenate([a.data, b.data], 1), logits)
    # step-by-step decoding equals the full forward
    st, outs = None, []
    for t in range(8):
        lg, st = m.step(x[:, t], st)
        outs.append(lg.data)
    close(np.stack(outs, 1), logits)


def test_char_rnn_gradients_and_tied_weights():
    nb.manual_seed(0)
    m = CharRNNLM(V, "lstm", embed_dim=6, hidden_size=6, tie_weights=True)
    assert m.decoder.weight is m.embedding.weight
    assert len(list(m.parameters())) == len(dict(m.named_parameters()))   # the shared weight counted once
    loss, _ = m.loss(ids(2, 5), ids(2, 5, seed=2))
    loss.backward()
    assert all(p.grad is not None and np.isfinite(p.grad.data).all() for p in m.parameters())
    with pytest.raises(ValueError, match="tie_weights needs embed_dim == hidden_size"):
        CharRNNLM(V, "lstm", embed_dim=4, hidden_size=6, tie_weights=True)
    with pytest.raises(ValueError, match="unknown cell 'transformer'"):
        CharRNNLM(V, "transformer")


# ---------------------------------------------------------------------------------------------- GPT
@pytest.mark.parametrize("positional", ["learned", "sinusoidal"])
def test_gpt_is_causal_and_steps_agree(positional):
    nb.manual_seed(0)
    m = GPT(V, d_model=8, num_layers=2, num_heads=2, dim_feedforward=16, max_len=12, positional=positional).eval()
    x = ids(2, 6)
    logits, state = m(x)
    assert logits.shape == (2, 6, V) and state is None
    x2 = x.data.copy()
    x2[:, 4:] = 3                                           # change the future: the past does not move
    close(m(Tensor._make(x2, None))[0].data[:, :4], logits.data[:, :4])
    lg, _ = m.step(x[:, :4])
    close(lg, logits.data[:, 3])
    loss, _ = m.loss(x, ids(2, 6, seed=3))
    close(loss, cross_entropy(logits.reshape(-1, V), ids(2, 6, seed=3).reshape(-1)))
    maps = m.attention_weights(x)
    assert len(maps) == 2 and maps[0].shape == (2, 2, 6, 6)
    close(maps[0].sum(-1), np.ones((2, 2, 6)))
    assert np.all(np.triu(maps[1], 1) == 0)                  # nothing read from later positions
    long = ids(1, 15)
    lg, _ = m.step(long)                                     # a long prefix is cut to the last max_len tokens
    close(lg, m.step(long[:, 3:])[0])
    with pytest.raises(ValueError, match="exceeds max_len=12"):
        m(long)


def test_gpt_tied_weights_and_errors():
    m = GPT(V, d_model=8, num_layers=1, num_heads=2, tie_weights=True)
    assert m.head.weight is m.tok_embedding.weight
    assert GPT(V, d_model=8, num_layers=1, num_heads=2, tie_weights=False).num_parameters() \
        == m.num_parameters() + V * 8
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        GPT(V, d_model=10, num_heads=4)
    with pytest.raises(ValueError, match="positional must be"):
        GPT(V, d_model=8, num_heads=2, positional="rotary")


# ---------------------------------------------------------------------------------------------- seq2seq
def _pairs(B=3, S=6, T=5, seed=0):
    rng = np.random.default_rng(seed)
    lengths = np.array([S, S - 2, 2][:B], dtype=np.int64)
    src = rng.integers(3, V, (B, S))
    src[np.arange(S)[None, :] >= lengths[:, None]] = PAD
    tgt = rng.integers(3, V, (B, T))
    tgt_in = np.concatenate([np.full((B, 1), BOS), tgt[:, :-1]], 1)
    t = Tensor._make
    return t(src, None), t(lengths, None), t(tgt_in, None), t(tgt, None)


def _models():
    nb.manual_seed(0)
    return [Seq2SeqAttention(V, V + 2, embed_dim=5, hidden_size=6, attention_size=4),
            TransformerSeq2Seq(V, V + 2, d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=16, dropout=0.0)]


@pytest.mark.parametrize("k", [0, 1], ids=["bahdanau", "transformer"])
def test_seq2seq_shapes_padding_and_decoding(k):
    m = _models()[k].eval()
    src, n, tin, tout = _pairs()
    logits = m(src, n, tin)
    assert logits.shape == (3, 5, V + 2)
    close(m.loss(src, n, tin, tout), cross_entropy(logits.reshape(-1, V + 2), tout.reshape(-1)))
    # more padding columns change nothing: padding never leaks into the encoder or the attention
    wider = Tensor._make(np.pad(src.data, ((0, 0), (0, 3))), None)
    close(m(wider, n, tin), logits, 1e-4)
    w = m.attention_weights(src, n, tin)
    w = w if w.ndim == 3 else w[:, 0]
    close(w.sum(-1), np.ones(w.shape[:2]))
    assert np.all(w[2, :, 2:] == 0)                           # the short source's padding gets no weight
    # greedy decoding picks, at every step, the argmax of the teacher-forced logits of its own output
    out = m.decode(src, n, max_len=4)
    assert out.shape[0] == 3 and out.shape[1] <= 4
    fed = np.concatenate([np.full((3, 1), BOS), out.data[:, :-1]], 1)
    again = m(src, n, Tensor._make(fed, None)).data.argmax(-1)
    done = np.cumsum(out.data == EOS, 1) - (out.data == EOS) > 0   # positions after an <eos>
    assert np.all((again == out.data) | done)
    beam = m.decode(src, n, max_len=4, beam_size=3)
    assert beam.shape[0] == 3


def test_seq2seq_loss_ignores_padding_and_learns():
    for m in _models():
        src, n, tin, tout = _pairs()
        padded_out = tout.data.copy()
        padded_out[2, 3:] = PAD
        loss = m.loss(src, n, tin, Tensor._make(padded_out, None))
        logits = m(src, n, tin).data.reshape(-1, V + 2)
        keep = padded_out.reshape(-1) != PAD
        lp = logits - logits.max(1, keepdims=True)
        lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
        close(loss, -lp[keep, padded_out.reshape(-1)[keep]].mean(), 1e-4)
        opt = optim.Adam(m.parameters(), lr=2e-2)
        first = None
        for _ in range(50):
            opt.zero_grad()
            loss = m.loss(src, n, tin, tout)
            loss.backward()
            opt.step()
            first = first if first is not None else float(loss.data)
        assert float(loss.data) < 0.5 * first


def test_registry_entries():
    for name, task in (("char-rnn", "lm"), ("char-lstm", "lm"), ("char-gru", "lm"), ("gpt", "lm"),
                       ("seq2seq-attn", "seq2seq"), ("seq2seq-transformer", "seq2seq")):
        e = get_model_entry(name)
        assert e.task == task
    m = build_model("char-gru", (16,), V, hidden_size=8, embed_dim=4)
    assert isinstance(m, CharRNNLM) and m.cell == "gru"
    m = build_model("seq2seq-attn", (V,), V + 1, hidden_size=8, embed_dim=4, attention_size=4)
    assert m.out.out_features == V + 1 and m.src_embedding.num_embeddings == V
    with pytest.raises(TypeError, match="no option"):
        build_model("gpt", (16,), V, colour="red")


# ---------------------------------------------------------------------------------------------- loops
def test_lr_schedule():
    assert sequence.lr_at(1.0, 0.0, 0, warmup=10) == pytest.approx(0.1)
    assert sequence.lr_at(1.0, 0.0, 10, warmup=10) == pytest.approx(1.0)
    assert sequence.lr_at(1.0, 0.5, 50) == pytest.approx(0.55)
    assert sequence.lr_at(1.0, 1.0, 99, min_ratio=0.1) == pytest.approx(0.1)


def test_evaluate_lm_matches_manual_windows():
    nb.manual_seed(0)
    m = GPT(V, d_model=8, num_layers=1, num_heads=2, max_len=8).eval()
    stream = np.random.default_rng(0).integers(3, V, 8 * 5 + 1)
    got = sequence.evaluate_lm(m, stream, batch_size=2, seq_len=8)
    x, y = stream[:-1].reshape(5, 8), stream[1:].reshape(5, 8)
    want = float(m.loss(Tensor._make(x, None), Tensor._make(y, None))[0].data)
    assert got == pytest.approx(want, rel=1e-5)


def test_train_lm_detaches_state_between_chunks_and_learns():
    nb.manual_seed(0)
    m = CharRNNLM(V, "lstm", embed_dim=8, hidden_size=16)
    seen = []
    inner = m.loss

    def spy(x, y, state=None):
        if state is not None:
            seen.append(all(s.grad_fn is None for s in state))
        return inner(x, y, state)
    m.loss = spy
    text = np.tile(np.arange(3, V), 200)                        # a periodic stream: easy to learn
    opt = optim.Adam(m.parameters(), lr=1e-2)
    hist = sequence.train_lm(m, text, text[:400], opt, batch_size=4, seq_len=16, epochs=10, max_steps=60, eval_every=30,
                             eval_tokens=None, log=None)
    assert seen and all(seen)                                  # the carried state had no history
    assert hist["step"] == [30, 60] and hist["val_loss"][-1] < 0.5 * math.log(V)
    assert opt.param_groups[0]["lr"] == 1e-2                    # the schedule leaves the base rate restored


def test_train_and_evaluate_seq2seq_on_pairs():
    from nabla.data.text import CharVocab, PairDataset
    v = CharVocab("abcdef")
    words = ["abc", "bca", "cab", "fed", "def", "ace", "bdf", "fad"]
    ds = PairDataset(words, [w[::-1] for w in words], v, v)     # learn to reverse a word
    nb.manual_seed(0)
    m = Seq2SeqAttention(len(v), len(v), embed_dim=8, hidden_size=16, attention_size=8)
    opt = optim.Adam(m.parameters(), lr=2e-2)
    hist = sequence.train_seq2seq(m, ds, ds, opt, batch_size=8, epochs=150, eval_every=150, log=None)
    res = sequence.evaluate_seq2seq(m, ds, return_outputs=True, beam_size=2)
    assert hist["val_per"][-1] < 0.3 and res["per"] < 0.3 and 0 <= res["ser"] <= 1
    assert res["hyps"][0] and isinstance(res["hyps"][0][0], str)
    with pytest.raises(ValueError, match="metric must be"):
        sequence.evaluate_seq2seq(m, ds, metric="rouge")
