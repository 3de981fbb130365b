"""Layers: gradcheck of each module in float64 (input and parameters), train/eval behaviour, bad input."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd import gradcheck, gradgradcheck


def _x(*shape, seed=0):
    return nb.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def _check_module(m, x, gradgrad=False):
    m = m.double()
    params = [p for p in m.parameters() if p.requires_grad]
    inputs = (x, *params) if x.dtype.kind == "f" else tuple(params)

    def f(*ts):
        return m(x if x.dtype.kind != "f" else ts[0])
    gradcheck(f, inputs, atol=1e-5, rtol=1e-3)
    if gradgrad:
        gradgradcheck(f, inputs, atol=1e-4, rtol=1e-3)


LAYERS = [
    ("Linear", lambda: nn.Linear(4, 3), (2, 4), True),
    ("Linear_nobias_3d", lambda: nn.Linear(4, 2, bias=False), (2, 3, 4), True),
    ("Identity", lambda: nn.Identity(7, x=1), (2, 3), False),
    ("Flatten", lambda: nn.Flatten(), (2, 3, 2), False),
    ("Unflatten", lambda: nn.Unflatten(1, (2, 3)), (2, 6), False),
    ("BatchNorm1d_train_NC", lambda: nn.BatchNorm1d(3), (5, 3), True),
    ("BatchNorm1d_train_NCL", lambda: nn.BatchNorm1d(3, affine=False), (3, 3, 2), True),
    ("BatchNorm2d_train", lambda: nn.BatchNorm2d(2), (2, 2, 2, 3), True),
    ("BatchNorm1d_eval", lambda: nn.BatchNorm1d(3).eval(), (4, 3), True),
    ("BatchNorm1d_no_running_stats", lambda: nn.BatchNorm1d(3, track_running_stats=False).eval(), (4, 3), True),
    ("LayerNorm", lambda: nn.LayerNorm(4), (3, 4), True),
    ("LayerNorm_2d_nobias", lambda: nn.LayerNorm((2, 3), bias=False), (2, 2, 3), True),
    ("Sigmoid", nn.Sigmoid, (3, 4), True),
    ("Tanh", nn.Tanh, (3, 4), True),
    ("ReLU", nn.ReLU, (3, 4), False),
    ("LeakyReLU", lambda: nn.LeakyReLU(0.2), (3, 4), False),
    ("ELU", lambda: nn.ELU(0.7), (3, 4), False),
    ("GELU", nn.GELU, (3, 4), True),
    ("GELU_tanh", lambda: nn.GELU("tanh"), (3, 4), True),
    ("Softplus", lambda: nn.Softplus(2.0), (3, 4), True),
    ("SiLU", nn.SiLU, (3, 4), True),
    ("Softmax", lambda: nn.Softmax(dim=1), (3, 4), True),
    ("LogSoftmax", lambda: nn.LogSoftmax(dim=-1), (3, 4), True),
    ("Dropout_eval", lambda: nn.Dropout(0.5).eval(), (3, 4), False),
    ("MLP", lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.BatchNorm1d(4), nn.Linear(4, 2)), (5, 3), True),
]


@pytest.mark.parametrize("name,make,shape,gradgrad", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_gradcheck(name, make, shape, gradgrad):
    nb.manual_seed(0)
    _check_module(make(), _x(*shape), gradgrad)


def test_embedding_gradcheck_and_padding():
    nb.manual_seed(0)
    emb = nn.Embedding(6, 3).double()
    idx = nb.tensor(np.array([[0, 5, 5], [2, 0, 1]]))
    _check_module(emb, idx, gradgrad=True)
    emb = nn.Embedding(6, 3, padding_idx=5)
    assert not emb.weight.data[5].any()
    emb(idx).sum().backward()
    assert not emb.weight.grad.data[5].any()  # the padding row gets no gradient
    np.testing.assert_array_equal(emb.weight.grad.data[0], [2, 2, 2])  # index 0 used twice
    assert emb(idx).shape == (2, 3, 3)


def test_embedding_max_norm_renormalises_rows_used():
    nb.manual_seed(0)
    emb = nn.Embedding(4, 5, max_norm=1.0)
    with nb.no_grad():
        emb.weight.mul_(10.0)
    emb(nb.tensor(np.array([1, 2])))
    norms = np.linalg.norm(emb.weight.data, axis=1)
    assert norms[1] <= 1.0 + 1e-5 and norms[2] <= 1.0 + 1e-5 and norms[0] > 1.5


def test_batchnorm_running_stats_and_eval():
    bn = nn.BatchNorm1d(2, momentum=0.5)
    x = nb.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    y = bn(x)
    np.testing.assert_allclose(y.data.mean(0), 0, atol=1e-6)
    np.testing.assert_allclose(bn.running_mean.data, [1.5, 3.0])         # 0.5 * 0 + 0.5 * mean
    np.testing.assert_allclose(bn.running_var.data, [0.5 + 0.5 * 4, 0.5 + 0.5 * 16])  # unbiased variance
    assert int(bn.num_batches_tracked.item()) == 1
    bn.eval()
    y = bn(x)
    np.testing.assert_allclose(y.data, (x.data - [1.5, 3.0]) / np.sqrt(np.array([2.5, 8.5]) + 1e-5), rtol=1e-5)
    assert int(bn.num_batches_tracked.item()) == 1  # eval does not count


def test_batchnorm_cumulative_average_when_momentum_none():
    bn = nn.BatchNorm1d(1, momentum=None)
    for v in (1.0, 3.0, 8.0):
        bn(nb.tensor([[v - 1], [v + 1]]))
    np.testing.assert_allclose(bn.running_mean.data, [4.0])  # plain average of 1, 3, 8


def test_batchnorm_batch_of_one_in_training_is_an_error():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected more than 1 value per channel when training, "
                                         r"got input of shape \(1, 4\)"):
        bn(nb.randn(1, 4))
    bn.eval()
    assert bn(nb.randn(1, 4)).shape == (1, 4)
    assert nn.BatchNorm1d(4)(nb.randn(1, 4, 3)).shape == (1, 4, 3)  # 3 values per channel is fine


def test_dropout_train_and_eval():
    nb.manual_seed(0)
    d = nn.Dropout(0.25)
    x = nb.ones(200, 500)
    y = d(x).data
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    assert abs(y.mean() - 1.0) < 0.02  # E[y] = x: inverted dropout keeps the expectation
    d.eval()
    assert d(x) is x
    assert not nn.Dropout(1.0)(x).data.any()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
    # gradient flows through the kept units only, with the same scale
    xt = nb.randn(4, 6, requires_grad=True)
    out = nn.Dropout(0.5)(xt)
    out.sum().backward()
    np.testing.assert_allclose(xt.grad.data, (out.data != 0) * 2.0)


def test_dropout2d_zeroes_whole_channels():
    nb.manual_seed(1)
    y = nn.Dropout2d(0.5)(nb.ones(4, 8, 3, 3)).data
    per_channel = y.reshape(4, 8, -1)
    assert ((per_channel == 0).all(-1) | (per_channel == 2.0).all(-1)).all()


def test_dropout_reproducible_with_manual_seed():
    nb.manual_seed(5)
    a = nn.Dropout(0.5)(nb.ones(10, 10)).data
    nb.manual_seed(5)
    b = nn.Dropout(0.5)(nb.ones(10, 10)).data
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- bad input
def test_linear_bad_input():
    lin = nn.Linear(4, 3)
    # the checks live in the functional form, which the layer calls (as torch.nn.Linear calls F.linear)
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 5\) does not match weight of shape "
                                         r"\(3, 4\) \(expected input of shape \(\*, 4\)\)"):
        lin(nb.randn(2, 5))
    with pytest.raises(ValueError, match=r"linear: input of shape \(\)"):
        lin(nb.tensor(1.0))


def test_batchnorm_bad_input():
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected 2D \(N, C\) or 3D \(N, C, L\) input, got 4D "
                                         r"input of shape \(2, 3, 4, 4\)"):
        nn.BatchNorm1d(3)(nb.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\): expected 3 channels .* got input of shape \(4, 5\)"):
        nn.BatchNorm1d(3)(nb.randn(4, 5))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected 4D"):
        nn.BatchNorm2d(3)(nb.randn(4, 3))


def test_layernorm_bad_input():
    with pytest.raises(ValueError, match=r"LayerNorm.*expected input of shape \(\*, 4\), got \(3, 5\)"):
        nn.LayerNorm(4)(nb.randn(3, 5))


def test_embedding_bad_input():
    emb = nn.Embedding(10, 3)
    with pytest.raises(IndexError, match=r"Embedding\(10, 3\): index 12 is out of range for 10 embeddings.*"
                                         r"input of shape \(2,\)"):
        emb(nb.tensor(np.array([1, 12])))
    with pytest.raises(TypeError, match=r"Embedding\(10, 3\): expected an integer index tensor.*float32"):
        emb(nb.randn(2))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=7)


def test_flatten_unflatten_shapes():
    x = nb.randn(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Unflatten(2, (2, 2))(x).shape == (2, 3, 2, 2)
    with pytest.raises(ValueError, match=r"Unflatten.*cannot split dim 1"):
        nn.Unflatten(1, (2, 2))(x)


def test_layer_reprs():
    assert repr(nn.Linear(2, 3, bias=False)) == "Linear(in_features=2, out_features=3, bias=False)"
    assert repr(nn.BatchNorm1d(4)) == "BatchNorm1d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
