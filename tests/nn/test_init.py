"""nabla.nn.init: fans, gains, distributions' bounds and spreads, reproducibility, layer defaults."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.nn import init


def test_fans_and_gains():
    assert init._calculate_fan_in_and_fan_out(nb.zeros(5, 3)) == (3, 5)
    assert init._calculate_fan_in_and_fan_out(nb.zeros(8, 4, 3, 3)) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(nb.zeros(3))
    assert init.calculate_gain("relu") == math.sqrt(2)
    assert init.calculate_gain("tanh") == 5 / 3
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swishy")


def test_constant_family_and_in_place():
    t = nb.empty(3, 4)
    assert init.constant_(t, 2.5) is t and (t.data == 2.5).all()
    assert (init.zeros_(t).data == 0).all() and (init.ones_(t).data == 1).all()
    np.testing.assert_array_equal(init.eye_(nb.empty(2, 3)).data, np.eye(2, 3))
    assert t.dtype == np.float32


def test_uniform_and_normal_statistics():
    t = nb.empty(200, 300)
    init.uniform_(t, -2, 3)
    assert t.data.min() >= -2 and t.data.max() < 3 and abs(t.data.mean() - 0.5) < 0.05
    init.normal_(t, 1.0, 0.5)
    assert abs(t.data.mean() - 1.0) < 0.01 and abs(t.data.std() - 0.5) < 0.01
    init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.5)
    assert t.data.min() >= -1.0 and t.data.max() <= 1.5


@pytest.mark.parametrize("shape", [(300, 200), (64, 32, 3, 3)])
def test_xavier_and_kaiming_spreads(shape):
    t = nb.empty(*shape)
    fan_in, fan_out = init._calculate_fan_in_and_fan_out(t)
    init.xavier_uniform_(t, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.95 * bound
    init.xavier_normal_(t)
    assert t.data.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.05)
    init.kaiming_uniform_(t, a=0, mode="fan_in", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.95 * bound
    init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert t.data.std() == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_normal_(t, mode="fan_avg")


def test_orthogonal():
    t = nb.empty(4, 6)
    init.orthogonal_(t)
    np.testing.assert_allclose(t.data @ t.data.T, np.eye(4), atol=1e-5)


def test_manual_seed_makes_init_reproducible():
    nb.manual_seed(123)
    a = nn.Linear(5, 4)
    nb.manual_seed(123)
    b = nn.Linear(5, 4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    assert not np.array_equal(a.weight.data, nn.Linear(5, 4).weight.data)


def test_linear_default_init_matches_pytorch_bounds():
    nb.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives exactly 1/sqrt(fan_in)
    for p in (lin.weight, lin.bias):
        assert np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.98 * bound
    # uniform: std = bound / sqrt(3)
    assert lin.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_layer_defaults():
    bn = nn.BatchNorm1d(3)
    assert (bn.weight.data == 1).all() and (bn.bias.data == 0).all()
    assert (bn.running_mean.data == 0).all() and (bn.running_var.data == 1).all()
    emb = nn.Embedding(50, 40, padding_idx=3)
    assert (emb.weight.data[3] == 0).all()
    assert abs(emb.weight.data.std() - 1.0) < 0.05  # N(0, 1)


def test_bilinear_kernel_and_fill():
    np.testing.assert_allclose(init.bilinear_kernel(4), [0.25, 0.75, 0.75, 0.25])
    np.testing.assert_allclose(init.bilinear_kernel(3), [0.5, 1.0, 0.5])
    np.testing.assert_allclose(init.bilinear_kernel((4, 3)), np.outer([0.25, 0.75, 0.75, 0.25], [0.5, 1.0, 0.5]))
    w = init.bilinear_(nb.empty(3, 3, 4, 4)).data
    for i in range(3):
        for j in range(3):
            np.testing.assert_allclose(w[i, j], init.bilinear_kernel((4, 4)) if i == j else 0.0)
    depthwise = init.bilinear_(nb.empty(5, 1, 4, 4), groups=5).data
    np.testing.assert_allclose(depthwise, np.broadcast_to(init.bilinear_kernel((4, 4)), (5, 1, 4, 4)))
    with pytest.raises(ValueError, match="groups=2 must divide the 3 input channels"):
        init.bilinear_(nb.empty(3, 3, 4, 4), groups=2)
    with pytest.raises(ValueError, match="3 to 5 dims"):
        init.bilinear_(nb.empty(3, 3))


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_bilinear_transposed_convolution_is_bilinear_upsampling_inside_the_border(factor):
    up = nn.ConvTranspose2d(2, 2, 2 * factor, stride=factor, padding=factor // 2, bias=False)
    init.bilinear_(up.weight)
    x = nb.tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 5)).astype(np.float32))
    y = up(x).data
    ref = nb.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False).data
    b = factor // 2   # border rows whose bilinear neighbours fall outside the input
    assert y.shape == ref.shape == (1, 2, 4 * factor, 5 * factor)
    np.testing.assert_allclose(y[..., b:-b, b:-b], ref[..., b:-b, b:-b], atol=1e-6)
