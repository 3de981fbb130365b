"""roi_align: exact crops with aligned=True, the legacy half-pixel shift, samples outside the map,
the list-of-boxes form, gradients (gradcheck, and second order through the adjoint pair), errors.
(Values against torchvision's pure-PyTorch formula: tests/conformance/test_vision.py.)"""
import numpy as np
import pytest

import nabla as nb
from nabla.autograd import gradcheck
from nabla.vision.ops import RoIAlign, roi_align


def _feats(n=2, c=3, h=6, w=7, seed=0):
    return np.random.default_rng(seed).standard_normal((n, c, h, w))


def test_aligned_crop_of_whole_pixels_averages_them_exactly():
    f = _feats()
    # box (1, 2)-(5, 6) in pixels, 2 x 2 bins of 2 x 2 pixels, one sample per pixel centre
    out = roi_align(f, np.array([[1, 1, 2, 5, 6.0]]), 2, sampling_ratio=2, aligned=True).data
    expected = f[1, :, 2:6, 1:5].reshape(3, 2, 2, 2, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(out[0], expected, rtol=1e-12)
    # output_size = the box's size: the crop itself
    out = roi_align(f, np.array([[0, 1, 2, 5, 6.0]]), (4, 4), sampling_ratio=1, aligned=True).data
    np.testing.assert_allclose(out[0], f[0, :, 2:6, 1:5], rtol=1e-12)


def test_legacy_alignment_samples_half_a_pixel_later():
    f = _feats()
    legacy = roi_align(f, np.array([[0, 1, 2, 5, 6.0]]), (4, 4), sampling_ratio=1, aligned=False).data
    shifted = roi_align(f, np.array([[0, 1.5, 2.5, 5.5, 6.5]]), (4, 4), sampling_ratio=1, aligned=True).data
    np.testing.assert_allclose(legacy, shifted, rtol=1e-12)


def test_samples_outside_the_map_count_zero_and_clamping_inside():
    f = np.ones((1, 1, 4, 4))
    # one sample per bin, at x = -3 (outside [-1, W]: 0), -1 (inside, clamped to 0: 1), 1, 3, 5 (outside: 0)
    out = roi_align(f, np.array([[0, -4.0, 0, 6, 4]]), (1, 5), sampling_ratio=1, aligned=False).data
    np.testing.assert_allclose(out[0, 0, 0], [0, 1, 1, 1, 0])


def test_list_of_boxes_is_the_k5_form():
    f = _feats()
    a, b = np.array([[0.0, 0, 3, 4], [1, 1, 6, 5]]), np.array([[2.0, 1, 4, 5]])
    rois = np.array([[0, 0.0, 0, 3, 4], [0, 1, 1, 6, 5], [1, 2, 1, 4, 5]])
    np.testing.assert_array_equal(roi_align(f, [a, b], 3).data, roi_align(f, rois, 3).data)
    assert roi_align(f, np.zeros((0, 5)), 3).shape == (0, 3, 3, 3)


@pytest.mark.parametrize("sampling_ratio,aligned", [(-1, False), (2, True), (3, False)])
def test_gradcheck_wrt_features(sampling_ratio, aligned):
    f = nb.tensor(_feats(h=5, w=6), requires_grad=True)
    rois = np.array([[0, 0.5, 0.3, 4.2, 3.9], [1, 1.2, 0.0, 5.9, 4.7], [1, 2.0, 2.0, 2.3, 2.2], [0, -1, -1, 3, 8]])
    assert gradcheck(lambda x: roi_align(x, rois, (2, 3), 1.0, sampling_ratio, aligned), (f,))


def test_second_order_through_the_adjoint():
    """roi_align is linear in the features: the gradient of <grad, v> w.r.t. the cotangent is roi_align(v)."""
    f = nb.tensor(_feats(h=5, w=6), requires_grad=True)
    rois = np.array([[0, 0.5, 0.3, 4.2, 3.9], [1, 1.2, 0.0, 5.9, 4.7]])
    g = nb.tensor(np.random.default_rng(1).standard_normal((2, 3, 2, 2)), requires_grad=True)
    (df,) = nb.autograd.grad(roi_align(f, rois, 2), (f,), grad_outputs=(g,), create_graph=True)
    v = np.random.default_rng(2).standard_normal(df.shape)
    (df * nb.tensor(v)).sum().backward()
    np.testing.assert_allclose(g.grad.data, roi_align(v, rois, 2).data, rtol=1e-12)


def test_module_and_errors():
    m = RoIAlign((2, 2), spatial_scale=0.5, sampling_ratio=2, aligned=True)
    assert "sampling_ratio=2" in repr(m)
    assert m(nb.tensor(_feats()), np.array([[0, 0, 0, 4.0, 4]])).shape == (1, 3, 2, 2)
    with pytest.raises(ValueError, match=r"roi_align: expected boxes as a \(K, 5\)"):
        roi_align(_feats(), np.zeros((3, 4)), 2)
    with pytest.raises(IndexError, match="roi_align: batch index out of range"):
        roi_align(_feats(), np.array([[2, 0, 0, 1, 1.0]]), 2)
    with pytest.raises(ValueError, match=r"roi_align: expected a float input of shape \(N, C, H, W\)"):
        roi_align(np.zeros((3, 4, 4)), np.zeros((0, 5)), 2)
