"""The segmentation side of `nabla predict`: a mask found on a letterbox canvas, back on the original image by
nearest neighbour; the class shares; the drawing's layout."""
import numpy as np
import pytest

from nabla.data.image_io import letterbox_size
from nabla.train.predict_masks import class_shares, draw_prediction, mask_to_original


def test_a_mask_of_the_original_size_is_returned_unchanged():
    mask = np.random.default_rng(0).integers(0, 11, (64, 64))
    np.testing.assert_array_equal(mask_to_original(mask, (64, 64)), mask)


def test_an_upscaled_image_gets_each_canvas_pixel_repeated():
    """A 32x16 image on a 64x64 canvas is scaled x2 (32x64 covered): each canvas pixel maps back to one
    original pixel, rows and columns halved."""
    canvas = np.random.default_rng(1).integers(0, 11, (64, 64))
    assert letterbox_size((16, 32), (64, 64)) == (32, 64)
    np.testing.assert_array_equal(mask_to_original(canvas, (16, 32)), canvas[1:32:2, 1:64:2])


def test_a_downscaled_image_repeats_canvas_pixels_and_ignores_the_padding():
    canvas = np.full((64, 64), 7)
    canvas[:, 32:] = 99                     # padding: right half of the canvas for a 128x64 (h x w) image
    out = mask_to_original(canvas, (128, 64))
    assert out.shape == (128, 64) and (out == 7).all()


def test_class_shares_sum_to_one():
    mask = np.array([[0, 0, 3], [3, 3, 10]])
    np.testing.assert_allclose(class_shares(mask, 11), np.bincount(mask.ravel(), minlength=11) / 6)


def test_the_drawing_colours_only_foreground_pixels_and_puts_a_legend_at_the_right():
    pytest.importorskip("PIL")
    image = np.random.default_rng(2).integers(0, 256, (1, 8, 8), dtype=np.uint8)
    mask = np.zeros((8, 8), np.int64)
    mask[2:4, 2:4] = 5
    names = ["background"] + [str(d) for d in range(10)]
    drawn = draw_prediction(image, mask, names, min_side=16, max_side=64)        # enlarged x2
    assert drawn.shape[0] == 3 and drawn.shape[1] >= 16 and drawn.shape[2] > 16
    left = drawn[:, :16, :16]
    big = image.repeat(2, axis=1).repeat(2, axis=2)
    fg = (mask.repeat(2, axis=0).repeat(2, axis=1) == 5)
    np.testing.assert_array_equal(left[:, ~fg], np.repeat(big, 3, axis=0)[:, ~fg])   # background: untouched
    assert not (left[0, fg] == left[1, fg]).all() or not (left[1, fg] == left[2, fg]).all()   # coloured
