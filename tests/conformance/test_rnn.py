"""nabla.nn recurrent layers and cells against torch.nn: torch's state_dict (as NumPy arrays) is loaded into
the nabla module, then outputs, final states, the input's and initial states' gradients and every
parameter's gradient are compared, in float32 and float64, over batch_first, bidirectional,
multi-layer, no bias, and variable lengths (nabla's lengths= and PackedSequence vs torch's packed input)."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.nn.utils import rnn as nrnn

torch = pytest.importorskip("torch")
tnn = torch.nn
trnn = torch.nn.utils.rnn

TOL = {np.float32: dict(rtol=2e-4, atol=2e-5), np.float64: dict(rtol=1e-9, atol=1e-11)}
TDT = {np.float32: torch.float32, np.float64: torch.float64}

CONFIGS = {
    "plain": dict(),
    "batch_first": dict(batch_first=True),
    "bidirectional": dict(bidirectional=True),
    "2layers_bidir_batch_first": dict(num_layers=2, bidirectional=True, batch_first=True),
    "3layers_nobias": dict(num_layers=3, bias=False),
}
LENGTHS = [None, "lengths", "packed"]


def _pair(kind, dtype, **kw):
    torch.manual_seed(0)
    if kind == "RNN_relu":
        t, n = tnn.RNN(3, 5, nonlinearity="relu", **kw), nn.RNN(3, 5, nonlinearity="relu", **kw)
    else:
        t, n = getattr(tnn, kind)(3, 5, **kw), getattr(nn, kind)(3, 5, **kw)
    t = t.to(TDT[dtype])
    n = n.to(dtype)
    n.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, n


def _assert_close(a, b, dtype, what):
    a = a.detach().numpy() if hasattr(a, "detach") else a
    b = b.data if isinstance(b, nb.Tensor) else b
    np.testing.assert_allclose(b, a, err_msg=what, **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lengths_mode", LENGTHS)
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN", "RNN_relu"])
def test_layer_matches_torch(kind, config, lengths_mode, dtype):
    kw = CONFIGS[config]
    t, n = _pair(kind, dtype, **kw)
    bf = kw.get("batch_first", False)
    T, B = 5, 3
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, 3) if bf else (T, B, 3)).astype(dtype)
    h0 = rng.standard_normal((L * D, B, 5)).astype(dtype)
    c0 = rng.standard_normal((L * D, B, 5)).astype(dtype)
    lengths = [3, 5, 1]
    xt, xn = torch.tensor(x, requires_grad=True), nb.tensor(x, requires_grad=True)
    h0t, h0n = torch.tensor(h0, requires_grad=True), nb.tensor(h0, requires_grad=True)
    c0t, c0n = torch.tensor(c0, requires_grad=True), nb.tensor(c0, requires_grad=True)
    hxt = (h0t, c0t) if kind == "LSTM" else h0t
    hxn = (h0n, c0n) if kind == "LSTM" else h0n

    if lengths_mode is None:
        ot, hst = t(xt, hxt)
        on, hsn = n(xn, hxn)
    else:
        ot, hst = t(trnn.pack_padded_sequence(xt, lengths, batch_first=bf, enforce_sorted=False), hxt)
        ot, _ = trnn.pad_packed_sequence(ot, batch_first=bf, total_length=T)
        if lengths_mode == "lengths":
            on, hsn = n(xn, hxn, lengths=lengths)
        else:
            on, hsn = n(nrnn.pack_padded_sequence(xn, lengths, batch_first=bf, enforce_sorted=False), hxn)
            on, _ = nrnn.pad_packed_sequence(on, batch_first=bf, total_length=T)
    hst = hst if kind == "LSTM" else (hst,)
    hsn = hsn if kind == "LSTM" else (hsn,)
    _assert_close(ot, on, dtype, "output")
    for a, b in zip(hst, hsn):
        _assert_close(a, b, dtype, "final state")

    go = rng.standard_normal(tuple(ot.shape)).astype(dtype)
    gh = [rng.standard_normal(tuple(h.shape)).astype(dtype) for h in hst]
    (sum((h * torch.tensor(g)).sum() for h, g in zip(hst, gh)) + (ot * torch.tensor(go)).sum()).backward()
    (sum(((h * nb.tensor(g)).sum() for h, g in zip(hsn, gh)), nb.tensor(np.zeros((), dtype))) +
     (on * nb.tensor(go)).sum()).backward()
    _assert_close(xt.grad, xn.grad, dtype, "input gradient")
    _assert_close(h0t.grad, h0n.grad, dtype, "h0 gradient")
    if kind == "LSTM":
        _assert_close(c0t.grad, c0n.grad, dtype, "c0 gradient")
    nparams = dict(n.named_parameters())
    for name, p in t.named_parameters():
        _assert_close(p.grad, nparams[name].grad, dtype, f"gradient of {name}")


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_state_dict_from_torch_gives_identical_outputs_and_default_state(kind):
    """A PyTorch-layout state_dict loads unchanged (keys, shapes) and gives the same outputs; the default
    (zero) initial state matches too."""
    t, n = _pair(kind, np.float32, num_layers=2, bidirectional=True, dropout=0.3)
    assert list(t.state_dict().keys()) == list(n.state_dict().keys())
    t.eval()
    n.eval()
    x = np.random.default_rng(0).standard_normal((4, 2, 3)).astype(np.float32)
    ot, ht = t(torch.tensor(x))
    on, hn = n(nb.tensor(x))
    _assert_close(ot, on, np.float32, "output")
    if kind == "LSTM":
        _assert_close(ht[1], hn[1], np.float32, "c_n")


def test_unbatched_input_matches_torch():
    t, n = _pair("GRU", np.float64, bidirectional=True)
    x = np.random.default_rng(0).standard_normal((4, 3))
    ot, ht = t(torch.tensor(x))
    on, hn = n(nb.tensor(x))
    _assert_close(ot, on, np.float64, "output")
    _assert_close(ht, hn, np.float64, "h_n")


def test_torch_init_distribution_matches():
    """Same bound as torch: U(-1/sqrt(hidden), 1/sqrt(hidden)) for every parameter."""
    n = nn.LSTM(10, 16)
    vals = np.concatenate([p.data.ravel() for p in n.parameters()])
    assert np.abs(vals).max() <= 0.25 and np.abs(vals).max() > 0.24
    assert abs(vals.mean()) < 0.01


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind,kw", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("LSTMCell", {}),
                                     ("GRUCell", {}), ("GRUCell", {"bias": False}), ("LSTMCell", {"bias": False})])
def test_cell_matches_torch(kind, kw, dtype):
    torch.manual_seed(0)
    t = getattr(tnn, kind)(3, 4, **kw).to(TDT[dtype])
    n = getattr(nn, kind)(3, 4, **kw).to(dtype)
    n.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3)).astype(dtype)
    h = rng.standard_normal((2, 4)).astype(dtype)
    c = rng.standard_normal((2, 4)).astype(dtype)
    xt, ht, ct = (torch.tensor(a, requires_grad=True) for a in (x, h, c))
    xn, hn, cn = (nb.tensor(a, requires_grad=True) for a in (x, h, c))
    if kind == "LSTMCell":
        (a, b), (a2, b2) = t(xt, (ht, ct)), n(xn, (hn, cn))
        _assert_close(a, a2, dtype, "h'")
        _assert_close(b, b2, dtype, "c'")
        (a.sum() + 2 * b.sum()).backward()
        (a2.sum() + 2 * b2.sum()).backward()
        _assert_close(ct.grad, cn.grad, dtype, "c gradient")
    else:
        a, a2 = t(xt, ht), n(xn, hn)
        _assert_close(a, a2, dtype, "h'")
        (a * a).sum().backward()
        (a2 * a2).sum().backward()
    _assert_close(xt.grad, xn.grad, dtype, "input gradient")
    _assert_close(ht.grad, hn.grad, dtype, "h gradient")
    nparams = dict(n.named_parameters())
    for name, p in t.named_parameters():
        _assert_close(p.grad, nparams[name].grad, dtype, f"gradient of {name}")
