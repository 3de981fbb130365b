"""The Tensor API: description, conversion, operators, broadcasting, dtype promotion, errors."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nabla as nb
from nabla import Tensor


# ---------------------------------------------------------------------- description
def test_shape_dtype_ndim_size_numel():
    t = nb.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and isinstance(t.shape, tuple)
    assert t.dtype == nb.float32 == np.float32
    assert t.ndim == 3 and t.dim() == 3
    assert t.size() == (2, 3, 4) and t.size(1) == 3 and t.size(-1) == 4
    assert t.numel() == 24
    assert len(t) == 2
    s = nb.tensor(3.0)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1
    with pytest.raises(TypeError, match="0-d"):
        len(s)


def test_transpose_property():
    a = np.arange(6.0).reshape(2, 3)
    t = nb.tensor(a)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    x = nb.tensor(a, requires_grad=True)
    (x.T * nb.tensor(a.T)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a)


def test_item_numpy_tolist():
    t = nb.tensor([[1.5, 2.0]])
    assert nb.tensor([[7.0]]).item() == 7.0 and isinstance(nb.tensor(7.0).item(), float)
    assert nb.tensor(3).item() == 3 and isinstance(nb.tensor(3).item(), int)
    with pytest.raises(ValueError, match=r"one-element.*\(1, 2\)"):
        t.item()
    arr = t.numpy()
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
    assert np.shares_memory(arr, t.data)
    assert t.tolist() == [[1.5, 2.0]]
    assert float(nb.tensor(2.5)) == 2.5 and int(nb.tensor(3)) == 3
    assert np.asarray(t).shape == (1, 2)


def test_numpy_of_tensor_requiring_grad_asks_for_detach():
    t = nb.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0]


def test_detach_shares_data_and_cuts_graph():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.data, y.data)


def test_clone_copies_and_is_differentiable():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data)
    assert c.requires_grad and not c.is_leaf
    (c * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    with nb.no_grad():
        c.data[0] = 10.0
    assert x.data[0] == 1.0


def test_requires_grad_():
    t = nb.tensor([1.0])
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    with pytest.raises(RuntimeError, match="floating"):
        nb.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaf"):
        (nb.tensor([1.0], requires_grad=True) * 2.0).requires_grad_(False)


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating.*int64"):
        nb.tensor([1, 2], requires_grad=True)


def test_casts():
    t = nb.tensor([1.7, -2.2])
    assert t.double().dtype == np.float64
    assert t.double().float().dtype == np.float32
    assert t.long().dtype == np.int64 and t.long().tolist() == [1, -2]
    assert t.astype(nb.float64).dtype == np.float64
    assert t.to(nb.float64).dtype == np.float64
    assert t.astype(np.int32).dtype == np.int32
    assert t.float() is t  # no-op cast returns the same tensor


def test_cast_is_differentiable_between_floats():
    x = nb.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    assert not x.long().requires_grad


def test_repr():
    assert repr(nb.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(nb.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(nb.tensor([1.0], dtype=nb.float64)) == "tensor([1.], dtype=nabla.float64)"
    assert repr(nb.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(nb.tensor([1.0], requires_grad=True) * 2.0) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert str(nb.tensor(2.5)) == "tensor(2.5000)"  # more cases, compared with PyTorch's: tests/test_api.py


def test_bool_of_tensor():
    assert bool(nb.tensor(1.0)) and not bool(nb.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(nb.tensor([1.0, 2.0]))


def test_tensor_is_hashable_by_identity():
    a, b = nb.tensor([1.0]), nb.tensor([1.0])
    assert len({a, b}) == 2


# ---------------------------------------------------------------------- operators
A = np.array([[1.5, -2.0, 3.0], [0.5, 4.0, -1.0]])
B = np.array([[2.0, 3.0, -1.5], [1.0, -2.0, 0.5]])


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%", "**"])
def test_binary_operators_match_numpy(op):
    a, b = A, np.abs(B) if op == "**" else B
    a = np.abs(a) if op == "**" else a
    expected = eval(f"a {op} b")
    got = eval(f"nb.tensor(a, dtype=nb.float32) {op} nb.tensor(b, dtype=nb.float32)")
    assert isinstance(got, Tensor) and got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), expected.astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%", "**"])
def test_right_hand_forms_with_python_scalars(op):
    a = np.abs(A) if op == "**" else A
    expected = eval(f"2.0 {op} a")
    t = nb.tensor(a, dtype=nb.float32)
    got = eval(f"2.0 {op} t")
    assert isinstance(got, Tensor) and got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), expected.astype(np.float32), rtol=1e-6)
    got_int = eval(f"3 {op} t")
    assert got_int.dtype == np.float32
    np.testing.assert_allclose(got_int.numpy(), eval(f"3 {op} a").astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("op", ["+", "-", "*", "/", "//", "%", "**", "@", "<", "==", ">="])
def test_numpy_array_on_the_left_gives_a_tensor(op):
    # ndarray (op) Tensor must defer to Tensor's reflected operator (__array_priority__),
    # not turn the tensor into an array and return an ndarray
    a = np.abs(A).astype(np.float32)
    t = nb.tensor(np.abs(B).T if op == "@" else np.abs(B), requires_grad=True)
    got = eval(f"a {op} t")
    assert isinstance(got, Tensor), type(got)
    expected = eval(f"a {op} t.detach().numpy()")
    np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-6)
    if op in ("+", "-", "*", "/", "**", "@"):
        assert got.requires_grad  # and the graph goes through


def test_numpy_scalar_on_the_left_gives_a_tensor():
    t = nb.tensor([1.0, 2.0], requires_grad=True)
    got = np.float32(2.0) * t
    assert isinstance(got, Tensor) and got.requires_grad
    got.sum().backward()
    np.testing.assert_allclose(t.grad.numpy(), [2.0, 2.0])


def test_matmul_operator():
    a, b = nb.tensor(A), nb.tensor(B.T)
    np.testing.assert_allclose((a @ b).numpy(), (A @ B.T).astype(np.float32), rtol=1e-6)


def test_unary_minus_and_abs():
    t = nb.tensor(A)
    np.testing.assert_array_equal((-t).numpy(), (-A).astype(np.float32))
    np.testing.assert_array_equal(abs(t).numpy(), np.abs(A).astype(np.float32))
    np.testing.assert_array_equal(t.abs().numpy(), np.abs(A).astype(np.float32))
    x = nb.tensor([-2.0, 3.0], requires_grad=True)
    (abs(x) + -x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [-2.0, 0.0])


@pytest.mark.parametrize("op", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons_give_bool_tensors(op):
    got = eval(f"nb.tensor(A) {op} nb.tensor(B)")
    assert isinstance(got, Tensor) and got.dtype == np.bool_ and not got.requires_grad
    np.testing.assert_array_equal(got.numpy(), eval(f"A {op} B"))
    scalar = eval(f"nb.tensor(A, requires_grad=True) {op} 1.5")
    assert scalar.dtype == np.bool_ and not scalar.requires_grad
    np.testing.assert_array_equal(scalar.numpy(), eval(f"A.astype(np.float32) {op} 1.5"))


def test_operator_gradients():
    a = nb.tensor(A, dtype=nb.float64, requires_grad=True)
    b = nb.tensor(np.abs(B) + 1.0, dtype=nb.float64, requires_grad=True)
    (a * b + a / b - b ** 2.0 + 3.0 * a - 1.0 / b).sum().backward()
    bn = np.abs(B) + 1.0
    np.testing.assert_allclose(a.grad.numpy(), bn + 1 / bn + 3.0)
    np.testing.assert_allclose(b.grad.numpy(), A - A / bn ** 2 - 2 * bn + 1 / bn ** 2)


# ---------------------------------------------------------------------- broadcasting
def test_broadcasting_values_and_gradients():
    a = nb.tensor(np.ones((2, 1, 3)), requires_grad=True)
    b = nb.tensor(np.arange(4.0).reshape(4, 1), requires_grad=True)
    y = a * b
    assert y.shape == (2, 4, 3)
    y.sum().backward()
    assert a.grad.shape == (2, 1, 3) and b.grad.shape == (4, 1)
    np.testing.assert_allclose(a.grad.numpy(), np.full((2, 1, 3), 6.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full((4, 1), 6.0))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_broadcast_add_gradient_sums_back_to_input_shapes(data):
    shape_a, shape_b = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3)
                                 .map(lambda s: s.input_shapes))
    a_np = data.draw(hnp.arrays(np.float64, shape_a, elements=st.floats(-3, 3)))
    b_np = data.draw(hnp.arrays(np.float64, shape_b, elements=st.floats(-3, 3)))
    a = nb.tensor(a_np, requires_grad=True)
    b = nb.tensor(b_np, requires_grad=True)
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    w = np.arange(int(np.prod(out_shape)), dtype=np.float64).reshape(out_shape)
    y = a + b
    assert y.shape == out_shape
    (y * nb.tensor(w)).sum().backward()
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    # the gradient of a broadcast input: the weights summed over the axes it was repeated along
    np.testing.assert_allclose(a.grad.numpy(), _broadcast_reference(shape_a, out_shape, w).reshape(shape_a))
    np.testing.assert_allclose(b.grad.numpy(), _broadcast_reference(shape_b, out_shape, w).reshape(shape_b))


def _broadcast_reference(shape_in, out_shape, w):
    """sum of w over the axes along which an input of shape_in was broadcast to out_shape."""
    lead = len(out_shape) - len(shape_in)
    g = w.sum(axis=tuple(range(lead))) if lead else w
    axes = tuple(i for i, s in enumerate(shape_in) if s == 1 and g.shape[i] != 1)
    return g.sum(axis=axes, keepdims=True) if axes else g


@settings(max_examples=40, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3))
def test_broadcast_mul_gradient_matches_reference(shapes):
    shape_a, shape_b = shapes.input_shapes
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = nb.tensor(a_np, requires_grad=True), nb.tensor(b_np, requires_grad=True)
    out_shape = np.broadcast_shapes(shape_a, shape_b)
    (a * b).sum().backward()
    ref_a = _broadcast_reference(shape_a, out_shape, np.broadcast_to(b_np, out_shape))
    ref_b = _broadcast_reference(shape_b, out_shape, np.broadcast_to(a_np, out_shape))
    np.testing.assert_allclose(a.grad.numpy(), ref_a.reshape(shape_a), atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), ref_b.reshape(shape_b), atol=1e-12)


@pytest.mark.parametrize("op, name", [("+", "add"), ("-", "sub"), ("*", "mul"), ("/", "div")])
def test_shape_mismatch_error_names_op_and_shapes(op, name):
    a, b = nb.ones(2, 3), nb.ones(4)
    with pytest.raises(ValueError, match=rf"{name}.*\(2, 3\).*\(4,\)"):
        eval(f"a {op} b")


def test_matmul_shape_mismatch_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        nb.ones(2, 3) @ nb.ones(4, 5)


# ---------------------------------------------------------------------- dtype promotion
def test_float32_tensor_times_python_float_stays_float32():
    t = nb.ones(3)
    assert (t * 2.0).dtype == np.float32
    assert (2.0 * t).dtype == np.float32
    assert (t + 1).dtype == np.float32
    assert (t / 3).dtype == np.float32
    assert (t ** 2).dtype == np.float32


def test_float64_tensor_keeps_float64_with_python_scalars():
    t = nb.ones(3, dtype=nb.float64)
    assert (t * 2.0).dtype == np.float64 and (1 - t).dtype == np.float64


_DTYPES = ["float32", "float64", "int32", "int64"]


@pytest.mark.parametrize("da, db", list(itertools.product(_DTYPES, _DTYPES)))
def test_tensor_tensor_promotion_follows_numpy(da, db):
    a, b = np.ones(2, da), np.full(2, 2, db)
    for op in ("+", "-", "*", "/"):
        got = eval(f"nb.tensor(a) {op} nb.tensor(b)")
        assert got.dtype == eval(f"a {op} b").dtype, (da, op, db)


@pytest.mark.parametrize("dtype", _DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5])
def test_tensor_python_scalar_promotion_follows_numpy(dtype, scalar):
    a = np.ones(2, dtype)
    for op in ("+", "*", "/"):
        assert eval(f"nb.tensor(a) {op} scalar").dtype == eval(f"a {op} scalar").dtype, (dtype, op, scalar)
        assert eval(f"scalar {op} nb.tensor(a)").dtype == eval(f"scalar {op} a").dtype, (dtype, op, scalar)


def test_float32_plus_float64_is_float64_and_grads_keep_input_dtypes():
    a = nb.tensor([1.0, 2.0], requires_grad=True)
    b = nb.tensor([1.0, 2.0], dtype=nb.float64, requires_grad=True)
    y = a + b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_python_data_takes_default_dtype():
    assert nb.tensor([1.0, 2.0]).dtype == np.float32
    assert nb.tensor([1, 2]).dtype == np.int64
    assert nb.tensor([True]).dtype == np.bool_
    assert nb.tensor(np.ones(2)).dtype == np.float64  # arrays keep their dtype
