"""MaskedConv2d: the raster masks, no leak from later pixels (autograd: d out_i / d in_j), the masked weight
gradient, the rows-above fast path equal to the plain masked convolution, gradcheck, errors naming the layer."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd.numerical import gradcheck
from nabla.nn.masked_conv import raster_mask
from nabla.ops.conv import conv2d


def _full_weights(conv, seed=0):
    """Fill every tap of the stored weight, the masked ones too (they must not matter)."""
    conv.weight.data[...] = np.random.default_rng(seed).standard_normal(conv.weight.shape)
    return conv


def _input_gradient(net, x, row, col):
    """d (sum over channels of output[0, :, row, col]) / d x[0, :, :, :], summed over input channels: (H, W)."""
    xt = nb.tensor(x, requires_grad=True)
    net(xt)[0, :, row, col].sum().backward()
    return np.abs(xt.grad.data[0]).sum(axis=0)


def _raster(h, w):
    return np.arange(h * w).reshape(h, w)


def test_masks_are_raster_order():
    assert raster_mask((3, 3), "B").tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    assert raster_mask((3, 3), "A").tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    a5 = raster_mask((5, 5), "A")
    assert a5[:2].all() and a5[2].tolist() == [1, 1, 0, 0, 0] and not a5[3:].any()
    assert raster_mask((1, 3), "B").tolist() == [[1, 1, 0]]
    conv = nn.MaskedConv2d(2, 3, 5, mask_type="B")
    assert conv.mask.shape == conv.weight.shape and (conv.mask.data == raster_mask((5, 5), "B")).all()
    assert (conv.weight.data[conv.mask.data == 0] == 0).all()     # zeroed at construction: the stored weight shows it


def test_same_padding_by_default_and_the_state_dict_is_a_conv2ds():
    conv = nn.MaskedConv2d(1, 4, 7, mask_type="A")
    assert conv.padding == (3, 3) and isinstance(conv, nn.Conv2d)
    assert tuple(conv(nb.zeros((2, 1, 9, 8))).shape) == (2, 4, 9, 8)
    assert list(conv.state_dict()) == ["weight", "bias"]              # the mask is not state: it follows mask_type
    assert "mask_type='A'" in repr(conv)
    assert nn.MaskedConv2d(1, 2, 3, dilation=2).padding == (2, 2)


@pytest.mark.parametrize("kwargs, message", [
    ({"mask_type": "C"}, "mask_type must be 'A' or 'B'"),
    ({"kernel_size": 4}, "kernel_size must be odd"),
    ({"kernel_size": (3, 2)}, "kernel_size must be odd"),
    ({"padding_mode": "reflect"}, "padding_mode='zeros'"),
])
def test_bad_options_are_one_line_errors_naming_the_layer(kwargs, message):
    args = {"kernel_size": 3, **kwargs}
    with pytest.raises(ValueError, match=message) as e:
        nn.MaskedConv2d(1, 2, **args)
    assert str(e.value).startswith("MaskedConv2d") and "\n" not in str(e.value)


def test_wrong_input_channels_name_the_layer():
    with pytest.raises(ValueError, match="MaskedConv2d.*channels"):
        nn.MaskedConv2d(3, 2, 3)(nb.zeros((1, 2, 5, 5)))


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("kernel_size", [3, 5])
def test_a_lone_layer_never_sees_later_pixels(mask_type, kernel_size):
    """THE MASK-LEAK TEST for one layer: d out_i / d in_j = 0 for j > i (and j = i for mask A), nonzero for
    some j < i (and at j = i for mask B), i in raster order, the masked taps of the stored weight filled."""
    conv = _full_weights(nn.MaskedConv2d(2, 3, kernel_size, mask_type=mask_type))
    x = np.random.default_rng(1).standard_normal((1, 2, 7, 6)).astype(np.float32)
    order = _raster(7, 6)
    for row, col in [(0, 0), (0, 3), (3, 0), (3, 2), (6, 5), (2, 5)]:
        g = _input_gradient(conv, x, row, col)
        i = order[row, col]
        later = order > i if mask_type == "B" else order >= i
        assert (g[later] == 0).all(), (row, col)
        if i > 0:
            assert (g[order < i] != 0).any(), (row, col)
        assert (g[row, col] != 0) == (mask_type == "B")


def test_a_stack_never_sees_later_pixels():
    """A 5x5 mask-A layer, then two 3x3 mask-B layers with a nonlinearity: zero gradient from every j >= i."""
    net = nn.Sequential(_full_weights(nn.MaskedConv2d(1, 4, 5, mask_type="A"), 1), nn.Tanh(),
                        _full_weights(nn.MaskedConv2d(4, 4, 3, mask_type="B"), 2), nn.Tanh(),
                        _full_weights(nn.MaskedConv2d(4, 2, 3, mask_type="B"), 3))
    x = np.random.default_rng(2).standard_normal((1, 1, 8, 8)).astype(np.float32)
    order = _raster(8, 8)
    for row, col in [(0, 1), (1, 0), (4, 4), (4, 7), (7, 0), (7, 7)]:
        g = _input_gradient(net, x, row, col)
        i = order[row, col]
        assert (g[order >= i] == 0).all(), (row, col)
        assert (g[order < i] != 0).any(), (row, col)


def test_the_weight_gradient_is_masked_and_the_masked_taps_never_act():
    conv = nn.MaskedConv2d(2, 3, 3, mask_type="A")
    x = nb.tensor(np.random.default_rng(3).standard_normal((2, 2, 6, 6)).astype(np.float32))
    before = conv(x).data.copy()
    conv.weight.data[conv.mask.data == 0] = 100.0                  # garbage in the masked taps
    y = conv(x)
    np.testing.assert_array_equal(y.data, before)
    y.sum().backward()
    assert (conv.weight.grad.data[conv.mask.data == 0] == 0).all()
    assert (conv.weight.grad.data[conv.mask.data == 1] != 0).all()


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 3, "mask_type": "B"}, {"kernel_size": 7, "mask_type": "A"},
    {"kernel_size": 5, "mask_type": "A", "padding": 0},                   # too little padding below: whole kernel
    {"kernel_size": 3, "mask_type": "B", "padding": (2, 1), "dilation": 2},
    {"kernel_size": 5, "mask_type": "B", "stride": 2},
    {"kernel_size": 3, "mask_type": "A", "padding": "same", "bias": False},
    {"kernel_size": 3, "mask_type": "B", "groups": 2},
])
def test_the_rows_above_fast_path_equals_the_masked_convolution(kwargs):
    """forward drops the kernel's all-zero rows below the centre; values and gradients are the plain
    conv2d(x, W * M)'s, batched and unbatched."""
    conv = _full_weights(nn.MaskedConv2d(4, 6, **kwargs))
    x = np.random.default_rng(4).standard_normal((2, 4, 9, 8)).astype(np.float32)
    xa, xb = nb.tensor(x, requires_grad=True), nb.tensor(x, requires_grad=True)
    y = conv(xa)
    ref = conv2d(xb, conv.weight * conv.mask, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)
    np.testing.assert_allclose(y.data, ref.data, rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(5).standard_normal(y.shape).astype(np.float32)
    y.backward(nb.tensor(g))
    ref.backward(nb.tensor(g))
    np.testing.assert_allclose(xa.grad.data, xb.grad.data, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(conv(nb.tensor(x[0])).data, y.data[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mask_type", ["A", "B"])
@pytest.mark.parametrize("kwargs", [{}, {"stride": 2}, {"padding": 0}, {"dilation": 2}])
def test_gradcheck_input_weight_and_bias(mask_type, kwargs):
    conv = nn.MaskedConv2d(2, 3, 3, mask_type=mask_type, **kwargs).double()
    assert conv.mask.dtype == np.float64
    x = nb.tensor(np.random.default_rng(6).standard_normal((2, 2, 6, 5)), requires_grad=True)
    assert gradcheck(lambda x, w, b: conv(x), (x, conv.weight, conv.bias))
