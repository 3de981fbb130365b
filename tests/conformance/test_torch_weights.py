"""PyTorch weights in and out through safetensors files: a torch.nn model's state_dict saved by
``safetensors.torch.save_file`` (read back with ``nabla.load``, which reads another library's safetensors file
as a dict of arrays) loads (strict) into the nabla model of the same configuration and the eval-mode outputs
agree (rtol 1e-3, atol 1e-4, float32; a recurrent layer's final states too); nabla's
state_dict saved by ``nabla.save`` loads (strict) into the torch model with the same agreement.  Families:
Linear/Conv2d/BatchNorm2d stacks, LSTM (2 layers, bidirectional, with and without biases), GRU (1 layer; 3
layers bidirectional), TransformerEncoder (2 layers, batch_first, norm_first both ways).
A key or shape mismatch lists the missing, unexpected and mis-shaped keys, as PyTorch does."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn

torch = pytest.importorskip("torch")
st_torch = pytest.importorskip("safetensors.torch")
tnn = torch.nn

TOL = dict(rtol=1e-3, atol=1e-4)


def _cnn(lib):
    return lib.Sequential(lib.Conv2d(3, 8, 3, padding=1), lib.BatchNorm2d(8), lib.ReLU(),
                          lib.Conv2d(8, 4, 3, stride=2), lib.BatchNorm2d(4), lib.ReLU(),
                          lib.Flatten(), lib.Linear(4 * 3 * 3, 10), lib.ReLU(), lib.Linear(10, 5))


def _encoder(lib, norm_first):
    layer = lib.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.1, batch_first=True,
                                        norm_first=norm_first)
    return lib.TransformerEncoder(layer, 2, enable_nested_tensor=False) if lib is tnn else \
        lib.TransformerEncoder(layer, 2)


CASES = {  # name: (builder(lib), input shape)
    "cnn_stack": (_cnn, (2, 3, 7, 7)),
    "lstm_2layers_bidirectional": (lambda lib: lib.LSTM(5, 6, num_layers=2, bidirectional=True), (4, 2, 5)),
    "gru": (lambda lib: lib.GRU(5, 6, batch_first=True), (2, 4, 5)),
    "gru_3layers_bidirectional": (lambda lib: lib.GRU(5, 6, num_layers=3, bidirectional=True, batch_first=True),
                                  (2, 4, 5)),
    "lstm_no_bias_bidirectional": (lambda lib: lib.LSTM(5, 4, num_layers=2, bias=False, bidirectional=True),
                                   (3, 2, 5)),
    "encoder_post_norm": (lambda lib: _encoder(lib, False), (2, 6, 16)),
    "encoder_pre_norm": (lambda lib: _encoder(lib, True), (2, 6, 16)),
}


def _randomised(model):
    """Weights and BatchNorm statistics unlike a fresh model's, so a load that did nothing would fail."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for t in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            t.add_(0.1 * torch.randn(t.shape, generator=g))
        for m in model.modules():
            if isinstance(m, tnn.BatchNorm2d):
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return model.eval()


def _flat(out):
    """Every tensor of a (nested) output: a recurrent layer's (output, h_n) or (output, (h_n, c_n))."""
    return [a for o in out for a in _flat(o)] if isinstance(out, tuple) else [out]


def _outputs(torch_model, nabla_model, shape):
    """The two models' outputs on one random input, each flattened to a list of arrays."""
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        ref = [r.numpy() for r in _flat(torch_model(torch.from_numpy(x)))]
    with nb.no_grad():
        out = [np.asarray(o.data) for o in _flat(nabla_model(nb.tensor(x)))]
    assert [o.shape for o in out] == [r.shape for r in ref]
    return ref, out


def _agree(ref, out):
    for i, (r, o) in enumerate(zip(ref, out)):
        np.testing.assert_allclose(o, r, **TOL, err_msg=f"output {i}")


@pytest.mark.parametrize("name", CASES)
def test_pytorch_safetensors_loads_strict_into_nabla(name, tmp_path):
    build, shape = CASES[name]
    torch.manual_seed(0)
    tm = _randomised(build(tnn))
    path = tmp_path / "torch.safetensors"
    st_torch.save_file({k: v.contiguous() for k, v in tm.state_dict().items()}, str(path))
    nm = build(nn).eval()
    nm.load_state_dict(nb.load(path), strict=True)
    _agree(*_outputs(tm, nm, shape))


@pytest.mark.parametrize("name", CASES)
def test_nabla_safetensors_loads_strict_into_pytorch(name, tmp_path):
    build, shape = CASES[name]
    nb.manual_seed(3)
    nm = build(nn).eval()
    rng = np.random.default_rng(5)
    for p in nm.parameters():  # moved off both libraries' default initialisation
        p.data[...] += rng.normal(0, 0.1, p.shape).astype(p.data.dtype)
    path = tmp_path / "nabla.safetensors"
    nb.save(nm.state_dict(), path)
    tm = build(tnn).eval()
    tm.load_state_dict(st_torch.load_file(str(path)), strict=True)
    _agree(*_outputs(tm, nm, shape))


def test_mismatch_lists_missing_unexpected_and_mis_shaped_keys():
    tm = _cnn(tnn)
    sd = {k: v.numpy() for k, v in tm.state_dict().items()}
    sd.pop("0.bias")
    sd["extra.weight"] = np.zeros(3, np.float32)
    sd["7.weight"] = np.zeros((10, 35), np.float32)
    with pytest.raises(RuntimeError) as e:
        _cnn(nn).load_state_dict(sd, strict=True)
    msg = str(e.value)
    assert 'Missing key(s) in state_dict: "0.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for 7.weight" in msg and "(10, 35)" in msg and "(10, 36)" in msg
