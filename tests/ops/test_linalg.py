"""gradcheck / gradgradcheck of matmul, dot, outer and einsum samples, plus errors and special cases."""
import numpy as np
import pytest

import nabla as nb

from .db_linalg import OPS
from .opinfo import gradcheck_tests

test_gradcheck, test_gradgradcheck = gradcheck_tests(OPS)


def _t(*shape, seed=0, grad=False):
    return nb.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=grad)


@pytest.mark.parametrize("eq,shapes,match", [
    ("ij,jk", [(3, 2), (3, 2)], "subscript j has size 3 for operand 1 .* previously seen size 2"),
    ("ij->ii", [(3, 3)], "output subscript i appears more than once"),
    ("ij", [(3, 3, 3)], r"number of subscripts in 'ij' \(2\) does not match .*\(3\) of operand 0"),
    ("ij,jk->ik", [(3, 2)], "names 2 operands, got 1"),
    ("ij->k", [(3, 2)], "output subscript k does not appear"),
    ("i1->i", [(3, 2)], "invalid characters"),
    ("i.j->i", [(3, 2)], "ellipsis"),
    ("ii->i", [(3, 2)], "subscript i is repeated in operand 0 .* dimensions differ"),
    ("...ijk", [(3, 2)], "operand 0 has 2 dimensions"),
])
def test_einsum_errors(eq, shapes, match):
    with pytest.raises(ValueError, match="einsum: .*" + match):
        nb.einsum(eq, *[_t(*s) for s in shapes])


def test_einsum_forms():
    a, b = _t(3, 4), _t(4, 2, seed=1)
    expected = a.data @ b.data
    np.testing.assert_allclose(nb.einsum("ij,jk", [a, b]).data, expected)
    np.testing.assert_allclose(nb.einsum(" i j , j k -> i k ", a, b).data, expected)
    np.testing.assert_allclose(nb.einsum("ij,jk->ik", a.data, b).data, expected)  # arrays are accepted
    assert nb.einsum("aB", _t(3, 2)).shape == (2, 3)  # implicit output: alphabetical, uppercase first


def test_einsum_output_does_not_alias_input():
    x = _t(3, 3)
    y = nb.einsum("ii->i", x)
    y.data[0] = 100.0
    assert x.data[0, 0] != 100.0


def test_einsum_many_operands_uses_blas_order():
    # a chain contraction: with optimize the cost is pairwise, without it a 4-d loop
    xs = [_t(40, 40, seed=i) for i in range(3)]
    np.testing.assert_allclose(nb.einsum("ij,jk,kl->il", *xs).data, xs[0].data @ xs[1].data @ xs[2].data)


def test_einsum_double_backward_bilinear():
    x, w = _t(2, 3, grad=True), _t(3, 3, seed=1, grad=True)
    y = nb.einsum("bi,ij,bj->b", x, w, x)
    (gx,) = nb.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(gx.data, x.data @ (w.data + w.data.T))
    (gw,) = nb.autograd.grad(gx.sum(), w)
    ones = np.ones((2, 3))
    np.testing.assert_allclose(gw.data, ones.T @ x.data + x.data.T @ ones)


@pytest.mark.parametrize("call,match", [
    (lambda: nb.matmul(_t(3, 4), _t(3, 4)), r"matmul: shapes \(3, 4\) and \(3, 4\) do not match"),
    (lambda: nb.matmul(_t(), _t(3)), "matmul: both operands need at least 1 dimension"),
    (lambda: nb.dot(_t(3), _t(4)), "dot: expected two 1-d tensors"),
    (lambda: nb.dot(_t(3, 1), _t(3)), "dot: expected two 1-d tensors"),
    (lambda: nb.outer(_t(3, 1), _t(3)), "outer: expected two 1-d tensors"),
    (lambda: nb.mm(_t(3), _t(3, 2)), "mm: expected 2-d and 2-d"),
    (lambda: nb.bmm(_t(2, 3, 4), _t(3, 4, 5)), "bmm: batch sizes differ"),
    (lambda: nb.mv(_t(3, 4), _t(4, 1)), "mv: expected 2-d and 1-d"),
])
def test_matmul_family_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_matmul_shapes_and_methods():
    assert (_t(4) @ _t(4)).shape == ()
    assert (_t(2, 1, 3, 4) @ _t(5, 4, 2)).shape == (2, 5, 3, 2)
    assert _t(3, 4).matmul(_t(4)).shape == (3,)
    assert (np.ones((2, 3)) @ _t(3, 4)).shape == (2, 4)
    assert _t(3, 4).mm(_t(4, 2)).shape == (3, 2)
