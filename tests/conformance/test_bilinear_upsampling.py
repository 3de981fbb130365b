"""A transposed convolution filled by nabla's ``nn.init.bilinear_`` (FCN's upsampling layers; PyTorch has no
built-in) upsamples as PyTorch's ``interpolate(mode="bilinear", align_corners=False)`` away from the border,
forward and backward; the same for nabla's FCN upsampler (depthwise, one channel per class)."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.models.fcn import upsampler

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("factor", [2, 8, 32])
@pytest.mark.parametrize("depthwise", [False, True])
def test_bilinear_transposed_convolution_matches_torch_interpolate_inside_the_border(factor, depthwise):
    c = 3
    if depthwise:
        up = upsampler(c, factor)
    else:
        up = nn.ConvTranspose2d(c, c, 2 * factor, stride=factor, padding=factor // 2, bias=False)
        nn.init.bilinear_(up.weight)
    x = np.random.default_rng(factor).standard_normal((2, c, 3, 4)).astype(np.float32)
    xn, xt = nb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yn = up(xn)
    yt = torch.nn.functional.interpolate(xt, scale_factor=factor, mode="bilinear", align_corners=False)
    assert yn.shape == tuple(yt.shape)
    b = factor // 2
    inner = (Ellipsis, slice(b, -b), slice(b, -b))
    np.testing.assert_allclose(yn.data[inner], yt.detach().numpy()[inner], atol=1e-5)
    g = np.zeros(yn.shape, np.float32)
    g[inner] = np.random.default_rng(1).standard_normal(g[inner].shape)   # a gradient on the interior only
    yn.backward(nb.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xn.grad.data, xt.grad.numpy(), rtol=1e-5, atol=1e-4)   # sums of ~1,000 terms
