"""Recurrent layers and cells: gradients (gradcheck, gradgradcheck) of the fused layers and of the cells,
variable-length semantics, the PyTorch parameter layout, dropout, and errors.  (PyTorch conformance
lives in tests/conformance/test_rnn.py.)"""
import warnings

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd.numerical import gradcheck, gradgradcheck
from nabla.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from nabla.ops import recurrent as R

MODES = ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"]
GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _layer_inputs(mode, T=3, B=3, I=2, H=3, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    k = GATES[mode] * H
    arrays = [rng.standard_normal((T, B, I)), rng.standard_normal((B, H))]
    if mode == "LSTM":
        arrays.append(rng.standard_normal((B, H)))
    arrays += [rng.standard_normal((k, I)) * 0.6, rng.standard_normal((k, H)) * 0.6]
    if bias:
        arrays += [rng.standard_normal(k) * 0.5, rng.standard_normal(k) * 0.5]
    if mode == "RNN_RELU":  # keep pre-activations away from the kink at 0 for finite differences
        arrays[0] = np.abs(arrays[0]) + 0.2
        arrays[1] = np.abs(arrays[1]) + 0.2
        for i in range(2, len(arrays)):
            arrays[i] = np.abs(arrays[i]) * 0.5 + 0.05
    return [nb.tensor(a, requires_grad=True) for a in arrays]


def _layer_fn(mode, batch_sizes=None, reverse=False):
    k = 2 if mode == "LSTM" else 1

    def f(x, *rest):
        states, w = rest[:k], rest[k:]
        b_ih, b_hh = (w[2], w[3]) if len(w) > 2 else (None, None)
        out, h_n, c_n = R.recurrent_layer(mode, x, states, w[0], w[1], b_ih, b_hh, batch_sizes=batch_sizes,
                                          reverse=reverse)
        return (out, h_n) if c_n is None else (out, h_n, c_n)
    return f


LAYER_CASES = [(m, r, bs) for m in MODES for r in (False, True) for bs in (None, (3, 2, 1), (3, 3, 0))]


@pytest.mark.parametrize("mode,reverse,batch_sizes", LAYER_CASES)
def test_fused_layer_gradcheck(mode, reverse, batch_sizes, monkeypatch):
    monkeypatch.setattr(R, "_XP_CHUNK", 40)  # chunks of two steps of input projections
    gradcheck(_layer_fn(mode, batch_sizes, reverse), _layer_inputs(mode))


@pytest.mark.parametrize("mode", MODES)
def test_fused_layer_gradcheck_no_bias(mode):
    gradcheck(_layer_fn(mode, (3, 1, 1), True), _layer_inputs(mode, bias=False))


@pytest.mark.parametrize("mode,reverse,batch_sizes", [("LSTM", False, None), ("LSTM", True, (2, 1)),
                                                      ("GRU", True, None), ("GRU", False, (2, 1)),
                                                      ("RNN_TANH", False, (2, 1))])
def test_fused_layer_gradgradcheck(mode, reverse, batch_sizes):
    """Second derivatives through the fused layer (RecurrentGrad recomputes the layer with nabla ops)."""
    gradgradcheck(_layer_fn(mode, batch_sizes, reverse), _layer_inputs(mode, T=2, B=2, I=2, H=2))


def test_fused_layer_third_derivative_is_an_error():
    x, h0, c0, w_ih, w_hh = _layer_inputs("LSTM", T=2, B=1, I=1, H=1, bias=False)
    out, _, _ = R.lstm_layer(x, h0, c0, w_ih, w_hh)
    (g,) = nb.autograd.grad(out.sum(), [w_hh], create_graph=True)
    (gg,) = nb.autograd.grad(g.sum(), [w_hh], retain_graph=True)  # second derivatives work
    assert gg.shape == w_hh.shape
    with pytest.raises(RuntimeError, match="RecurrentGrad: its backward is array code only"):  # not a third
        nb.autograd.grad(g.sum(), [w_hh], create_graph=True)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True])
