"""Transformer modules against PyTorch from identical weights (torch's state_dict loaded into nabla):
encoder and decoder layers over batch_first x norm_first x activation, with attention and key-padding masks;
the stacks and the full Transformer; forward values and the gradients of inputs and every parameter, in
float32 and float64 (dropout 0; dropout's train/eval behaviour is tested in tests/nn/test_transformer.py)."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn

from tests.conformance.test_attention import _run_pair

torch = pytest.importorskip("torch")
# torch warns about mixed bool/float masks and its inference-only nested tensors: both are intended here
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
tnn = torch.nn

D, HEADS, FF, N, S, T = 8, 2, 16, 3, 5, 4


def _act(name):
    if name == "callable":
        return torch.nn.functional.silu, nn.functional.silu
    return name, name


def _shape(batch_first, n, s):
    return (n, s, D) if batch_first else (s, n, D)


def _kpm(n, s):
    m = np.zeros((n, s), bool)
    m[0, -2:] = True
    return m


def _randomise_norms(tm):
    with torch.no_grad():
        for m in tm.modules():
            if isinstance(m, tnn.LayerNorm):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer(batch_first, norm_first, act, dtype):
    torch.manual_seed(0)
    ta, na = _act(act)
    kw = dict(dim_feedforward=FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    tm = tnn.TransformerEncoderLayer(D, HEADS, activation=ta, **kw)
    _randomise_norms(tm)
    nm = nn.TransformerEncoderLayer(D, HEADS, activation=na, **kw)
    x = np.random.default_rng(0).standard_normal(_shape(batch_first, N, S))
    masks = {"src_mask": np.triu(np.ones((S, S), bool), 1), "src_key_padding_mask": _kpm(N, S)}
    _run_pair(tm, nm, [x], masks, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ["relu", "gelu"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer(batch_first, norm_first, act, dtype):
    torch.manual_seed(0)
    kw = dict(dim_feedforward=FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first, activation=act)
    tm = tnn.TransformerDecoderLayer(D, HEADS, **kw)
    _randomise_norms(tm)
    nm = nn.TransformerDecoderLayer(D, HEADS, **kw)
    rng = np.random.default_rng(1)
    tgt, mem = rng.standard_normal(_shape(batch_first, N, T)), rng.standard_normal(_shape(batch_first, N, S))
    masks = {"tgt_mask": nn.generate_square_subsequent_mask(T, dtype=np.float64).numpy(),
             "memory_mask": rng.standard_normal((T, S)),
             "tgt_key_padding_mask": _kpm(N, T), "memory_key_padding_mask": _kpm(N, S)}
    _run_pair(tm, nm, [tgt, mem], masks, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_stacks_with_final_norm(batch_first, dtype):
    torch.manual_seed(0)
    kw = dict(dim_feedforward=FF, dropout=0.0, batch_first=batch_first)
    tm = tnn.TransformerEncoder(tnn.TransformerEncoderLayer(D, HEADS, **kw), 2, norm=tnn.LayerNorm(D),
                                enable_nested_tensor=False)
    nm = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, HEADS, **kw), 2, norm=nn.LayerNorm(D))
    rng = np.random.default_rng(2)
    x = rng.standard_normal(_shape(batch_first, N, S))
    _run_pair(tm, nm, [x], {"mask": nn.generate_square_subsequent_mask(S, dtype=np.float64).numpy(),
                            "src_key_padding_mask": _kpm(N, S)}, dtype)
    tm = tnn.TransformerDecoder(tnn.TransformerDecoderLayer(D, HEADS, **kw), 2, norm=tnn.LayerNorm(D))
    nm = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, HEADS, **kw), 2, norm=nn.LayerNorm(D))
    tgt, mem = rng.standard_normal(_shape(batch_first, N, T)), rng.standard_normal(_shape(batch_first, N, S))
    _run_pair(tm, nm, [tgt, mem], {"tgt_mask": nn.generate_square_subsequent_mask(T, dtype=np.float64).numpy(),
                                   "memory_key_padding_mask": _kpm(N, S)}, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer(batch_first, norm_first, dtype):
    torch.manual_seed(0)
    kw = dict(num_encoder_layers=2, num_decoder_layers=2, dim_feedforward=FF, dropout=0.0,
              batch_first=batch_first, norm_first=norm_first)
    tm = tnn.Transformer(D, HEADS, **kw)
    _randomise_norms(tm)
    nm = nn.Transformer(D, HEADS, **kw)
    rng = np.random.default_rng(3)
    src, tgt = rng.standard_normal(_shape(batch_first, N, S)), rng.standard_normal(_shape(batch_first, N, T))
    masks = {"tgt_mask": nn.Transformer.generate_square_subsequent_mask(T, dtype=np.float64).numpy(),
             "src_key_padding_mask": _kpm(N, S), "tgt_key_padding_mask": _kpm(N, T),
             "memory_key_padding_mask": _kpm(N, S)}
    _run_pair(tm, nm, [src, tgt], masks, dtype)


def test_torch_state_dict_loads_strict_and_gives_identical_outputs():
    torch.manual_seed(4)
    tm = tnn.Transformer(16, 4, 2, 2, 32, dropout=0.1, batch_first=True, activation="gelu").eval()
    nm = nn.Transformer(16, 4, 2, 2, 32, dropout=0.1, batch_first=True, activation="gelu").eval()
    assert sorted(nm.state_dict()) == sorted(tm.state_dict())
    nm.load_state_dict(tm.state_dict(), strict=True)
    rng = np.random.default_rng(0)
    src = rng.standard_normal((2, 6, 16)).astype(np.float32)
    tgt = rng.standard_normal((2, 5, 16)).astype(np.float32)
    mask = tnn.Transformer.generate_square_subsequent_mask(5)
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(5).data, mask.numpy())
    with torch.no_grad():
        ref = tm(torch.tensor(src), torch.tensor(tgt), tgt_mask=mask, tgt_is_causal=True).numpy()
    with nb.no_grad():
        out = nm(nb.tensor(src), nb.tensor(tgt), tgt_mask=nb.tensor(mask.numpy()), tgt_is_causal=True).data
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
