"""Transformer layers and stacks: gradcheck in float64, parameter names (PyTorch's), cloned layers are
independent, masks, dropout in train/eval, the causal-mask helper, errors.  The comparison with PyTorch
is in tests/conformance/test_transformer.py."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd import gradcheck, gradgradcheck


def _t(*shape, seed=0, grad=True):
    return nb.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=grad)


def _f64(m):
    return m.to(np.float64)


def test_generate_square_subsequent_mask():
    m = nn.Transformer.generate_square_subsequent_mask(3)
    expected = np.array([[0, -np.inf, -np.inf], [0, 0, -np.inf], [0, 0, 0]], np.float32)
    np.testing.assert_array_equal(m.data, expected)
    assert m.dtype == np.float32
    assert nn.generate_square_subsequent_mask(2, dtype=np.float64).dtype == np.float64
    m.data[0, 0] = 5  # a fresh array every call: the cached mask is never handed out
    assert nn.generate_square_subsequent_mask(3).data[0, 0] == 0


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_gradcheck(norm_first, batch_first):
    nb.manual_seed(0)
    layer = _f64(nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", batch_first=batch_first,
                                            norm_first=norm_first))
    x = _t(2, 3, 4)
    mask = nn.generate_square_subsequent_mask(3 if batch_first else 2, dtype=np.float64)
    gradcheck(lambda x: layer(x, src_mask=mask), (x,))
    gradcheck(lambda *ps: layer(x, src_mask=mask), list(layer.parameters()))


def test_encoder_layer_gradgradcheck():
    nb.manual_seed(0)
    layer = _f64(nn.TransformerEncoderLayer(4, 2, 6, dropout=0.0, activation="gelu", batch_first=True))
    gradgradcheck(lambda x: layer(x, is_causal=True), (_t(2, 3, 4),))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_gradcheck(norm_first):
    nb.manual_seed(0)
    layer = _f64(nn.TransformerDecoderLayer(4, 2, 6, dropout=0.0, batch_first=True, norm_first=norm_first))
    tgt, mem = _t(2, 3, 4), _t(2, 5, 4, seed=1)
    kpm = nb.tensor(np.array([[False] * 5, [False, False, False, True, True]]))
    f = lambda t, m: layer(t, m, tgt_is_causal=True, memory_key_padding_mask=kpm)  # noqa: E731
    gradcheck(f, (tgt, mem))
    gradcheck(lambda *ps: f(tgt, mem), list(layer.parameters()))


def test_transformer_gradcheck_small():
    nb.manual_seed(0)
    model = _f64(nn.Transformer(4, 2, 1, 1, 6, dropout=0.0, batch_first=True))
    src, tgt = _t(1, 3, 4), _t(1, 2, 4, seed=1)
    gradcheck(lambda s, t: model(s, t, tgt_is_causal=True), (src, tgt))


def test_parameter_names_follow_pytorch():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    assert list(layer.state_dict()) == [
        "self_attn.in_proj_weight", "self_attn.in_proj_bias", "self_attn.out_proj.weight", "self_attn.out_proj.bias",
        "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias", "norm1.weight", "norm1.bias",
        "norm2.weight", "norm2.bias"]
    dec = nn.TransformerDecoderLayer(8, 2, 16)
    assert {k.split(".")[0] for k in dec.state_dict()} == {"self_attn", "multihead_attn", "linear1", "linear2",
                                                           "norm1", "norm2", "norm3"}
    model = nn.Transformer(8, 2, 2, 1, 16)
    keys = list(model.state_dict())
    assert "encoder.layers.1.self_attn.in_proj_weight" in keys and "encoder.norm.weight" in keys
    assert "decoder.layers.0.multihead_attn.out_proj.bias" in keys and "decoder.norm.bias" in keys
    assert not any(k.startswith("decoder.layers.1") for k in keys)
    nobias = nn.TransformerEncoderLayer(8, 2, 16, bias=False)
    assert not any(k.endswith("bias") for k in nobias.state_dict())


def test_cloned_layers_are_independent():
    layer = nn.TransformerEncoderLayer(8, 2, 16)
    enc = nn.TransformerEncoder(layer, 3)
    ws = [lay.linear1.weight for lay in enc.layers]
    assert len({id(w) for w in ws}) == 3 and all(w is not layer.linear1.weight for w in ws)
    with nb.no_grad():
        ws[0].fill_(0.0)
    assert not np.all(ws[1].data == 0)
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))
    model = nn.Transformer(8, 2, 1, 1, 16)
    for name, p in model.named_parameters():
        if p.ndim > 1:  # Xavier-uniform, PyTorch's _reset_parameters
            fan_out, fan_in = p.shape
            assert np.abs(p.data).max() <= np.sqrt(6.0 / (fan_in + fan_out)) + 1e-6, name


@pytest.mark.parametrize("batch_first", [False, True])
def test_shapes_and_unbatched(batch_first):
    nb.manual_seed(0)
    model = _f64(nn.Transformer(8, 2, 1, 2, 16, dropout=0.0, batch_first=batch_first))
    src = _t(*((2, 5, 8) if batch_first else (5, 2, 8)), grad=False)
    tgt = _t(*((2, 3, 8) if batch_first else (3, 2, 8)), seed=1, grad=False)
    out = model(src, tgt)
    assert out.shape == tgt.shape
    one = model(src[0] if batch_first else src[:, 0], tgt[0] if batch_first else tgt[:, 0])
    np.testing.assert_allclose(one.data, out.data[0] if batch_first else out.data[:, 0], rtol=1e-10)


def test_causal_flag_equals_causal_mask():
    nb.manual_seed(0)
    enc = _f64(nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2))
    x = _t(2, 4, 8, grad=False)
    mask = nn.generate_square_subsequent_mask(4, dtype=np.float64)
    a = enc(x, mask=mask).data
    np.testing.assert_allclose(enc(x, is_causal=True).data, a, rtol=1e-12)
    np.testing.assert_allclose(enc(x, mask=mask, is_causal=True).data, a, rtol=1e-12)
    # causal: changing a later token leaves earlier outputs alone
    x2 = x.data.copy()
    x2[:, 3] += 1.0
    b = enc(nb.tensor(x2), mask=mask).data
    np.testing.assert_allclose(b[:, :3], a[:, :3], rtol=1e-12)
    assert not np.allclose(b[:, 3], a[:, 3])


def test_key_padding_mask_hides_padding():
    nb.manual_seed(0)
    enc = _f64(nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True), 2))
    x = _t(1, 5, 8, grad=False)
    kpm = nb.tensor(np.array([[False, False, False, True, True]]))
    a = enc(x, src_key_padding_mask=kpm).data
    x2 = x.data.copy()
    x2[:, 3:] = 7.0  # whatever sits at padded positions must not reach real ones
    b = enc(nb.tensor(x2), src_key_padding_mask=kpm).data
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-12)
    np.testing.assert_allclose(a[:, :3], enc(x[:, :3]).data, rtol=1e-10)


def test_activation_forms():
    x = _t(2, 3, 8, grad=False)
    nb.manual_seed(0)
    ref = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation="gelu", batch_first=True).to(np.float64)
    for act in (nn.functional.gelu, nn.GELU()):
        layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, activation=act, batch_first=True)
        layer.to(np.float64).load_state_dict(ref.state_dict())
        np.testing.assert_allclose(layer(x).data, ref(x).data, rtol=1e-12)
    with pytest.raises(ValueError, match="TransformerEncoderLayer\\(d_model=8, nhead=2\\): activation should be "
                                         "'relu', 'gelu' or a callable, not 'tanhh'"):
        nn.TransformerEncoderLayer(8, 2, activation="tanhh")


def test_dropout_train_and_eval():
    nb.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.3, batch_first=True)
    ref = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    ref.load_state_dict(layer.state_dict())
    x = nb.tensor(np.random.default_rng(0).standard_normal((2, 4, 8)).astype(np.float32))
    layer.eval()
    np.testing.assert_allclose(layer(x).data, ref(x).data, rtol=1e-6)
    layer.train()
    a, b = layer(x).data, layer(x).data
    assert not np.allclose(a, b) and not np.allclose(a, ref(x).data)


def test_errors_name_the_module_and_shapes():
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    with pytest.raises(ValueError, match=r"TransformerEncoderLayer\(d_model=8, nhead=2, norm_first=False\): "
                                         r"expected src of shape .*got \(2, 4, 6\)"):
        layer(nb.zeros(2, 4, 6))
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads, got embed_dim=10 and "
                                         "num_heads=4"):
        nn.TransformerEncoderLayer(10, 4)
    with pytest.raises(ValueError, match=r"the 2-D attn_mask should have shape \(L, S\) = \(4, 4\), got \(3, 3\)"):
        layer(nb.zeros(2, 4, 8), src_mask=nn.generate_square_subsequent_mask(3))
    dec = nn.TransformerDecoderLayer(8, 2, 16)
    with pytest.raises(ValueError, match=r"TransformerDecoderLayer\(.*\): expected memory of shape .*got "
                                         r"\(5, 2, 4\)"):
        dec(nb.zeros(3, 2, 8), nb.zeros(5, 2, 4))
    model = nn.Transformer(8, 2, 1, 1, 16)
    with pytest.raises(ValueError, match=r"Transformer\(d_model=8, nhead=2\): the batch number of src and tgt must "
                                         r"be equal, got shapes \(5, 2, 8\) and \(3, 3, 8\)"):
        model(nb.zeros(5, 2, 8), nb.zeros(3, 3, 8))
    with pytest.raises(ValueError, match=r"the feature number of src and tgt must be equal to d_model=8"):
        model(nb.zeros(5, 2, 8), nb.zeros(3, 2, 6))
    with pytest.raises(ValueError, match="key_padding_mask should have shape"):
        model(nb.zeros(5, 2, 8), nb.zeros(3, 2, 8), src_key_padding_mask=nb.tensor(np.zeros((5, 2), bool)))
