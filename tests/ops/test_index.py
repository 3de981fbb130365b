"""Indexing ops: gradcheck/gradgradcheck from tests/ops/db_index.py, and hand-written special cases."""
import numpy as np
import pytest

import nabla as nb
from .db_index import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


def t64(*shape, requires_grad=True, seed=0):
    return nb.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


def ones_like(t):
    return nb.tensor(np.ones(t.shape, dtype=t.dtype))


# ---------------------------------------------------------------- gradients accumulate
def test_repeated_fancy_indices_accumulate():
    x = t64(3, 2)
    x[[0, 0, 1]].backward(nb.ones(3, 2, dtype=np.float64))
    np.testing.assert_array_equal(x.grad.data, [[2, 2], [1, 1], [0, 0]])
    x.grad = None
    x[nb.tensor([[2, 2], [2, 0]]), 1].backward(nb.ones(2, 2, dtype=np.float64))
    np.testing.assert_array_equal(x.grad.data, [[0, 1], [0, 0], [0, 3]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,k,m", [(7, 50, 1), (7, 50, 5), (50, 20, 6), (3, 100, 4)])
def test_row_accumulation_paths_match_add_at(dtype, n, k, m):
    rng = np.random.default_rng(n * k + m)
    x = nb.tensor(rng.standard_normal((n, m)).astype(dtype), requires_grad=True)
    idx = rng.integers(-n, n, k)
    g = rng.standard_normal((k, m)).astype(dtype)
    x[idx].backward(nb.tensor(g))
    expect = np.zeros((n, m), dtype)
    np.add.at(expect, idx, g)
    assert x.grad.dtype == dtype
    np.testing.assert_allclose(x.grad.data, expect, rtol=1e-5, atol=1e-5)


def test_general_key_accumulation_matches_add_at():
    rng = np.random.default_rng(0)
    x = t64(4, 5, 3)
    key = (rng.integers(0, 4, (6, 1)), slice(1, 4), rng.integers(-3, 3, (1, 2)))
    y = x[key]
    g = rng.standard_normal(y.shape)
    y.backward(nb.tensor(g))
    expect = np.zeros(x.shape)
    np.add.at(expect, key, g)
    np.testing.assert_allclose(x.grad.data, expect)
    x.grad = None
    key = (rng.integers(0, 4, 10), rng.integers(-5, 5, 10), rng.integers(0, 3, 10))  # one array per dim
    x[key].backward(nb.tensor(np.arange(10.0)))
    expect = np.zeros(x.shape)
    np.add.at(expect, key, np.arange(10.0))
    np.testing.assert_allclose(x.grad.data, expect)


def test_gradient_of_getitem_gradient_is_getitem():
    """The scatter-add that backward builds is itself an op whose gradient reads the same index."""
    x = t64(4)
    idx = [0, 0, 3]
    y = x[idx] ** 2
    (gx,) = nb.autograd.grad([y], [x], grad_outputs=[nb.tensor(np.ones(3))], create_graph=True)
    np.testing.assert_allclose(gx.data, [4 * x.data[0], 0, 0, 2 * x.data[3]])
    assert gx.grad_fn is not None
    gx.backward(nb.tensor(np.array([1.0, 10.0, 100.0, 1000.0])))
    np.testing.assert_allclose(x.grad.data, [4, 0, 0, 2000])   # d/dx of <w, gx>


def test_basic_slicing_returns_views_and_advanced_copies():
    x = nb.tensor(np.arange(12.0).reshape(3, 4))
    assert np.shares_memory(x[1:, ::2].data, x.data)
    assert np.shares_memory(x[..., 1, None].data, x.data)
    assert not np.shares_memory(x[[0, 1]].data, x.data)


def test_negative_step_slices_follow_numpy():
    x = t64(5, 3)
    y = x[::-2, 1]
    np.testing.assert_array_equal(y.data, x.data[::-2, 1])
    y.backward(nb.tensor(np.array([1.0, 2.0, 3.0])))
    expect = np.zeros((5, 3))
    expect[::-2, 1] = [1, 2, 3]
    np.testing.assert_array_equal(x.grad.data, expect)


def test_tensor_keys_and_torch_agree():
    torch = pytest.importorskip("torch")
    a = np.arange(24.0).reshape(2, 3, 4)
    x, tx = nb.tensor(a), torch.tensor(a)
    m = a[..., 0] > 5
    for nk, tk in [((nb.tensor([1, 0]), nb.tensor(2)), (torch.tensor([1, 0]), torch.tensor(2))),
                   (nb.tensor(m), torch.tensor(m)),
                   ((slice(None), nb.tensor([[0, 2]]), nb.tensor([[1], [3]])),
                    (slice(None), torch.tensor([[0, 2]]), torch.tensor([[1], [3]])))]:
        np.testing.assert_array_equal(x[nk].data, tx[tk].numpy())


def test_list_of_lists_is_one_index_array():
    # NumPy's (and PyTorch's announced) rule; PyTorch 2.x still reads it as a tuple with a warning
    x = nb.tensor(np.arange(12.0).reshape(3, 4))
    assert x[[[0, 1], [1, 2]]].shape == (2, 2, 4)


# ---------------------------------------------------------------- errors
def test_getitem_errors_name_the_op_and_shape():
    x = nb.zeros(3, 4)
    with pytest.raises(IndexError, match=r"__getitem__: index 5 is out of bounds .* \(tensor of shape \(3, 4\)\)"):
        x[5]
    with pytest.raises(IndexError, match=r"__getitem__: index 9 is out of bounds .*shape \(3, 4\)"):
        x[:, [0, 9]]
    with pytest.raises(IndexError, match="__getitem__: tensors used as indices must be integer or bool"):
        x[nb.tensor([1.0])]
    with pytest.raises(TypeError, match="__getitem__: unsupported index element of type str"):
        x["a"]
    with pytest.raises(IndexError, match="__getitem__: .*boolean"):
        x[np.array([True, False])]
    with pytest.raises(IndexError, match="__getitem__: too many indices"):
        x[0, 0, 0]


def test_gather_scatter_errors():
    x = nb.zeros(3, 4)
    with pytest.raises(ValueError, match=r"gather: index of shape \(2,\) must have the same number of dimensions"):
        nb.gather(x, 0, nb.tensor([0, 1]))
    with pytest.raises(IndexError, match="gather: index 3 is out of bounds for dim 0 with size 3"):
        nb.gather(x, 0, nb.tensor([[3]]))
    with pytest.raises(IndexError, match="gather: index -1 is out of bounds"):
        nb.gather(x, 1, nb.tensor([[-1]]))
    with pytest.raises(ValueError, match=r"gather: index of shape \(4, 1\) is larger than the input"):
        nb.gather(x, 1, nb.zeros(4, 1, dtype=np.int64))
    with pytest.raises(IndexError, match="gather: dim 2 is out of range"):
        nb.gather(x, 2, nb.zeros(1, 1, dtype=np.int64))
    with pytest.raises(TypeError, match="gather: index must be an integer tensor"):
        nb.gather(x, 0, nb.zeros(1, 1))
    with pytest.raises(ValueError, match=r"scatter_add: index of shape \(2, 2\) is larger than src of shape \(1, 2\)"):
        nb.scatter_add(x, 0, nb.zeros(2, 2, dtype=np.int64), nb.zeros(1, 2))
    with pytest.raises(ValueError, match="index_select: index must be 0-d or 1-D"):
        nb.index_select(x, 0, nb.zeros(1, 1, dtype=np.int64))
    with pytest.raises(IndexError, match="index_select: index 4 is out of bounds for dim 1 with size 4"):
        x.index_select(1, nb.tensor([0, 4]))
    with pytest.raises(ValueError, match=r"index_add: source of shape \(2, 4\) does not match the expected \(3, 4\)"):
        x.index_add(0, nb.tensor([0, 1, 1]), nb.zeros(2, 4))
    with pytest.raises(IndexError, match="take: index 12 is out of range for a tensor of 12 elements"):
        x.take(nb.tensor([12]))


def test_masked_fill_errors():
    x = nb.zeros(3, 4)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2, 4\) cannot be broadcast to .*\(3, 4\)"):
        x.masked_fill(np.zeros((2, 4), bool), 1.0)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2, 3, 4\) cannot be broadcast"):
        x.masked_fill(np.zeros((2, 3, 4), bool), 1.0)   # mask may not enlarge the input
    with pytest.raises(TypeError, match="masked_fill: mask must be a bool tensor"):
        x.masked_fill(nb.zeros(3, 4), 1.0)
    with pytest.raises(ValueError, match="masked_fill: value must be a number or a 0-d tensor"):
        x.masked_fill(np.zeros((3, 4), bool), nb.zeros(2))


