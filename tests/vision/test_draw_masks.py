"""draw_segmentation_masks (torchvision's blend), VOC's colour map and the legend panel."""
import numpy as np
import pytest

from nabla.vision.draw_masks import draw_legend, draw_segmentation_masks, label_colormap


def test_label_colormap_is_vocs():
    cmap = label_colormap(21)
    expected = {0: (0, 0, 0), 1: (128, 0, 0), 2: (0, 128, 0), 3: (128, 128, 0), 4: (0, 0, 128), 7: (128, 128, 128),
                8: (64, 0, 0), 15: (192, 128, 128), 20: (0, 64, 128)}
    for k, rgb in expected.items():
        assert tuple(cmap[k]) == rgb, k
    assert len({tuple(c) for c in label_colormap(256)}) == 256          # every class its own colour


def test_masks_blend_their_colour_and_the_last_mask_wins():
    image = np.full((1, 4, 4), 100, np.uint8)
    masks = np.zeros((2, 4, 4), bool)
    masks[0, :2] = True
    masks[1, 1:3] = True
    out = draw_segmentation_masks(image, masks, alpha=0.5, colors=[(200, 0, 0), (0, 200, 0)])
    assert out.shape == (3, 4, 4) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[:, 0, 0], [150, 50, 50])
    np.testing.assert_array_equal(out[:, 1, 0], [50, 150, 50])         # covered by both: the later mask
    np.testing.assert_array_equal(out[:, 3, 0], [100, 100, 100])       # covered by none: untouched


def test_one_line_errors():
    image = np.zeros((1, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="boolean masks"):
        draw_segmentation_masks(image, np.zeros((1, 3, 4), bool))
    with pytest.raises(ValueError, match="colors for 2 masks"):
        draw_segmentation_masks(image, np.zeros((2, 4, 4), bool), colors=[(1, 2, 3)])
    with pytest.raises(ValueError, match="alpha"):
        draw_segmentation_masks(image, np.zeros((4, 4), bool), alpha=2)


def test_legend_has_a_row_per_class():
    pytest.importorskip("PIL")
    panel = draw_legend(["background", "1", "2"], [None, (255, 0, 0), (0, 255, 0)], height=10, row=16)
    assert panel.shape[0] == 3 and panel.shape[1] == 16 * 3 + 8
    assert (panel[0] == 255).any() and (panel[1] == 255).any()
