"""Convolution, pooling, upsampling and LRN layers: PyTorch's weight layouts, default initialisation,
options, and the same outputs and gradients as torch.nn given the same weights."""
import math

import numpy as np
import pytest

import nabla as nb
import nabla.nn as nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _copy_params(src_torch, dst):
    for name, p in src_torch.named_parameters():
        getattr(dst, name).data[...] = p.detach().numpy()


def _compare(layer, tlayer, x, *extra, **kw):
    """Same outputs and gradients (input and parameters) for one forward and backward."""
    xn = nb.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yn, yt = layer(xn, *extra, **kw), tlayer(xt, *[torch.tensor(e.data if isinstance(e, nb.Tensor) else e) for e in extra], **kw)
    if isinstance(yn, tuple):
        np.testing.assert_array_equal(yn[1].data, yt[1].numpy())
        yn, yt = yn[0], yt[0]
    assert yn.shape == tuple(yt.shape)
    np.testing.assert_allclose(yn.data, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
    u = np.random.default_rng(9).standard_normal(yn.shape).astype(x.dtype)
    yn.backward(nb.tensor(u))
    yt.backward(torch.tensor(u))
    np.testing.assert_allclose(xn.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in tlayer.named_parameters():
        np.testing.assert_allclose(getattr(layer, name).grad.data, p.grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=name)


CONVS = [
    (lambda m: m.Conv2d(3, 8, 3), (2, 3, 9, 8)),
    (lambda m: m.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2), (2, 4, 9, 8)),
    (lambda m: m.Conv2d(4, 4, 3, padding="same", groups=4, bias=False), (2, 4, 7, 6)),
    (lambda m: m.Conv2d(3, 5, 3, padding=1, padding_mode="reflect"), (2, 3, 6, 6)),
    (lambda m: m.Conv2d(3, 5, 3, padding=(1, 2), padding_mode="circular"), (2, 3, 6, 6)),
    (lambda m: m.Conv2d(3, 5, 4, padding="same", padding_mode="replicate"), (2, 3, 6, 6)),
    (lambda m: m.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 4, 5, 4)),
    (lambda m: m.ConvTranspose2d(3, 2, (2, 3), stride=(2, 1), dilation=(1, 2), bias=False), (1, 3, 4, 4)),
    (lambda m: m.ConvTranspose1d(3, 2, 3, stride=2), (2, 3, 5)),
    (lambda m: m.Conv2d(16, 16, 3, padding=1), (2, 16, 8, 8)),     # the shifted-product path
    (lambda m: m.Conv2d(16, 32, 1, stride=2), (2, 16, 8, 8)),      # strided 1x1 (ResNet shortcut)
]


@pytest.mark.parametrize("make,shape", CONVS, ids=lambda v: str(v) if isinstance(v, tuple) else "")
def test_conv_layers_match_torch(make, shape):
    torch.manual_seed(0)
    tl = make(tnn).double()
    layer = make(nn).double()
    _copy_params(tl, layer)
    assert layer.weight.shape == tuple(tl.weight.shape)
    _compare(layer, tl, np.random.default_rng(0).standard_normal(shape))


def test_conv_transpose_output_size():
    torch.manual_seed(0)
    tl, layer = tnn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    _copy_params(tl, layer)
    x = np.random.default_rng(1).standard_normal((1, 2, 4, 4)).astype(np.float32)
    for size in ([7, 7], [8, 8], [1, 3, 8, 7]):
        _compare(layer, tl, x, output_size=size)
        layer.zero_grad()
        tl.zero_grad()
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(2, 3.*output size of \(9, 9\).*from 7 to 8"):
        layer(nb.tensor(x), output_size=(9, 9))


POOLS = [
    (lambda m: m.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 8, 7)),
    (lambda m: m.MaxPool2d(2, return_indices=True), (2, 3, 6, 6)),
    (lambda m: m.MaxPool1d(3, 2), (2, 3, 9)),
    (lambda m: m.AvgPool2d(3, 2, 1, count_include_pad=False, ceil_mode=True), (2, 3, 8, 7)),
    (lambda m: m.AvgPool1d(2), (2, 3, 8)),
    (lambda m: m.AdaptiveAvgPool2d((3, None)), (2, 3, 7, 5)),
    (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 7, 5)),
    (lambda m: m.AdaptiveAvgPool1d(4), (2, 3, 9)),
    (lambda m: m.AdaptiveMaxPool2d((3, 4), return_indices=True), (2, 3, 7, 9)),
    (lambda m: m.Upsample(scale_factor=2), (2, 3, 4, 5)),
    (lambda m: m.Upsample(size=(7, 9), mode="bilinear", align_corners=False), (2, 3, 4, 5)),
    (lambda m: m.UpsamplingBilinear2d(scale_factor=2), (2, 3, 4, 5)),
    (lambda m: m.UpsamplingNearest2d(size=(5, 9)), (2, 3, 4, 5)),
    (lambda m: m.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0), (2, 7, 4, 4)),
]


