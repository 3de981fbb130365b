"""Shape ops: gradcheck/gradgradcheck from tests/ops/db_shape.py, and hand-written special cases."""
import numpy as np
import pytest

import nabla as nb
from .db_shape import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


def t64(*shape, requires_grad=True, seed=0):
    return nb.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


# ---------------------------------------------------------------- errors name the op and the shapes
def test_cat_mismatched_shapes_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"cat: .*\(2, 3\).*\(3, 2\)"):
        nb.cat([nb.zeros(2, 3), nb.zeros(3, 2)])
    with pytest.raises(ValueError, match="cat: tensors must have the same shape except in dim 1"):
        nb.cat([nb.zeros(2, 3), nb.zeros(3, 3)], dim=1)
    with pytest.raises(ValueError, match="cat: .*zero-dimensional"):
        nb.cat([nb.tensor(1.0), nb.tensor(2.0)])
    with pytest.raises(ValueError, match="cat: expected a non-empty"):
        nb.cat([])
    with pytest.raises(TypeError, match="cat: expected a sequence"):
        nb.cat(nb.zeros(2))


def test_stack_mismatched_shapes():
    with pytest.raises(ValueError, match=r"stack: .*\(2, 3\) at entry 0 and \(2, 2\) at entry 1"):
        nb.stack([nb.zeros(2, 3), nb.zeros(2, 2)])


@pytest.mark.parametrize("call", [
    lambda x: nb.cat([x, x], dim=2), lambda x: nb.stack([x, x], dim=3), lambda x: x.squeeze(2),
    lambda x: x.unsqueeze(3), lambda x: x.unsqueeze(-4), lambda x: x.flatten(0, 2), lambda x: x.flip(-3),
    lambda x: x.movedim(0, 2), lambda x: x.split(1, 2), lambda x: x.chunk(2, -3), lambda x: x.roll(1, 5),
    lambda x: x.unbind(2), lambda x: x.narrow(2, 0, 1), lambda x: x.transpose(0, 2), lambda x: x.unflatten(2, (1,)),
])
def test_out_of_range_dims_raise_index_error(call):
    with pytest.raises(IndexError, match=r"dim -?\d+ is out of range for a tensor of 2 dimensions"):
        call(nb.zeros(2, 3))


def test_pad_errors():
    x = nb.zeros(2, 3)
    with pytest.raises(ValueError, match="pad: mode must be one of .*'foo'"):
        nb.pad(x, (1, 1), mode="foo")
    with pytest.raises(ValueError, match="pad: padding length must be divisible by 2"):
        nb.pad(x, (1,))
    with pytest.raises(ValueError, match=r"pad: padding .* covers 3 dims but the input has shape \(2, 3\)"):
        nb.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="pad: reflect padding .* less than the size 3 of dim 1"):
        nb.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: circular padding"):
        nb.pad(x, (0, 4), mode="circular")
    with pytest.raises(ValueError, match="does not take a value"):
        nb.pad(x, (1, 1), mode="replicate", value=2.0)
    with pytest.raises(ValueError, match="negative"):
        nb.pad(x, (-2, -2))


def test_split_and_repeat_errors():
    x = nb.zeros(5, 2)
    with pytest.raises(ValueError, match=r"split: sections \[2, 2\] must .* sum to 5"):
        x.split([2, 2])
    with pytest.raises(ValueError, match="split: split_size must be a positive integer"):
        x.split(0)
    with pytest.raises(ValueError, match="repeat: number of repeat sizes"):
        x.repeat(2)
    with pytest.raises(ValueError, match="unflatten: sizes"):
        x.unflatten(0, (2, 2))
    with pytest.raises(ValueError, match="flatten: start_dim 1 comes after end_dim 0"):
        x.flatten(1, 0)
    with pytest.raises(ValueError, match="movedim: source"):
        nb.zeros(2, 3, 4).movedim((0, 1), 2)


# ---------------------------------------------------------------- semantics
def test_split_pieces_are_differentiable_slices():
    x = t64(5, 2)
    a, b, c = x.split(2)
    assert [p.shape for p in (a, b, c)] == [(2, 2), (2, 2), (1, 2)]
    (a * 1.0 + b * 2.0).backward(nb.ones(2, 2, dtype=np.float64))
    np.testing.assert_array_equal(x.grad.data[:, 0], [1, 1, 2, 2, 0])


