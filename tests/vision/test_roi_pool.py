"""roi_pool: the legacy "+1" extents and rounding worked by hand, empty bins, the first maximum on ties and
its gradient, the list-of-boxes form, RoI blocks, gradients (gradcheck, second order through the
gather/scatter pair), errors.  (Against a reference of torchvision's CPU kernel: tests/conformance/test_vision.py.)"""
import numpy as np
import pytest

import nabla as nb
import nabla.vision.roi_pool as roi_pool_module
from nabla.autograd import gradcheck, gradgradcheck
from nabla.vision.ops import RoIPool, roi_pool


def _feats(n=2, c=3, h=6, w=7, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, h, w))


def test_plus_one_extents_and_rounding_by_hand():
    f = np.arange(36.0).reshape(1, 1, 6, 6)
    # (0, 0)-(1, 1): "+1" makes it 2 x 2 pixels, rows/cols 0..1: max f[1, 1] = 7
    assert roi_pool(f, np.array([[0, 0, 0, 1, 1.0]]), 1).data.item() == 7
    # edges 0.5 and 2.5 round away from zero to 1 and 3: pixels 1..3; two bins of 1.5 -> [1, 3) and [2, 4)
    out = roi_pool(f, np.array([[0, 0.5, 0.5, 2.5, 2.5]]), 2).data[0, 0]
    np.testing.assert_array_equal(out, [[14, 15], [20, 21]])
    # spatial_scale 0.5: a box (2, 2)-(6, 6) in the image is pixels 1..3 on the map
    np.testing.assert_array_equal(roi_pool(f, np.array([[0, 2, 2, 6, 6.0]]), 2, 0.5).data[0, 0], out)


def test_empty_bins_give_zero_and_no_gradient():
    f = nb.tensor(-np.ones((1, 1, 4, 4)), requires_grad=True)
    # columns 3..6 of a 4-wide map: 2 bins of 2 columns, the second [5, 7) lies past the map
    out = roi_pool(f, np.array([[0, 3, 0, 6, 3.0]]), (1, 2))
    np.testing.assert_array_equal(out.data[0, 0], [[-1, 0]])
    out.sum().backward()
    assert f.grad.data.sum() == 1 and f.grad.data[0, 0, 0, 3] == 1


def test_ties_route_to_the_first_maximum_in_row_major_order():
    f = np.zeros((1, 1, 3, 3))
    f[0, 0, 0, 2] = f[0, 0, 1, 0] = f[0, 0, 2, 2] = 5.0  # first in row-major order: (0, 2)
    x = nb.tensor(f, requires_grad=True)
    out = roi_pool(x, np.array([[0, 0, 0, 2, 2.0]]), 1)
    out.backward(nb.tensor(np.full((1, 1, 1, 1), 3.0)))
    assert out.data.item() == 5 and x.grad.data[0, 0, 0, 2] == 3 and x.grad.data.sum() == 3


def test_list_of_boxes_is_the_k5_form_and_dtype_is_kept():
    f = _feats().astype(np.float32)
    a, b = np.array([[0.0, 0, 3, 4], [1, 1, 6, 5]]), np.array([[2.0, 1, 4, 5]])
    rois = np.array([[0, 0.0, 0, 3, 4], [0, 1, 1, 6, 5], [1, 2, 1, 4, 5]])
    out = roi_pool(f, [a, b], 3)
    assert out.dtype == np.float32 and out.shape == (3, 3, 3, 3)
    np.testing.assert_array_equal(out.data, roi_pool(f, rois, 3).data)
    assert roi_pool(f, np.zeros((0, 5)), 3).shape == (0, 3, 3, 3)


def test_blocks_of_rois_give_the_same_result(monkeypatch):
    f = _feats(h=9, w=10)
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 6, (40, 2))
    rois = np.concatenate([rng.integers(0, 2, (40, 1)), xy, xy + rng.uniform(0, 6, (40, 2))], axis=1)
    whole = roi_pool(f, rois, (2, 3)).data
    monkeypatch.setattr(roi_pool_module, "_BLOCK_ENTRIES", 500)  # blocks of a few RoIs
    np.testing.assert_array_equal(roi_pool(f, rois, (2, 3)).data, whole)


@pytest.mark.parametrize("spatial_scale", [1.0, 0.5])
def test_gradcheck_wrt_features(spatial_scale):
    f = nb.tensor(_feats(h=5, w=6), requires_grad=True)  # distinct values: the max is locally linear
    rois = np.array([[0, 0.5, 0.3, 4.2, 3.9], [1, 1.2, 0.0, 5.9, 4.7], [1, 2.0, 2.0, 2.3, 2.2], [0, -1, -1, 3, 8]])
    rois[:, 1:] /= spatial_scale  # the same map pixels at either scale
    assert gradcheck(lambda x: roi_pool(x, rois, (2, 3), spatial_scale), (f,))
    assert gradgradcheck(lambda x: roi_pool(x, rois, (2, 3), spatial_scale), (f,))


def test_second_order_through_the_adjoint():
    """The gradient of <grad, v> w.r.t. the cotangent is v gathered at the argmax positions."""
    f = nb.tensor(_feats(h=5, w=6), requires_grad=True)
    rois = np.array([[0, 0.5, 0.3, 4.2, 3.9], [1, 1.2, 0.0, 5.9, 4.7]])
    g = nb.tensor(np.random.default_rng(1).standard_normal((2, 3, 2, 2)), requires_grad=True)
    (df,) = nb.autograd.grad(roi_pool(f, rois, 2), (f,), grad_outputs=(g,), create_graph=True)
    (df * nb.tensor(f.data)).sum().backward()  # v = the features themselves: the gather is the max
    np.testing.assert_allclose(g.grad.data, roi_pool(f.data, rois, 2).data, rtol=1e-12)


def test_module_and_errors():
    m = RoIPool((2, 2), spatial_scale=0.5)
    assert "spatial_scale=0.5" in repr(m)
    assert m(nb.tensor(_feats()), np.array([[0, 0, 0, 4.0, 4]])).shape == (1, 3, 2, 2)
    with pytest.raises(ValueError, match=r"roi_pool: expected boxes as a \(K, 5\)"):
        roi_pool(_feats(), np.zeros((3, 4)), 2)
    with pytest.raises(IndexError, match="roi_pool: batch index out of range"):
        roi_pool(_feats(), np.array([[2, 0, 0, 1, 1.0]]), 2)
    with pytest.raises(ValueError, match="roi_pool: boxes holds 1 degenerate box"):
        roi_pool(_feats(), np.array([[0, 3, 0, 1, 1.0]]), 2)
    with pytest.raises(ValueError, match=r"roi_pool: expected a float input of shape \(N, C, H, W\)"):
        roi_pool(np.zeros((3, 4, 4)), np.zeros((0, 5)), 2)
    with pytest.raises(ValueError, match="roi_pool: output_size must be a positive int"):
        roi_pool(_feats(), np.zeros((0, 5)), (2, 0))
