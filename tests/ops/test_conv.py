from .db_conv import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


# ---------------------------------------------------------------------------------------------- hand-written
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nabla as nb  # noqa: E402
import nabla.ops.conv as conv_mod  # noqa: E402
from nabla.autograd import gradcheck, gradgradcheck  # noqa: E402

CASES = [  # (x shape, w shape, kwargs) for conv2d
    ((2, 4, 5, 4), (4, 4, 3, 3), dict(padding=1)),
    ((1, 4, 5, 5), (6, 2, 3, 2), dict(groups=2, dilation=(2, 1), padding=(2, 0))),
    ((1, 4, 6, 5), (4, 4, 3, 3), dict(stride=2, padding=1)),
    ((2, 3, 4, 4), (6, 1, 3, 3), dict(groups=3, padding=1)),
]


@pytest.fixture(params=["shifted", "im2col-chunked", "default"])
def path(request, monkeypatch):
    """Force each kernel strategy on tiny shapes: shifted products for any channel count, or im2col in
    one-image chunks (and per-offset products in the transposed convolution)."""
    if request.param == "shifted":
        monkeypatch.setattr(conv_mod, "_SHIFT_MIN_C", 1)
    elif request.param == "im2col-chunked":
        monkeypatch.setattr(conv_mod, "_SHIFT_MIN_C", 10 ** 9)
        monkeypatch.setattr(conv_mod, "_COLS_BYTES", 64)
    return request.param


@pytest.mark.parametrize("xs,ws,kw", CASES)
def test_every_path_matches_torch_and_gradchecks(path, xs, ws, kw):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    xn, wn, bn = (nb.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yn, yt = nb.conv2d(xn, wn, bn, **kw), torch.nn.functional.conv2d(xt, wt, bt, **kw)
    np.testing.assert_allclose(yn.data, yt.detach().numpy(), atol=1e-12)
    u = rng.standard_normal(yt.shape)
    yn.backward(nb.tensor(u))
    yt.backward(torch.tensor(u))
    for a, t in ((xn, xt), (wn, wt), (bn, bt)):
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), atol=1e-12)
    assert gradcheck(lambda x, w: nb.conv2d(x, w, **kw), (xn, wn))
    assert gradgradcheck(lambda x, w: nb.conv2d(x, w, **kw), (xn, wn))
    # the transposed convolution with the same weight is conv2d's adjoint
    yn2 = nb.conv_transpose2d(nb.tensor(u), wn, **{k: v for k, v in kw.items() if k != "padding" or isinstance(v, int)})
    yt2 = torch.nn.functional.conv_transpose2d(torch.tensor(u), wt, **{k: v for k, v in kw.items()
                                                                      if k != "padding" or isinstance(v, int)})
    np.testing.assert_allclose(yn2.data, yt2.detach().numpy(), atol=1e-12)


def test_second_derivatives_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    xn, wn = nb.tensor(x, requires_grad=True), nb.tensor(w, requires_grad=True)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)

    def second(lib, conv, x, w):
        y = conv(x, w, stride=2, padding=1)
        gx, gw = lib.autograd.grad((y * y).sum(), (x, w), create_graph=True)
        return lib.autograd.grad((gx * gx).sum() + (gw ** 3).sum(), (x, w))

    a = second(nb, nb.conv2d, xn, wn)
    b = second(torch, torch.nn.functional.conv2d, xt, wt)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p.data, q.numpy(), rtol=1e-10, atol=1e-10)


def test_output_is_channels_last_and_channels_last_input_works():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 8, 6, 6)).astype(np.float32)
    w = rng.standard_normal((8, 8, 3, 3)).astype(np.float32)
    y = nb.conv2d(nb.tensor(x), nb.tensor(w), padding=1)
    assert y.data.strides[1] == y.data.itemsize  # (N, C, H, W) view of (N, H, W, C) memory
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    y2 = nb.conv2d(nb.Tensor(x_cl), nb.tensor(w), padding=1)
    np.testing.assert_array_equal(y.data, y2.data)
    assert y.relu().data.strides[1] == y.data.itemsize  # elementwise ops keep the layout


def test_conv2d_weight_and_input_match_torch_nn_grad():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((2, 4, 6, 5)), rng.standard_normal((6, 2, 3, 3))
    g = rng.standard_normal((2, 6, 3, 3))
    kw = dict(stride=2, padding=1, dilation=1, groups=2)
    np.testing.assert_allclose(
        conv_mod.conv2d_weight(nb.tensor(x), w.shape, nb.tensor(g), **kw).data,
        torch.nn.grad.conv2d_weight(torch.tensor(x), w.shape, torch.tensor(g), **kw).numpy(), atol=1e-12)
    np.testing.assert_allclose(
        conv_mod.conv2d_input(x.shape, nb.tensor(w), nb.tensor(g), **kw).data,
        torch.nn.grad.conv2d_input(x.shape, torch.tensor(w), torch.tensor(g), **kw).numpy(), atol=1e-12)


def test_float32_stays_float32():
    x = nb.randn(2, 3, 5, 5, requires_grad=True)
    w = nb.randn(4, 3, 3, 3, requires_grad=True)
    y = nb.conv2d(x, w, padding=1)
    y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32 and w.grad.dtype == np.float32


@pytest.mark.parametrize("call,match", [
    (lambda: nb.conv2d(nb.randn(3, 5), nb.randn(2, 3, 3, 3)), r"conv2d: expected a 4-d input.*\(3, 5\)"),
    (lambda: nb.conv2d(nb.randn(1, 3, 5, 5), nb.randn(2, 3, 3)), r"conv2d: expected a 4-d weight"),
    (lambda: nb.conv2d(nb.randn(1, 3, 5, 5), nb.randn(2, 1, 3, 3), groups=2), r"divisible by groups=2"),
    (lambda: nb.conv2d(nb.randn(1, 4, 5, 5), nb.randn(2, 3, 3, 3)), r"has 4 channels.*\(2, 3, 3, 3\)"),
    (lambda: nb.conv2d(nb.randn(1, 3, 2, 2), nb.randn(2, 3, 3, 3)), r"kernel size \(3, 3\).*padded input size \(2, 2\)"),
    (lambda: nb.conv2d(nb.randn(1, 3, 5, 5), nb.randn(2, 3, 3, 3), stride=2, padding="same"), r"'same'.*strided"),
    (lambda: nb.conv2d(nb.randn(1, 3, 5, 5), nb.randn(2, 3, 3, 3), nb.randn(3)), r"bias of shape \(3,\)"),
    (lambda: nb.conv1d(nb.randn(1, 3, 2), nb.randn(2, 3, 3)), r"conv1d: kernel size 3"),
    (lambda: nb.conv_transpose2d(nb.randn(1, 3, 4, 4), nb.randn(2, 2, 3, 3)), r"conv_transpose2d: .*3 channels"),
    (lambda: nb.conv_transpose2d(nb.randn(1, 2, 4, 4), nb.randn(2, 2, 3, 3), stride=2, output_padding=2),
     r"output padding must be smaller"),
])
def test_bad_input_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_dtype_mismatch_is_a_type_error():
    with pytest.raises(TypeError, match=r"conv2d: input \(float64\), weight \(float32\)"):
        nb.conv2d(nb.tensor(np.zeros((1, 1, 3, 3))), nb.zeros(1, 1, 2, 2))