# ---------------------------------------------------------------- other semantics
def test_scatter_add_uses_the_index_shaped_corner_of_src():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((3, 3))
    idx = np.array([[0, 0, 3], [1, 2, 2]])
    got = nb.scatter_add(nb.tensor(x), 1, nb.tensor(idx), nb.tensor(src))
    np.testing.assert_allclose(got.data, torch.scatter_add(torch.tensor(x), 1, torch.tensor(idx), torch.tensor(src)))
    s = nb.tensor(src, requires_grad=True)
    nb.scatter_add(nb.tensor(x), 1, nb.tensor(idx), s).backward(nb.tensor(np.arange(12.0).reshape(3, 4)))
    np.testing.assert_array_equal(s.grad.data, [[0, 0, 3], [5, 6, 6], [0, 0, 0]])


def test_scatter_gradient_masks_overwritten_positions():
    x, s = t64(2, 3), t64(1, 2, seed=1)
    y = nb.scatter(x, 1, nb.tensor([[2, 0]]), s)
    y.backward(nb.tensor(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [3, 4, 5]])
    np.testing.assert_array_equal(s.grad.data, [[2, 0]])


def test_masked_fill_gradient_wrt_tensor_value():
    x, v = t64(2, 3), nb.tensor(0.5, dtype=np.float64, requires_grad=True)
    mask = np.array([True, False, True])
    x.masked_fill(mask, v).backward(nb.tensor(np.arange(6.0).reshape(2, 3)))
    np.testing.assert_array_equal(x.grad.data, [[0, 1, 0], [0, 4, 0]])
    assert v.grad.item() == 0 + 2 + 3 + 5