def test_fused_matches_composed(mode, reverse, monkeypatch):
    monkeypatch.setattr(R, "_XP_CHUNK", 1)  # input projections one step at a time (chunks of cache size)
    """The NumPy-loop layer and the nabla-ops layer compute the same values and gradients."""
    bs = (3, 3, 2, 1)
    ins = _layer_inputs(mode, T=4)
    layer = R._LAYERS[mode](batch_sizes=bs, reverse=reverse,
                            nonlinearity="relu" if mode == "RNN_RELU" else "tanh")
    ref = R.composed(layer, *ins)
    T = 4
    sl = slice(0, T) if reverse else slice(1, T + 1)
    out, h_n, c_n = R.recurrent_layer(mode, ins[0], tuple(ins[1:3 if mode == "LSTM" else 2]),
                                      *ins[3 if mode == "LSTM" else 2:], batch_sizes=bs, reverse=reverse)
    # the packed slots are feature-major (H, B); the layer hands back (T, B, H) and (B, H) views
    np.testing.assert_allclose(out.data, ref.data[sl].transpose(0, 2, 1), atol=1e-12)
    np.testing.assert_allclose(h_n.data, ref.data[T + 1].T, atol=1e-12)
    if c_n is not None:
        np.testing.assert_allclose(c_n.data, ref.data[T + 2].T, atol=1e-12)
    rng = np.random.default_rng(1)
    gy = nb.tensor(rng.standard_normal(out.shape))
    fused = nb.autograd.grad((out * gy).sum() + h_n.sum(), ins)
    ref_out = (ref[sl].mT * gy).sum() + ref[T + 1].sum()
    composed = nb.autograd.grad(ref_out, ins)
    for a, b in zip(fused, composed):
        np.testing.assert_allclose(a.data, b.data, atol=1e-12)


# ------------------------------------------------------------------------------------------ cells
@pytest.mark.parametrize("cls,kw", [(nn.RNNCell, {}), (nn.RNNCell, {"nonlinearity": "relu"}), (nn.LSTMCell, {}),
                                    (nn.GRUCell, {}), (nn.GRUCell, {"bias": False})])
def test_cell_gradcheck_and_gradgradcheck(cls, kw):
    nb.manual_seed(0)
    cell = cls(3, 2, **kw).double()
    rng = np.random.default_rng(0)
    x = nb.tensor(rng.standard_normal((2, 3)) + (1.0 if kw.get("nonlinearity") == "relu" else 0), requires_grad=True)
    h = nb.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    params = list(cell.parameters())
    lstm = cls is nn.LSTMCell
    c = nb.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    inputs = [x, h, c] if lstm else [x, h]

    def f(*xs):
        return cell(xs[0], (xs[1], xs[2])) if lstm else cell(xs[0], xs[1])

    gradcheck(f, inputs)
    gradgradcheck(f, inputs)
    # and the parameters' gradient exists with the parameter's shape
    out = cell(x, (h, c)) if lstm else cell(x, h)
    (out[0] if lstm else out).sum().backward()
    for p in params:
        assert p.grad is not None and p.grad.shape == p.shape


def test_cells_unbatched_and_default_state():
    nb.manual_seed(0)
    for cell in (nn.RNNCell(3, 4), nn.GRUCell(3, 4)):
        x = nb.randn(3)
        assert cell(x).shape == (4,)
        np.testing.assert_allclose(cell(x).data, cell(x, nb.zeros(4)).data)
    cell = nn.LSTMCell(3, 4)
    h, c = cell(nb.randn(2, 3))
    assert h.shape == c.shape == (2, 4)


# ------------------------------------------------------------------------------------------ layers
@pytest.mark.parametrize("cls,k", [(nn.RNN, 1), (nn.LSTM, 4), (nn.GRU, 3)])
def test_parameter_names_shapes_and_init(cls, k):
    m = cls(5, 7, num_layers=2, bidirectional=True)
    names = [n for n, _ in m.named_parameters()]
    expected = []
    for layer in range(2):
        for sfx in ("", "_reverse"):
            expected += [f"weight_ih_l{layer}{sfx}", f"weight_hh_l{layer}{sfx}", f"bias_ih_l{layer}{sfx}",
                         f"bias_hh_l{layer}{sfx}"]
    assert names == expected
    sd = m.state_dict()
    assert sd["weight_ih_l0"].shape == (k * 7, 5)
    assert sd["weight_ih_l1_reverse"].shape == (k * 7, 14)
    assert sd["weight_hh_l1"].shape == (k * 7, 7)
    bound = 1 / np.sqrt(7)
    for p in m.parameters():
        assert np.abs(p.data).max() <= bound
    assert len(list(cls(5, 7, bias=False).parameters())) == 2


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("batch_first,bidirectional,num_layers", [(False, False, 1), (True, True, 2),
                                                                  (False, True, 3)])
