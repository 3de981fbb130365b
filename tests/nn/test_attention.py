"""Attention: scaled_dot_product_attention (OpInfo gradcheck / gradgradcheck), MultiheadAttention and
additive attention (gradcheck through the layers, the fused and composed paths agree, dropout, masks,
errors), positional encodings.  The comparison with PyTorch is in tests/conformance/test_attention.py."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd import gradcheck, gradgradcheck
from nabla.nn import functional as F
from nabla.ops.attention import Attention, attention_composed

from tests.ops.opinfo import OpInfo, Sample, gradcheck_tests, randn


def _torch_sdpa(*args, **kwargs):
    import torch
    return torch.nn.functional.scaled_dot_product_attention(*args, **kwargs)


def _bool(rng, *shape, p=0.7):
    m = rng.random(shape) < p
    m[..., 0] = True  # every query keeps a key: rows of all -inf are tested separately
    return m


def sdpa_samples(rng):
    return [
        Sample((randn(rng, 3, 4), randn(rng, 5, 4), randn(rng, 5, 2)), name="2d_L3_S5"),
        Sample((randn(rng, 2, 3, 4), randn(rng, 2, 3, 4), randn(rng, 2, 3, 4)), name="batched"),
        Sample((randn(rng, 2, 2, 3, 4), randn(rng, 2, 2, 5, 4), randn(rng, 2, 2, 5, 3)), name="heads"),
        Sample((randn(rng, 2, 1, 3, 4), randn(rng, 2, 5, 4), randn(rng, 1, 5, 4)), name="broadcast_batch"),
        Sample((randn(rng, 1, 1, 4), randn(rng, 1, 1, 4), randn(rng, 1, 1, 4)), name="size1"),
        Sample((randn(rng, 2, 3, 4), randn(rng, 2, 5, 4), randn(rng, 2, 5, 4)),
               {"attn_mask": nb.tensor(_bool(rng, 3, 5))}, name="bool_mask"),
        Sample((randn(rng, 2, 3, 4), randn(rng, 2, 5, 4), randn(rng, 2, 5, 4), randn(rng, 2, 3, 5)),
               name="float_mask_grad"),
        Sample((randn(rng, 2, 4, 3), randn(rng, 2, 4, 3), randn(rng, 2, 4, 3)), {"is_causal": True}, name="causal"),
        Sample((randn(rng, 2, 4, 3), randn(rng, 2, 6, 3), randn(rng, 2, 6, 3)), {"is_causal": True},
               name="causal_L4_S6"),
        Sample((randn(rng, 2, 3, 4), randn(rng, 2, 5, 4), randn(rng, 2, 5, 4)), {"scale": 0.7}, name="scale"),
    ]


def _sdpa(q, k, v, mask=None, **kw):
    if mask is not None:
        kw["attn_mask"] = mask
    return F.scaled_dot_product_attention(q, k, v, **kw)


def _sdpa_torch(q, k, v, mask=None, **kw):
    if mask is not None:
        kw["attn_mask"] = mask
    if isinstance(kw.get("attn_mask"), nb.Tensor):
        import torch
        kw["attn_mask"] = torch.tensor(kw["attn_mask"].data)
    return _torch_sdpa(q, k, v, **kw)


OPS = [OpInfo("scaled_dot_product_attention", _sdpa, _sdpa_torch, sdpa_samples, conf_atol32=1e-5,
              conf_rtol32=1e-5)]

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


def _t(*shape, seed=0, grad=True, dtype=np.float64):
    return nb.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype), requires_grad=grad)


# ---------------------------------------------------------------------- scaled_dot_product_attention
def test_sdpa_matches_formula():
    q, k, v = _t(2, 3, 4), _t(2, 5, 4, seed=1), _t(2, 5, 6, seed=2)
    s = q.data @ k.data.swapaxes(-1, -2) / 2.0
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).data, p @ v.data, rtol=1e-12)


def test_sdpa_fully_masked_query_gives_zeros():
    q, k, v = _t(1, 3, 4), _t(1, 3, 4, seed=1), _t(1, 3, 4, seed=2)
    mask = np.ones((3, 3), bool)
    mask[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=nb.tensor(mask))
    assert np.all(out.data[0, 1] == 0) and np.all(np.isfinite(out.data))
    out.sum().backward()
    assert all(np.all(np.isfinite(t.grad.data)) for t in (q, k, v))
    f = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, attn_mask=nb.tensor(mask))  # noqa: E731
    gradcheck(f, (q, k, v))
    gradgradcheck(f, (q, k, v))


def test_sdpa_key_padding_mask_ignores_padding():
    q, k, v = _t(2, 3, 4), _t(2, 5, 4, seed=1), _t(2, 5, 4, seed=2)
    kpm = np.array([[False] * 5, [False, False, False, True, True]])
    out = F.scaled_dot_product_attention(q, k, v, key_padding_mask=nb.tensor(kpm))
    ref1 = F.scaled_dot_product_attention(q[1:], k[1:, :3], v[1:, :3])
    np.testing.assert_allclose(out.data[1:], ref1.data, rtol=1e-12)
    np.testing.assert_allclose(out.data[:1], F.scaled_dot_product_attention(q[:1], k[:1], v[:1]).data, rtol=1e-12)


def test_sdpa_gqa_shares_key_heads():
    q, k, v = _t(1, 4, 3, 2), _t(1, 2, 5, 2, seed=1), _t(1, 2, 5, 2, seed=2)
    out = F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
    full = F.scaled_dot_product_attention(q, nb.tensor(np.repeat(k.data, 2, axis=1)),
                                          nb.tensor(np.repeat(v.data, 2, axis=1)))
    np.testing.assert_allclose(out.data, full.data, rtol=1e-12)
    gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, enable_gqa=True), (q, k, v))


def test_sdpa_dropout_is_a_fixed_mask_given_the_seed():
    q, k, v = _t(2, 3, 4), _t(2, 5, 4, seed=1), _t(2, 5, 4, seed=2)

    def f(a, b, c):
        nb.manual_seed(3)
        return F.scaled_dot_product_attention(a, b, c, dropout_p=0.4)
    gradcheck(f, (q, k, v))
    gradgradcheck(f, (q, k, v))
    nb.manual_seed(0)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).data
    assert not np.allclose(a, b)
    zero = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0)
    assert np.all(zero.data == 0)


def test_sdpa_dropout_scales_kept_weights():
    # with V = identity rows, the output is the dropped attention matrix itself
    nb.manual_seed(1)
    q, k = _t(1, 6, 4), _t(1, 8, 4, seed=1)
    v = nb.tensor(np.eye(8)[None])
    p = F.scaled_dot_product_attention(q, k, v).data
    pd = F.scaled_dot_product_attention(q, k, v, dropout_p=0.25).data
    kept = pd != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(pd[kept], p[kept] / 0.75, rtol=1e-12)


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("n_qkv", [1, 2, 3])
def test_fused_token_layout_gradgrad(batch_first, n_qkv):
    """The fused Function's multi-head token layout, packed [qkv], [q, kv], [q, k, v]: gradients and
    gradients of gradients (create_graph recomputes in nabla ops)."""
    H, E, N, L = 2, 4, 2, 3
    shape = (N, L, E) if batch_first else (L, N, E)
    widths = {1: [3 * E], 2: [E, 2 * E], 3: [E, E, E]}[n_qkv]
    ins = [_t(*shape[:2], w, seed=i) for i, w in enumerate(widths)]
    mask = nb.tensor(np.triu(np.full((L, L), -np.inf), 1))

    def f(*xs):
        return Attention.apply(*xs, mask, scale=0.6, heads=H, batch_first=batch_first, n_qkv=n_qkv, has_mask=True)
    gradcheck(f, ins)
    gradgradcheck(f, ins)
    composed, _ = attention_composed(ins, 0.6, mask, heads=H, batch_first=batch_first)
    np.testing.assert_allclose(f(*ins).data, composed.data, rtol=1e-12)


def test_sdpa_errors():
    q = _t(2, 3, 4)
    with pytest.raises(ValueError, match=r"scaled_dot_product_attention: expected query .*\(2, 3, 4\), \(2, 5, 3\)"):
        F.scaled_dot_product_attention(q, _t(2, 5, 3), _t(2, 5, 3))
    with pytest.raises(ValueError, match=r"attn_mask of shape \(4, 5\) does not match .* \(2, 3, 5\)"):
        F.scaled_dot_product_attention(q, _t(2, 5, 4), _t(2, 5, 4), attn_mask=nb.tensor(np.ones((4, 5), bool)))
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=nb.tensor(np.ones((3, 3), bool)), is_causal=True)
    with pytest.raises(ValueError, match=r"key_padding_mask of shape \(2, 4\) .* \(expected \(2, 3\)"):
        F.scaled_dot_product_attention(q, q, q, key_padding_mask=nb.tensor(np.zeros((2, 4), bool)))
    with pytest.raises(TypeError, match="one dtype"):
        F.scaled_dot_product_attention(q, _t(2, 3, 4, dtype=np.float32), q)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.scaled_dot_product_attention(_t(4), _t(4), _t(4))
    with pytest.raises(ValueError, match="dropout_p"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.5)


# ---------------------------------------------------------------------- MultiheadAttention
def _mha(batch_first=False, **kw):
    nb.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, batch_first=batch_first, **kw).to(np.float64)
    with nb.no_grad():  # non-zero biases, so their gradients are exercised
        for p in m.parameters():
            if p.ndim == 1:
                p.copy_(np.random.default_rng(9).standard_normal(p.shape))
    return m


def test_mha_parameters_follow_pytorch_layout():
    m = nn.MultiheadAttention(8, 2)
    assert [k for k, _ in m.state_dict().items()] == ["in_proj_weight", "in_proj_bias", "out_proj.weight",
                                                      "out_proj.bias"]
    assert m.in_proj_weight.shape == (24, 8) and m.out_proj.weight.shape == (8, 8)
    assert np.all(m.in_proj_bias.data == 0) and np.all(m.out_proj.bias.data == 0)
    m = nn.MultiheadAttention(8, 2, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    assert sorted(m.state_dict()) == ["bias_k", "bias_v", "k_proj_weight", "out_proj.weight", "q_proj_weight",
                                      "v_proj_weight"]
    assert m.k_proj_weight.shape == (8, 3) and m.v_proj_weight.shape == (8, 5) and m.bias_k.shape == (1, 1, 8)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("mode", ["self", "kv_same", "cross"])
def test_mha_gradcheck(batch_first, mode):
    m = _mha(batch_first)
    q, k, v = _t(2, 3, 4), _t(2, 3, 4, seed=1), _t(2, 3, 4, seed=2)
    kpm = np.zeros((2, 3) if batch_first else (3, 2), bool)  # (N, S)
    kpm[0, -1] = True
    kpm = nb.tensor(kpm)

    def f(q, k=None, v=None):
        k = q if k is None else k
        v = k if v is None else v
        return m(q, k, v, key_padding_mask=kpm, need_weights=False)[0]
    inputs = {"self": [q], "kv_same": [q, k], "cross": [q, k, v]}[mode]
    gradcheck(f, inputs)
    params = [m.in_proj_weight, m.in_proj_bias, m.out_proj.weight, m.out_proj.bias]
    gradcheck(lambda *ps: f(*inputs), params)


def test_mha_gradgradcheck_self_attention():
    m = _mha(True)
    q = _t(2, 3, 4)
    gradgradcheck(lambda x: m(x, x, x, need_weights=False)[0], (q,))
    gradgradcheck(lambda x: m(x, x, x, need_weights=True)[1], (q,))


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_fused_and_weights_paths_agree(batch_first):
    m = _mha(batch_first)
    x = _t(3, 5, 4)
    mask = nb.tensor(np.triu(np.ones((5 if batch_first else 3,) * 2, bool), 1))
    o1, w1 = m(x, x, x, attn_mask=mask, need_weights=True)
    o1.sum().backward()
    g1 = x.grad.data.copy()
    x.grad = None
    o2, w2 = m(x, x, x, attn_mask=mask, need_weights=False)
    o2.sum().backward()
    assert w2 is None
    np.testing.assert_allclose(o1.data, o2.data, rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, g1, rtol=1e-10)
    n, L = (3, 5) if batch_first else (5, 3)
    assert w1.shape == (n, L, L)
    np.testing.assert_allclose(w1.data.sum(-1), 1.0, rtol=1e-12)
    assert np.all(w1.data[:, np.triu_indices(L, 1)[0], np.triu_indices(L, 1)[1]] == 0)
    w_heads = m(x, x, x, attn_mask=mask, average_attn_weights=False)[1]
    assert w_heads.shape == (n, 2, L, L)
    np.testing.assert_allclose(w_heads.data.mean(1), w1.data, rtol=1e-12)


def test_mha_is_causal_builds_the_mask():
    m = _mha(True)
    x = _t(2, 4, 4)
    causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=np.float64)
    a = m(x, x, x, attn_mask=causal, need_weights=False)[0]
    b = m(x, x, x, is_causal=True, need_weights=False)[0]
    c = m(x, x, x, attn_mask=causal, is_causal=True, need_weights=False)[0]
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12)
    np.testing.assert_allclose(a.data, c.data, rtol=1e-12)


def test_mha_unbatched_matches_batched():
    m = _mha(False)
    x = _t(3, 4)
    kpm = np.array([False, False, True])
    o, w = m(x, x, x, key_padding_mask=nb.tensor(kpm))
    ob, wb = m(x.reshape(3, 1, 4), x.reshape(3, 1, 4), x.reshape(3, 1, 4), key_padding_mask=nb.tensor(kpm[None]))
    assert o.shape == (3, 4) and w.shape == (3, 3)
    np.testing.assert_allclose(o.data, ob.data[:, 0], rtol=1e-12)
    np.testing.assert_allclose(w.data, wb.data[0], rtol=1e-12)


def test_mha_dropout_train_and_eval():
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    x = nb.tensor(np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32))
    ref = nn.MultiheadAttention(8, 2, batch_first=True)
    ref.load_state_dict(m.state_dict())
    m.eval()
    np.testing.assert_allclose(m(x, x, x)[0].data, ref(x, x, x)[0].data, rtol=1e-6)
    np.testing.assert_array_equal(m(x, x, x)[0].data, m(x, x, x)[0].data)
    m.train()
    w = m(x, x, x, average_attn_weights=False)[1].data
    w_ref = ref(x, x, x, average_attn_weights=False)[1].data
    kept = w != 0
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(w[kept], w_ref[kept] / 0.5, rtol=1e-5)
    assert not np.allclose(m(x, x, x, need_weights=False)[0].data, m(x, x, x, need_weights=False)[0].data)


def test_mha_errors_name_module_and_shapes():
    with pytest.raises(ValueError, match="MultiheadAttention: embed_dim must be divisible by num_heads, got "
                                         "embed_dim=10 and num_heads=3"):
        nn.MultiheadAttention(10, 3)
    m = nn.MultiheadAttention(8, 2, batch_first=True)
    x = nb.tensor(np.zeros((2, 5, 8), np.float32))
    name = r"MultiheadAttention\(embed_dim=8, num_heads=2, batch_first=True\)"
    with pytest.raises(ValueError, match=name + r": the 2-D attn_mask should have shape \(L, S\) = \(5, 5\), "
                                                r"got \(4, 5\)"):
        m(x, x, x, attn_mask=nb.tensor(np.zeros((4, 5), bool)))
    with pytest.raises(ValueError, match=name + r": the 3-D attn_mask should have shape \(N\*num_heads, L, S\) = "
                                                r"\(4, 5, 5\), got \(2, 5, 5\)"):
        m(x, x, x, attn_mask=nb.tensor(np.zeros((2, 5, 5), bool)))
    with pytest.raises(ValueError, match=name + r": key_padding_mask should have shape \(N, S\) = \(2, 5\), "
                                                r"got \(5, 2\)"):
        m(x, x, x, key_padding_mask=nb.tensor(np.zeros((5, 2), bool)))
    with pytest.raises(ValueError, match=name + r": expected query of shape \(N, L, E\) with E=8, got \(2, 5, 6\)"):
        y = nb.tensor(np.zeros((2, 5, 6), np.float32))
        m(y, y, y)
    with pytest.raises(ValueError, match=name + r": query \(2, 5, 8\), key \(3, 5, 8\)"):
        k = nb.tensor(np.zeros((3, 5, 8), np.float32))
        m(x, k, k)
    with pytest.raises(ValueError, match=name + ": expected query, key and value all 3-D"):
        m(x[0], x, x)


# ---------------------------------------------------------------------- additive attention
def test_additive_attention_gradcheck_and_masks():
    nb.manual_seed(0)
    att = nn.AdditiveAttention(3, 4, 5, bias=True).to(np.float64)
    q, k, v = _t(2, 3, 3), _t(2, 6, 4, seed=1), _t(2, 6, 2, seed=2)
    lens = np.array([4, 6])
    gradcheck(lambda q, k, v: att(q, k, v, valid_lens=lens)[0], (q, k, v))
    gradcheck(lambda *ps: att(q, k, v, valid_lens=lens)[0], list(att.parameters()))
    ctx, w = att(q, k, v, valid_lens=lens)
    assert ctx.shape == (2, 3, 2) and w.shape == (2, 3, 6)
    assert np.all(w.data[0, :, 4:] == 0)
    np.testing.assert_allclose(w.data.sum(-1), 1.0, rtol=1e-12)
    kpm = nb.tensor(np.arange(6) >= lens[:, None])
    np.testing.assert_allclose(att(q, k, v, key_padding_mask=kpm)[0].data, ctx.data, rtol=1e-12)
    np.testing.assert_array_equal(att.attention_weights.data, w.data)
    c1, w1 = att(q[:, 0], k, v, valid_lens=lens)                 # one query per sample: (N, query_size)
    assert c1.shape == (2, 2) and w1.shape == (2, 6)
    np.testing.assert_allclose(c1.data, ctx.data[:, 0], rtol=1e-12)
    assert nn.BahdanauAttention is nn.AdditiveAttention


def test_additive_attention_errors():
    att = nn.AdditiveAttention(3, 4, 5)
    q, k = nb.zeros(2, 3, 3), nb.zeros(2, 6, 4)
    with pytest.raises(ValueError, match=r"AdditiveAttention\(query_size=3, key_size=4, num_hiddens=5\): expected "
                                         r"query features 3 and key features 4, got query \(2, 3, 3\) and key "
                                         r"\(2, 6, 5\)"):
        att(q, nb.zeros(2, 6, 5))
    with pytest.raises(ValueError, match=r"key_padding_mask should have shape \(N, K\) = \(2, 6\), got \(2, 5\)"):
        att(q, k, key_padding_mask=nb.tensor(np.zeros((2, 5), bool)))
    with pytest.raises(ValueError, match=r"valid_lens of shape \(3,\)"):
        att(q, k, valid_lens=np.array([1, 2, 3]))


# ---------------------------------------------------------------------- positional encodings
def test_sinusoidal_table():
    pe = nn.sinusoidal_positional_encoding(50, 6, dtype=np.float64).data
    pos, i = 7, 2
    np.testing.assert_allclose(pe[pos, 2 * i], math.sin(pos / 10000 ** (2 * i / 6)), rtol=1e-12)
    np.testing.assert_allclose(pe[pos, 2 * i + 1], math.cos(pos / 10000 ** (2 * i / 6)), rtol=1e-12)
    assert nn.sinusoidal_positional_encoding(5, 7).shape == (5, 7)  # odd width


@pytest.mark.parametrize("batch_first", [False, True])
def test_positional_encodings_add_the_table(batch_first):
    enc = nn.SinusoidalPositionalEncoding(6, dropout=0.0, max_len=10, batch_first=batch_first)
    x = nb.tensor(np.zeros((2, 4, 6), np.float32))
    L = 4 if batch_first else 2
    y = enc(x).data
    table = enc.pe.data
    np.testing.assert_allclose(y[0] if batch_first else y[:, 0], table[:L])
    np.testing.assert_allclose((enc(x, offset=3).data[0] if batch_first else enc(x, offset=3).data[:, 0]),
                               table[3:3 + L])
    assert "pe" not in enc.state_dict()
    learned = nn.LearnedPositionalEncoding(10, 6, batch_first=batch_first)
    xg = nb.tensor(np.zeros((2, 4, 6)), requires_grad=True)
    out = learned.to(np.float64)(xg)
    out.sum().backward()
    grad = learned.weight.grad.data
    assert np.all(grad[:L] == (2 if batch_first else 4)) and np.all(grad[L:] == 0)
    np.testing.assert_array_equal(xg.grad.data, 1.0)
    with pytest.raises(ValueError, match=r"SinusoidalPositionalEncoding\(d_model=6, max_len=10, dropout=0.0\): "
                                         r"positions 9..(12|10) exceed max_len=10"):
        enc(x, offset=9)
    with pytest.raises(ValueError, match=r"LearnedPositionalEncoding\(.*\): expected input of shape .* d_model=6"):
        learned(nb.zeros(2, 4, 5))


def test_positional_encoding_dropout_train_eval():
    enc = nn.PositionalEncoding(16, dropout=0.5, max_len=20)
    x = nb.ones(8, 2, 16)
    enc.eval()
    np.testing.assert_allclose(enc(x).data, np.broadcast_to(1.0 + enc.pe.data[:8, None], (8, 2, 16)))
    enc.train()
    y = enc(x).data
    assert np.mean(y == 0) > 0.2
    kept = y != 0
    np.testing.assert_allclose(y[kept], ((1.0 + enc.pe.data[:8, None]) * 2 * np.ones_like(y))[kept], rtol=1e-6)


def test_exports():
    assert F.scaled_dot_product_attention is nb.scaled_dot_product_attention
    assert F.multi_head_attention_forward is not None


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sdpa_scores_out_of_exp_range_match_the_max_shifted_softmax(dtype):
    """The softmax takes exp of the scores unshifted and redoes queries whose sum overflows or
    underflows with the max shift: huge scores, very negative float masks and ordinary rows all give
    the stable formula's output and gradients."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 5, 4)) for _ in range(3))
    big = 100.0 if dtype == np.float32 else 800.0
    q[0, 1] *= big                                     # one query's scores past exp's range
    mask = np.zeros((5, 5))
    mask[3] = -big * 1.3                               # one query's scores far below it
    mask[4, :2] = -np.inf
    s = q @ k.swapaxes(-1, -2) / 2.0 + mask
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ref = p @ v
    ins = [nb.tensor(a.astype(dtype), requires_grad=True) for a in (q, k, v)]
    out = F.scaled_dot_product_attention(*ins, attn_mask=nb.tensor(mask.astype(dtype)))
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, ref, rtol=rtol, atol=rtol)
    g = rng.standard_normal(ref.shape)
    out.backward(nb.tensor(g.astype(dtype)))
    dp = g @ v.swapaxes(-1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True)) / 2.0
    np.testing.assert_allclose(ins[0].grad.data, ds @ k, rtol=10 * rtol, atol=10 * rtol * big)
    np.testing.assert_allclose(ins[2].grad.data, p.swapaxes(-1, -2) @ g, rtol=rtol, atol=rtol)
