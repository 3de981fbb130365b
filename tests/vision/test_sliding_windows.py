"""sliding_windows (nabla.vision.proposals): sizes and ratios, stride positions, the edge windows that cover
the whole image, and its errors."""
import numpy as np
import pytest

from nabla.vision.proposals import sliding_windows


def test_one_scale_steps_by_the_stride_and_adds_the_edge_window():
    w = sliding_windows((10, 12), sizes=(4,), strides=(3,))
    xs, ys = np.unique(w[:, 0]), np.unique(w[:, 1])
    np.testing.assert_array_equal(xs, [0, 3, 6, 8])  # 8 = 12 - 4: flush with the right edge
    np.testing.assert_array_equal(ys, [0, 3, 6])     # 6 = 10 - 4 is on the grid already
    assert w.shape == (12, 4) and w.dtype == np.float32
    np.testing.assert_array_equal(w[:2], [[0, 0, 4, 4], [3, 0, 7, 4]])  # row-major: x varies first
    assert (w[:, 2] - w[:, 0] == 4).all() and (w[:, 3] - w[:, 1] == 4).all()


def test_aspect_ratio_is_height_over_width_at_the_same_area_and_windows_stay_inside():
    w = sliding_windows(64, sizes=(12, 18), strides=(4, 6), aspect_ratios=(1.0, 4.0))
    wh = np.unique(w[:, 2:] - w[:, :2], axis=0)
    np.testing.assert_array_equal(wh, [[6, 24], [9, 36], [12, 12], [18, 18]])
    assert (w >= 0).all() and (w <= 64).all()
    # every pixel of the image lies in some window of every shape
    for ww, hh in wh:
        sel = w[(w[:, 2] - w[:, 0] == ww) & (w[:, 3] - w[:, 1] == hh)]
        assert sel[:, 0].min() == 0 and sel[:, 2].max() == 64 and sel[:, 1].min() == 0 and sel[:, 3].max() == 64
        assert np.diff(np.unique(sel[:, 0])).max() <= 6


def test_a_window_larger_than_the_image_is_capped_and_one_stride_serves_all_sizes():
    w = sliding_windows((8, 8), sizes=(4, 16), strides=2)
    assert (w[-1] == [0, 0, 8, 8]).all() and len(w) == 9 + 1


def test_errors_name_the_function():
    with pytest.raises(ValueError, match="sliding_windows: expected one stride per size"):
        sliding_windows(64, sizes=(8, 16), strides=(4, 4, 4))
    with pytest.raises(ValueError, match="sliding_windows: sizes, strides and aspect_ratios must be positive"):
        sliding_windows(64, sizes=(0,), strides=(4,))