def test_nonzero_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[0, 1.5, 0], [2, 0, -1]])
    np.testing.assert_array_equal(nb.nonzero(nb.tensor(a)).data, torch.nonzero(torch.tensor(a)).numpy())
    for ours, theirs in zip(nb.tensor(a).nonzero(as_tuple=True), torch.tensor(a).nonzero(as_tuple=True)):
        np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert nb.nonzero(nb.tensor(a)).dtype == np.int64
    assert nb.nonzero(nb.tensor(3.0)).shape == (1, 0)


def test_inplace_variants():
    x = nb.zeros(2, 3)
    x.masked_fill_(nb.tensor([True, False, True]), 7.0)
    np.testing.assert_array_equal(x.data, [[7, 0, 7], [7, 0, 7]])
    x.index_add_(0, nb.tensor([1, 1]), nb.ones(2, 3))
    np.testing.assert_array_equal(x.data[1], [9, 2, 9])
    assert x._version == 2
    leaf = nb.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="masked_fill_: a leaf tensor that requires grad"):
        leaf.masked_fill_(nb.tensor([True, False]), 1.0)


def test_integer_tensors_index_without_gradients():
    x = nb.tensor(np.arange(10).reshape(2, 5))
    y = x[:, [4, 4, 0]]
    assert y.dtype == np.int64 and not y.requires_grad
    np.testing.assert_array_equal(x.gather(1, nb.tensor([[1], [2]])).data, [[1], [7]])


def test_embedding_style_2d_index_accumulates():
    rng = np.random.default_rng(5)
    w = t64(6, 3)
    idx = rng.integers(0, 6, (4, 5))
    g = rng.standard_normal((4, 5, 3))
    w[nb.tensor(idx)].backward(nb.tensor(g))
    expect = np.zeros((6, 3))
    np.add.at(expect, idx, g)
    np.testing.assert_allclose(w.grad.data, expect)