def test_chunk_counts_follow_torch():
    torch = pytest.importorskip("torch")
    for n, c in [(5, 3), (6, 4), (2, 5), (7, 7), (0, 2)]:
        ours = [p.shape[0] for p in nb.zeros(n).chunk(c)]
        theirs = [p.shape[0] for p in torch.zeros(n).chunk(c)]
        assert ours == theirs, (n, c)


def test_cat_skips_legacy_empty_1d_tensors():
    out = nb.cat([nb.zeros(2, 3), nb.zeros(0), nb.ones(1, 3)])
    assert out.shape == (3, 3)
    assert nb.cat([nb.zeros(0), nb.zeros(0)]).shape == (0,)


def test_cat_promotes_dtypes_and_casts_gradients_back():
    a = nb.tensor(np.ones((2,), np.float32), requires_grad=True)
    b = nb.tensor(np.ones((1,), np.float64), requires_grad=True)
    out = nb.cat([a, b])
    assert out.dtype == np.float64
    out.backward(nb.tensor(np.array([1.0, 2.0, 3.0])))
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_array_equal(a.grad.data, [1, 2])


def test_squeeze_semantics():
    x = nb.zeros(1, 3, 1)
    assert x.squeeze().shape == (3,)
    assert x.squeeze(1).shape == (1, 3, 1)      # a dim that is not size 1 stays
    assert x.squeeze((0, 2)).shape == (3,)
    assert nb.zeros(1).squeeze().shape == ()
    assert nb.tensor(2.0).unsqueeze(-1).shape == (1,)


def test_pad_matches_numpy_modes():
    x = np.arange(12.0).reshape(3, 4)
    for mode, np_mode in [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]:
        got = nb.pad(nb.tensor(x), (2, 1, 1, 2), mode=mode).data
        np.testing.assert_array_equal(got, np.pad(x, ((1, 2), (2, 1)), mode=np_mode))
    np.testing.assert_array_equal(nb.pad(nb.tensor(x), (1, 1), value=-1.0).data,
                                  np.pad(x, ((0, 0), (1, 1)), constant_values=-1.0))


def test_reflect_pad_gradient_accumulates_mirrored_positions():
    x = nb.tensor(np.zeros(4), requires_grad=True)
    nb.pad(x, (3, 3), mode="reflect").backward(nb.ones(10, dtype=np.float64))
    # output reads input 3 2 1 | 0 1 2 3 | 2 1 0
    np.testing.assert_array_equal(x.grad.data, [2, 3, 3, 2])


def test_repeat_gradient_sums_tiles():
    x = nb.tensor(np.zeros((1, 2)), requires_grad=True)
    x.repeat(3, 2).backward(nb.ones(3, 4, dtype=np.float64))
    np.testing.assert_array_equal(x.grad.data, [[6, 6]])
    np.testing.assert_array_equal(nb.tensor(np.arange(6).reshape(2, 3)).repeat(2, 1, 2).data,
                                  np.tile(np.arange(6).reshape(2, 3), (2, 1, 2)))


def test_movedim_and_flip_roll():
    x = nb.tensor(np.arange(24).reshape(2, 3, 4))
    np.testing.assert_array_equal(x.movedim((0, 1), (2, 0)).data, np.moveaxis(x.data, (0, 1), (2, 0)))
    np.testing.assert_array_equal(x.flip((0, 2)).data, x.data[::-1, :, ::-1])
    np.testing.assert_array_equal(x.roll(5).data, np.roll(x.data, 5))
    assert x.swapaxes(0, 2).shape == (4, 3, 2) and x.swapdims(0, 1).shape == (3, 2, 4)


def test_contiguous_returns_self():
    x = nb.zeros(2, 3)
    assert x.contiguous() is x


def test_jacobian_stacks_rows():
    j = nb.autograd.functional.jacobian(lambda a: a * a, nb.tensor([1.0, 2.0], dtype=np.float64))
    np.testing.assert_array_equal(j.data, [[2, 0], [0, 4]])


def test_stack_gradient_of_many_tensors():
    xs = [t64(3, seed=i) for i in range(4)]
    y = nb.stack(xs, dim=1)
    assert y.shape == (3, 4)
    y.backward(nb.tensor(np.arange(12.0).reshape(3, 4)))
    for i, x in enumerate(xs):
        np.testing.assert_array_equal(x.grad.data, np.arange(12.0).reshape(3, 4)[:, i])
