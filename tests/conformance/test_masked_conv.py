"""nn.MaskedConv2d against PyTorch: ``torch.nn.functional.conv2d(x, W * M, b)`` with the same weight (its
masked taps filled with garbage on both sides) and the same mask; values and the gradients of the input, the
weight (masked) and the bias."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("kwargs", [
    {"kernel_size": 7, "mask_type": "A"},
    {"kernel_size": 3, "mask_type": "B"},
    {"kernel_size": 5, "mask_type": "A", "padding": 0},
    {"kernel_size": 3, "mask_type": "B", "stride": 2},
    {"kernel_size": 3, "mask_type": "A", "dilation": 2},
    {"kernel_size": (3, 5), "mask_type": "B", "bias": False},
    {"kernel_size": 3, "mask_type": "B", "groups": 2},
])
def test_matches_torch_conv2d_with_the_masked_weight(kwargs):
    rng = np.random.default_rng(0)
    conv = nn.MaskedConv2d(4, 6, **kwargs)
    w = rng.standard_normal(conv.weight.shape).astype(np.float32)
    conv.weight.data[...] = w
    mask = conv.mask.data.copy()
    x = rng.standard_normal((2, 4, 11, 10)).astype(np.float32)

    xn = nb.tensor(x, requires_grad=True)
    yn = conv(xn)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    bt = torch.tensor(conv.bias.data, requires_grad=True) if conv.bias is not None else None
    yt = torch.nn.functional.conv2d(xt, wt * torch.tensor(mask), bt, conv.stride, conv.padding, conv.dilation,
                                    conv.groups)
    assert yn.shape == tuple(yt.shape)
    np.testing.assert_allclose(yn.data, yt.detach().numpy(), rtol=1e-5, atol=1e-5)

    g = rng.standard_normal(yn.shape).astype(np.float32)
    yn.backward(nb.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xn.grad.data, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(conv.weight.grad.data, wt.grad.numpy(), rtol=1e-4, atol=1e-4)
    assert (conv.weight.grad.data[mask == 0] == 0).all()
    if bt is not None:
        np.testing.assert_allclose(conv.bias.grad.data, bt.grad.numpy(), rtol=1e-4, atol=1e-4)
