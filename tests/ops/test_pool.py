from .db_pool import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


# ---------------------------------------------------------------------------------------------- hand-written
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import nabla as nb  # noqa: E402


def test_max_pool_ties_send_the_gradient_to_the_first_max_like_torch():
    torch = pytest.importorskip("torch")
    x = np.maximum(np.random.default_rng(0).standard_normal((2, 3, 6, 7)), 0)  # many all-zero windows
    for kw in (dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)):
        xn, xt = nb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        nb.max_pool2d(xn, **kw).sum().backward()
        torch.nn.functional.max_pool2d(xt, **kw).sum().backward()
        np.testing.assert_array_equal(xn.grad.data, xt.grad.numpy())


@pytest.mark.parametrize("kw", [dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1)])
def test_max_pool_infinite_gradient_reaches_only_the_arg_max(kw):
    """An infinite upstream gradient goes to each window's arg-max; the other positions get 0, not NaN
    (inf * 0), as in PyTorch; overlapping windows (stride 1) add up, also without NaN."""
    x = nb.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    y = nb.max_pool2d(x, **kw)
    g = np.ones(y.shape)
    g[0, 0, 0, 0] = np.inf
    y.backward(nb.tensor(g))
    grad = x.grad.data
    assert not np.isnan(grad).any()
    assert np.isinf(grad).sum() == 1 and (grad[np.isfinite(grad)] >= 0).all()
    finite = x.grad.data.copy()
    x.grad = None
    nb.max_pool2d(x, **kw).backward(nb.tensor(np.ones(y.shape)))
    mask = np.isfinite(finite)
    np.testing.assert_array_equal(finite[mask], x.grad.data[mask])


def test_max_unpool_inverts_max_pool():
    x = nb.tensor(np.abs(np.random.default_rng(1).standard_normal((2, 3, 6, 8))) + 0.1)
    y, idx = nb.max_pool2d(x, 2, return_indices=True)
    back = nb.max_unpool2d(y, idx, 2)
    assert back.shape == x.shape
    kept = back.data != 0
    np.testing.assert_array_equal(back.data[kept], x.data[kept])  # maxima return to where they were
    np.testing.assert_array_equal(nb.max_pool2d(back, 2).data, y.data)  # and pool to the same values
    assert kept.sum() == y.numel()


def test_unpooling_puts_every_value_back_at_its_index_and_routes_gradients_only_there():
    rng = np.random.default_rng(3)
    x = nb.tensor(rng.standard_normal((2, 3, 6, 8)))
    y, idx = nb.max_pool2d(x, 2, return_indices=True)
    v = nb.tensor(rng.standard_normal(y.shape), requires_grad=True)   # any values, not only the maxima
    out = nb.max_unpool2d(v, idx, 2, output_size=x.shape)
    flat = out.data.reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(flat, idx.data.reshape(2, 3, -1), axis=2),
                                  v.data.reshape(2, 3, -1))          # value (n, c, i, j) sits at idx[n, c, i, j]
    hit = np.zeros(flat.shape, bool)
    np.put_along_axis(hit, idx.data.reshape(2, 3, -1), True, axis=2)
    assert (flat[~hit] == 0).all() and hit.sum() == y.numel()   # and every other position is 0
    g = rng.standard_normal(out.shape)
    out.backward(nb.tensor(g))
    np.testing.assert_array_equal(v.grad.data.reshape(2, 3, -1),
                                  np.take_along_axis(g.reshape(2, 3, -1), idx.data.reshape(2, 3, -1), axis=2))


def test_pooling_keeps_channels_last_layout_and_values():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 4, 6, 6))
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    for f in (lambda t: nb.max_pool2d(t, 3, 2, 1), lambda t: nb.avg_pool2d(t, 2)):
        a, b = nb.Tensor(x, requires_grad=True), nb.Tensor(x_cl, requires_grad=True)  # Tensor() keeps the layout
        ya, yb = f(a), f(b)
        np.testing.assert_array_equal(ya.data, yb.data)
        assert yb.data.strides[1] == yb.data.itemsize
        ya.sum().backward()
        yb.sum().backward()
        np.testing.assert_array_equal(a.grad.data, b.grad.data)


def test_eval_max_pool_skips_indices_but_matches():
    x = nb.randn(2, 3, 7, 7)
    with nb.no_grad():
        a = nb.max_pool2d(x, 3, 2, 1)
    b, _ = nb.max_pool2d(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: nb.max_pool2d(nb.randn(1, 1, 2, 2), 3), ValueError, r"max_pool2d: input of shape \(1, 1, 2, 2\) is too small"),
    (lambda: nb.max_pool2d(nb.randn(1, 1, 5, 5), 2, padding=2), ValueError, r"pad should be at most half"),
    (lambda: nb.max_pool2d(nb.randn(5, 5), 2), ValueError, r"max_pool2d: expected an input of shape"),
    (lambda: nb.avg_pool2d(nb.randn(1, 1, 2, 2), 3), ValueError, r"avg_pool2d: input of shape"),
    (lambda: nb.max_unpool2d(nb.randn(1, 1, 2, 2), nb.zeros(1, 1, 2, 2, dtype=nb.int64), 2, output_size=(7, 7)),
     ValueError, r"max_unpool2d: invalid output_size \(7, 7\)"),
    (lambda: nb.max_unpool2d(nb.randn(1, 1, 2, 2), nb.zeros(1, 1, 2, 3, dtype=nb.int64), 2), ValueError,
     r"indices of shape \(1, 1, 2, 3\)"),
    (lambda: nb.max_unpool2d(nb.randn(1, 1, 2, 2), nb.full((1, 1, 2, 2), 16, dtype=nb.int64), 2), IndexError,
     r"indices must be in \[0, 16\)"),
    (lambda: nb.adaptive_avg_pool2d(nb.randn(1, 1, 4, 4), (0, 2)), ValueError, r"output_size must be positive"),
])
def test_bad_input_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