@pytest.mark.parametrize("make,shape", POOLS, ids=lambda v: str(v) if isinstance(v, tuple) else "")
def test_parameter_free_layers_match_torch(make, shape):
    rng = np.random.default_rng(3)
    x = (rng.permutation(int(np.prod(shape))) * 0.01).reshape(shape) + rng.uniform(0, 1e-3, shape)
    _compare(make(nn), make(tnn), x)


def test_max_unpool_layer_matches_torch_and_inverts_pooling():
    x = np.abs(np.random.default_rng(4).standard_normal((2, 3, 6, 7))) + 0.1
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = pool(nb.tensor(x))
    ty, tidx = tnn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    _compare(unpool, tnn.MaxUnpool2d(2), y.data, idx, output_size=x.shape)
    back = unpool(y, idx, output_size=x.shape)
    assert back.shape == x.shape
    np.testing.assert_array_equal(pool(back)[0].data, y.data)


def test_default_init_is_pytorchs():
    nb.manual_seed(0)
    for layer, fan_in in ((nn.Conv2d(6, 16, 5), 6 * 25), (nn.Conv2d(8, 8, 3, groups=4), 2 * 9),
                          (nn.ConvTranspose2d(8, 6, 3, groups=2), 3 * 9), (nn.Conv1d(4, 2, 7), 28)):
        bound = 1 / math.sqrt(fan_in)
        w, b = layer.weight.data, layer.bias.data
        assert np.abs(w).max() <= bound + 1e-7 and np.abs(w).max() > 0.8 * bound
        assert np.abs(b).max() <= bound + 1e-7
        assert w.dtype == np.float32


def test_shapes_and_repr():
    assert nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False).weight.shape == (64, 3, 7, 7)
    assert nn.ConvTranspose2d(16, 8, 4, groups=2).weight.shape == (16, 4, 4, 4)
    assert nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False).bias is None
    assert repr(nn.Conv2d(3, 8, 3, padding=1)) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert "ceil_mode=True" in repr(nn.MaxPool2d(3, 2, ceil_mode=True))
    y = nn.Conv2d(3, 8, 3)(nb.randn(3, 10, 10))  # unbatched input
    assert y.shape == (8, 8, 8)


@pytest.mark.parametrize("call,match", [
    (lambda: nn.Conv2d(3, 8, 3)(nb.randn(1, 4, 8, 8)),
     r"Conv2d\(3, 8, kernel_size=\(3, 3\).*expected input with 3 channels.*\(1, 4, 8, 8\)"),
    (lambda: nn.Conv2d(3, 8, 3)(nb.randn(8, 8)), r"Conv2d\(3, 8.*expected input of shape \(N, C, H, W\)"),
    (lambda: nn.Conv2d(3, 8, 5)(nb.randn(1, 3, 4, 4)), r"Conv2d\(3, 8, kernel_size=\(5, 5\).*kernel size \(5, 5\).*\(4, 4\)"),
    (lambda: nn.Conv2d(3, 8, 3, groups=2), r"Conv2d: in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), r"Conv2d: out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding="same"), r"'same' is not supported for strided"),
    (lambda: nn.MaxPool2d(5)(nb.randn(1, 2, 3, 3)), r"MaxPool2d\(kernel_size=5.*\(1, 2, 3, 3\) is too small"),
    (lambda: nn.MaxUnpool2d(2)(nb.randn(1, 1, 2, 2), nb.zeros(1, 1, 2, 2, dtype=nb.int64), output_size=(9, 9)),
     r"MaxUnpool2d\(kernel_size=2.*invalid output_size"),
])
def test_errors_name_the_layer_and_shapes(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_batchnorm2d_and_dropout2d_exist():
    bn, dp = nn.BatchNorm2d(4), nn.Dropout2d(0.5)
    x = nb.randn(2, 4, 3, 3)
    assert bn(x).shape == x.shape and dp(x).shape == x.shape