def test_output_shapes(cls, batch_first, bidirectional, num_layers):
    m = cls(4, 5, num_layers=num_layers, batch_first=batch_first, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    x = nb.randn(2, 6, 4) if batch_first else nb.randn(6, 2, 4)
    out, h = m(x)
    assert out.shape == ((2, 6, D * 5) if batch_first else (6, 2, D * 5))
    hs = h if cls is nn.LSTM else (h,)
    for s in hs:
        assert s.shape == (num_layers * D, 2, 5)
    # unbatched
    out, h = m(nb.randn(6, 4))
    assert out.shape == (6, D * 5)
    assert (h[0] if cls is nn.LSTM else h).shape == (num_layers * D, 5)


@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lengths_never_leak_padding(cls, bidirectional):
    """Each sequence run alone (truncated to its length) gives the same outputs and final states as the
    padded batch with lengths=, whatever is in the padding."""
    nb.manual_seed(0)
    m = cls(3, 4, num_layers=2, bidirectional=bidirectional, batch_first=True).double()
    lengths = [2, 5, 3]
    x = np.random.default_rng(0).standard_normal((3, 5, 3))
    for b, n in enumerate(lengths):
        x[b, n:] = 1e3  # garbage padding must not matter
    out, h = m(nb.tensor(x), lengths=lengths)
    hs = h if cls is nn.LSTM else (h,)
    for b, n in enumerate(lengths):
        out_b, h_b = m(nb.tensor(x[b:b + 1, :n]))
        np.testing.assert_allclose(out.data[b, :n], out_b.data[0], atol=1e-12)
        assert np.all(out.data[b, n:] == 0)
        for s, s_b in zip(hs, h_b if cls is nn.LSTM else (h_b,)):
            np.testing.assert_allclose(s.data[:, b], s_b.data[:, 0], atol=1e-12)


def test_lengths_and_packed_sequence_agree_and_gradients_flow():
    nb.manual_seed(0)
    m = nn.GRU(3, 4, bidirectional=True).double()
    x = nb.tensor(np.random.default_rng(1).standard_normal((5, 3, 3)), requires_grad=True)
    lengths = [3, 5, 1]
    out1, h1 = m(x, lengths=lengths)
    packed_out, h2 = m(pack_padded_sequence(x, lengths, enforce_sorted=False))
    out2, lens = pad_packed_sequence(packed_out, total_length=5)
    np.testing.assert_allclose(out1.data, out2.data, atol=1e-14)
    np.testing.assert_allclose(h1.data, h2.data, atol=1e-14)
    assert lens.data.tolist() == lengths
    (out1.sum() + h1.sum()).backward()
    g1 = x.grad.data.copy()
    x.grad = None
    (out2.sum() + h2.sum()).backward()
    np.testing.assert_allclose(g1, x.grad.data, atol=1e-13)
    assert np.all(g1[3:, 0] == 0) and np.all(g1[1:, 2] == 0)  # no gradient reaches the padding


def test_lengths_all_full_equals_no_lengths():
    m = nn.LSTM(2, 3)
    x = nb.randn(4, 2, 2)
    out1, (h1, c1) = m(x)
    out2, (h2, c2) = m(x, lengths=[4, 4])
    np.testing.assert_array_equal(out1.data, out2.data)
    np.testing.assert_array_equal(c1.data, c2.data)


def test_initial_state_gradients_and_values():
    nb.manual_seed(0)
    m = nn.LSTM(2, 3, num_layers=2).double()
    x = nb.randn(4, 2, 2, dtype=nb.float64)
    h0 = nb.randn(2, 2, 3, dtype=nb.float64, requires_grad=True)
    c0 = nb.randn(2, 2, 3, dtype=nb.float64, requires_grad=True)
    out, (h, c) = m(x, (h0, c0))
    (out.sum() + c.sum()).backward()
    assert h0.grad.shape == h0.shape and np.abs(c0.grad.data).sum() > 0
    out_zero, _ = m(x)
    out_explicit, _ = m(x, (nb.zeros(2, 2, 3, dtype=nb.float64), nb.zeros(2, 2, 3, dtype=nb.float64)))
    np.testing.assert_array_equal(out_zero.data, out_explicit.data)


def test_dropout_between_layers_only_in_training():
    nb.manual_seed(0)
    m = nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = nb.randn(5, 2, 3)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    np.testing.assert_array_equal(a.data, b.data)
    m.train()
    c, _ = m(x)
    assert not np.allclose(a.data, c.data)
    with pytest.warns(UserWarning, match="dropout"):
        nn.LSTM(3, 4, num_layers=1, dropout=0.5)


def test_truncated_bptt_detaches_between_chunks():
    from nabla.nn.utils.rnn import detach_hidden, truncated_bptt
    nb.manual_seed(0)
    m = nn.LSTM(2, 3)
    x = nb.randn(7, 2, 2)
    hidden, outs = None, []
    for chunk in truncated_bptt(x, chunk_size=3):
        hidden = detach_hidden(hidden)
        out, hidden = m(chunk, hidden)
        outs.append(out)
        assert not hidden[0]._fn is None
    full, _ = m(x)
    np.testing.assert_allclose(nb.cat(outs, 0).data, full.data, atol=1e-6)
    assert [o.shape[0] for o in outs] == [3, 3, 1]
    h = detach_hidden(hidden)
    assert not h[0].requires_grad and not h[1].requires_grad


def test_load_state_dict_roundtrip_and_repr():
    a, b = nn.LSTM(3, 4, num_layers=2, bidirectional=True), nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    b.load_state_dict({k: v.data for k, v in a.state_dict().items()})
    x = nb.randn(5, 2, 3)
    np.testing.assert_array_equal(a(x)[0].data, b(x)[0].data)
    assert repr(nn.GRU(3, 4, num_layers=2, batch_first=True)) == "GRU(3, 4, num_layers=2, batch_first=True)"
    assert "nonlinearity='relu'" in repr(nn.RNN(3, 4, nonlinearity="relu"))
    assert repr(nn.LSTMCell(3, 4)) == "LSTMCell(3, 4)"


# ------------------------------------------------------------------------------------------ errors
def test_bad_inputs_raise_errors_naming_the_module_and_shapes():
    m = nn.LSTM(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"LSTM\(3, 4, num_layers=2\).*3 features.*\(5, 2, 6\)"):
        m(nb.randn(5, 2, 6))
    with pytest.raises(ValueError, match=r"LSTM.*h_0 of shape \(2, 2, 4\).*\(1, 2, 4\)"):
        m(nb.randn(5, 2, 3), (nb.zeros(1, 2, 4), nb.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="tuple"):
        m(nb.randn(5, 2, 3), nb.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="dimensions"):
        m(nb.randn(5, 2, 3, 1))
    with pytest.raises(TypeError, match="float64.*float32"):
        m(nb.randn(5, 2, 3, dtype=nb.float64))
    g = nn.GRU(3, 4)
    with pytest.raises(ValueError, match=r"GRU.*lengths of shape \(2,\)"):
        g(nb.randn(5, 2, 3), lengths=[5, 4, 3])
    with pytest.raises(ValueError, match="exceeds"):
        g(nb.randn(5, 2, 3), lengths=[6, 4])
    with pytest.raises(ValueError, match="at least 1"):
        g(nb.randn(5, 2, 3), lengths=[0, 4])
    with pytest.raises(ValueError, match="h_0 of shape"):
        g(nb.randn(5, 2, 3), nb.zeros(1, 3, 4))
    with pytest.raises(ValueError, match="dropout"):
        nn.GRU(3, 4, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size"):
        nn.RNN(3, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="hidden_size"):
        nn.LSTM(3, 4.5)
    cell = nn.GRUCell(3, 4)
    with pytest.raises(ValueError, match=r"GRUCell\(3, 4\).*3 features"):
        cell(nb.randn(2, 5))
    with pytest.raises(ValueError, match=r"GRUCell.*hidden state of shape \(2, 4\)"):
        cell(nb.randn(2, 3), nb.zeros(3, 4))
    with pytest.raises(TypeError, match="tuple"):
        nn.LSTMCell(3, 4)(nb.randn(2, 3), nb.zeros(2, 4))


def test_no_warnings_on_garbage_padding():
    m = nn.LSTM(2, 3, bidirectional=True)
    x = np.full((4, 2, 2), 1e30, dtype=np.float32)
    x[:, 0] = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out, _ = m(nb.tensor(x, requires_grad=True), lengths=[4, 1])
        out.sum().backward()


def test_lstm_in_two_threads_at_once_matches_one_thread():
    """Recurrent layers reuse scratch arrays between calls: threads keep their own, so two training steps
    running at once give the same gradients as run one after the other."""
    import threading
    nb.manual_seed(0)
    lstm = nn.LSTM(3, 8)
    rng = np.random.default_rng(0)
    xs = [nb.tensor(rng.standard_normal((12, 4, 3)).astype(np.float32)) for _ in range(2)]

    def grads(x, reps=20):
        out = None
        for _ in range(reps):
            y, _ = lstm(x)
            w = [p for p in lstm.parameters()]
            out = nb.autograd.grad((y * y).sum(), w)
        return [g.data.copy() for g in out]

    expected = [grads(x, 1) for x in xs]
    got = [None, None]
    threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, grads(xs[i]))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e, g in zip(expected, got):
        for a, b in zip(e, g):
            np.testing.assert_array_equal(a, b)
