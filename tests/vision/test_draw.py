"""Boxes drawn on an image (nabla.vision.draw, torchvision.utils.draw_bounding_boxes): outlines on the pixels a
box covers (right and bottom edges exclusive), labels on a tab, grey images drawn on in colour."""
import numpy as np
import pytest

pytest.importorskip("PIL")

from nabla.vision.draw import PALETTE, draw_bounding_boxes


def test_outline_covers_the_boxes_edge_pixels_in_colour():
    img = np.zeros((1, 20, 30), np.uint8)
    out = draw_bounding_boxes(img, [[5, 8, 15, 18]], colors=(255, 0, 0))
    assert out.shape == (3, 20, 30) and out.dtype == np.uint8
    red = (out[0] == 255) & (out[1] == 0)
    ys, xs = np.nonzero(red)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (5, 8, 15, 18)   # exclusive right/bottom
    assert not red[9:17, 6:14].any()                                           # an outline, not a fill
    assert (out[:, 0, 0] == 0).all() and img.sum() == 0                        # the input is not changed


def test_labels_sit_on_a_tab_and_colours_follow_the_label_text():
    img = np.zeros((3, 60, 80), np.uint8)
    out = draw_bounding_boxes(img, [[10, 30, 40, 50], [50, 0, 70, 20]], labels=["7", "7"])
    first = tuple(int(v) for v in PALETTE[0])
    tab = out[:, 20:29, 11:20].reshape(3, -1).T                                # above the first box
    assert any(tuple(p) == first for p in tab)
    inside = out[:, 1:9, 51:60].reshape(3, -1).T                               # at the top edge: inside it
    assert any(tuple(p) == first for p in inside)                              # same label text, same colour
    empty = draw_bounding_boxes(img, np.zeros((0, 4)))
    np.testing.assert_array_equal(empty, img)


def test_bad_inputs_are_refused():
    img = np.zeros((1, 10, 10), np.uint8)
    with pytest.raises(ValueError, match="uint8 image"):
        draw_bounding_boxes(img.astype(np.float32), [[0, 0, 5, 5]])
    with pytest.raises(ValueError, match="x1 >= x0"):
        draw_bounding_boxes(img, [[5, 0, 1, 5]])
    with pytest.raises(ValueError, match="2 labels for 1 boxes"):
        draw_bounding_boxes(img, [[0, 0, 5, 5]], labels=["a", "b"])
