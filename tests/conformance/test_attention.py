"""Attention against PyTorch: scaled_dot_product_attention (the OpInfo samples of tests/nn/test_attention.py),
MultiheadAttention loaded from torch's state_dict (forward, attention weights, gradients of the inputs and of
every parameter) over batch_first, self/cross attention, masks, kdim/vdim, bias_kv/zero_attn and unbatched
inputs, and additive attention against the same equations written in torch."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn

from tests.nn.test_attention import OPS
from tests.ops.opinfo import conformance_test

torch = pytest.importorskip("torch")
# torch warns about mixed bool/float masks and its inference-only nested tensors: both are intended here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

test_sdpa_matches_torch = conformance_test(OPS)

E, H, N, L, S = 8, 2, 3, 4, 5


def _tol(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)


def _masks(name, rng, batch_first, self_attn):
    s = L if self_attn else S
    if name == "none":
        return {}
    if name == "bool_attn":
        m = rng.random((L, s)) < 0.3
        m[:, 0] = False  # True = may not attend; keep one key per query
        return {"attn_mask": m}
    if name == "float_attn":
        return {"attn_mask": rng.standard_normal((L, s))}
    if name == "attn_3d":
        return {"attn_mask": rng.standard_normal((N * H, L, s))}
    if name == "causal":
        return {"attn_mask": np.triu(np.full((L, s), -np.inf), 1), "is_causal": True} if self_attn else {}
    kpm = np.zeros((N, s), bool)
    kpm[0, -2:] = True
    kpm[2, -1] = True
    if name == "kpm":
        return {"key_padding_mask": kpm}
    if name == "kpm_float":
        return {"key_padding_mask": np.where(kpm, -np.inf, 0.0)}
    if name == "kpm_and_attn":
        m = np.zeros((L, s), bool)
        m[1, 1] = True
        return {"key_padding_mask": kpm, "attn_mask": m}
    raise KeyError(name)


def _run_pair(tm, nm, inputs, kwargs, dtype, call=None):
    """Forward both modules on the same arrays, backward the same cotangents; compare everything."""
    tdt = getattr(torch, dtype)
    tm = tm.to(tdt)
    nm = nm.to(np.dtype(dtype))
    nm.load_state_dict(tm.state_dict())
    t_in, n_in = [], []
    cache = {}
    for a in inputs:
        if id(a) not in cache:
            arr = a.astype(dtype)
            cache[id(a)] = (torch.tensor(arr, requires_grad=True), nb.tensor(arr, requires_grad=True))
        t_in.append(cache[id(a)][0])
        n_in.append(cache[id(a)][1])

    def conv(v, fw):
        if not isinstance(v, np.ndarray):
            return v
        v = v.astype(dtype) if v.dtype.kind == "f" else v
        return torch.tensor(v) if fw == "torch" else nb.tensor(v)
    t_out = tm(*t_in, **{k: conv(v, "torch") for k, v in kwargs.items()})
    n_out = nm(*n_in, **{k: conv(v, "nabla") for k, v in kwargs.items()})
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    n_out = n_out if isinstance(n_out, tuple) else (n_out,)
    tol = _tol(dtype)
    rng = np.random.default_rng(7)
    pairs = []
    for a, b in zip(n_out, t_out):
        if b is None:
            assert a is None
            continue
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.data, b.detach().numpy(), **tol)
        u = rng.standard_normal(a.shape).astype(dtype)
        pairs.append((a, b, u))
    sum(((a * nb.tensor(u)).sum() for a, _, u in pairs), nb.tensor(np.zeros((), dtype))).backward()
    sum((b * torch.tensor(u)).sum() for _, b, u in pairs).backward()
    for key, (tt, nt) in cache.items():
        np.testing.assert_allclose(nt.grad.data, tt.grad.numpy(), **tol, err_msg="input gradient")
    n_params = dict(nm.named_parameters())
    for name, p in tm.named_parameters():
        assert n_params[name].grad is not None, name
        np.testing.assert_allclose(n_params[name].grad.data, p.grad.numpy(), **tol, err_msg=name)
    return n_out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("need_weights,average", [(False, True), (True, True), (True, False)])
@pytest.mark.parametrize("mask", ["none", "bool_attn", "float_attn", "attn_3d", "causal", "kpm", "kpm_float",
                                  "kpm_and_attn"])
@pytest.mark.parametrize("mode", ["self", "cross"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_matches_torch(batch_first, mode, mask, need_weights, average, dtype):
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first)
    with torch.no_grad():
        tm.in_proj_bias.normal_()
        tm.out_proj.bias.normal_()
    nm = nn.MultiheadAttention(E, H, batch_first=batch_first)
    rng = np.random.default_rng(1)
    shape = (lambda n, s, e: (n, s, e)) if batch_first else (lambda n, s, e: (s, n, e))
    q = rng.standard_normal(shape(N, L, E))
    if mode == "self":
        inputs = [q, q, q]
    else:
        kv = rng.standard_normal(shape(N, S, E))
        inputs = [q, kv, kv]
    kwargs = dict(_masks(mask, rng, batch_first, mode == "self"), need_weights=need_weights,
                  average_attn_weights=average)
    _run_pair(tm, nm, inputs, kwargs, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", ["kdim_vdim", "bias_kv_zero_attn", "no_bias", "separate_qkv", "unbatched"])
def test_mha_variants_match_torch(variant, dtype):
    torch.manual_seed(0)
    kw = {"kdim_vdim": dict(kdim=3, vdim=6), "bias_kv_zero_attn": dict(add_bias_kv=True, add_zero_attn=True),
          "no_bias": dict(bias=False), "separate_qkv": {}, "unbatched": {}}[variant]
    tm = torch.nn.MultiheadAttention(E, H, batch_first=True, **kw)
    nm = nn.MultiheadAttention(E, H, batch_first=True, **kw)
    rng = np.random.default_rng(2)
    kpm = np.zeros((N, S), bool)
    kpm[1, -1] = True
    if variant == "unbatched":
        x = rng.standard_normal((L, E))
        kv = rng.standard_normal((S, E))
        _run_pair(tm, nm, [x, kv, kv], {"key_padding_mask": kpm[1]}, dtype)
        return
    q = rng.standard_normal((N, L, E))
    k = rng.standard_normal((N, S, kw.get("kdim", E)))
    v = rng.standard_normal((N, S, kw.get("vdim", E)))
    attn = rng.random((L, S)) < 0.2
    attn[:, 0] = False
    _run_pair(tm, nm, [q, k, v], {"key_padding_mask": kpm, "attn_mask": attn}, dtype)


def test_mha_state_dict_from_torch_gives_identical_outputs():
    torch.manual_seed(3)
    tm = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    nm = nn.MultiheadAttention(16, 4, batch_first=True)
    result = nm.load_state_dict(tm.state_dict(), strict=True)
    assert not getattr(result, "missing_keys", []) and not getattr(result, "unexpected_keys", [])
    x = np.random.default_rng(0).standard_normal((2, 7, 16)).astype(np.float32)
    with torch.no_grad():
        ref, w_ref = tm(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    with nb.no_grad():
        out, w = nm(nb.tensor(x), nb.tensor(x), nb.tensor(x))
    np.testing.assert_allclose(out.data, ref.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w.data, w_ref.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_additive_attention_matches_torch_equations(dtype):
    nb.manual_seed(0)
    att = nn.AdditiveAttention(3, 4, 5, bias=True).to(np.dtype(dtype))
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s).astype(dtype) for s in ((2, 3, 3), (2, 6, 4), (2, 6, 2)))
    lens = np.array([4, 6])
    nq, nk, nv = (nb.tensor(a, requires_grad=True) for a in (q, k, v))
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tw = {n: torch.tensor(p.data, requires_grad=True) for n, p in att.named_parameters()}
    feats = torch.tanh((tq @ tw["W_q.weight"].T)[:, :, None] + (tk @ tw["W_k.weight"].T + tw["W_k.bias"])[:, None])
    scores = (feats @ tw["w_v.weight"].T).squeeze(-1)
    scores = scores.masked_fill(torch.arange(6)[None, None] >= torch.tensor(lens)[:, None, None], float("-inf"))
    t_ctx = torch.softmax(scores, -1) @ tv
    n_ctx, _ = att(nq, nk, nv, valid_lens=lens)
    tol = _tol(dtype)
    np.testing.assert_allclose(n_ctx.data, t_ctx.detach().numpy(), **tol)
    u = rng.standard_normal(n_ctx.shape).astype(dtype)
    (n_ctx * nb.tensor(u)).sum().backward()
    (t_ctx * torch.tensor(u)).sum().backward()
    for a, b in ((nq, tq), (nk, tk), (nv, tv)):
        np.testing.assert_allclose(a.grad.data, b.grad.numpy(), **tol)
    for n, p in att.named_parameters():
        np.testing.assert_allclose(p.grad.data, tw[n].grad.numpy(), **tol, err_msg=n)
