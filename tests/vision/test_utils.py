"""make_grid / save_image: torchvision.utils' layout, checked by hand here and against torchvision itself in
tests/conformance/test_vision_utils.py."""
import numpy as np
import pytest

from nabla.vision.utils import make_grid, save_image, to_uint8


def test_grid_shape_and_placement():
    images = np.arange(5 * 1 * 3 * 4, dtype=np.float32).reshape(5, 1, 3, 4)
    grid = make_grid(images, nrow=2, padding=1, pad_value=-1)
    assert grid.shape == (1, 3 * (3 + 1) + 1, 2 * (4 + 1) + 1)
    # image k sits at row k // 2, column k % 2
    for k in range(5):
        r, c = divmod(k, 2)
        np.testing.assert_array_equal(grid[0, 1 + r * 4:1 + r * 4 + 3, 1 + c * 5:1 + c * 5 + 4], images[k, 0])
    assert (grid[0, 9:12, 6:10] == -1).all()     # the empty sixth cell keeps the pad value
    assert (grid[0, 0] == -1).all() and (grid[0, :, 0] == -1).all()


def test_one_image_is_returned_unpadded_and_normalize_maps_the_range():
    img = np.linspace(-1, 1, 12, dtype=np.float32).reshape(1, 1, 3, 4)
    np.testing.assert_array_equal(make_grid(img), img[0])
    out = make_grid(np.concatenate([img, img]), normalize=True, value_range=(-1, 1), padding=0)
    assert out.min() == 0.0 and out.max() == 1.0


@pytest.mark.parametrize("bad, match", [(np.zeros((2, 2, 3, 3)), "C 1 or 3"), (np.zeros((2, 1, 3, 3, 1)), "B, C, H, W")])
def test_bad_shapes_name_the_function(bad, match):
    with pytest.raises(ValueError, match=f"make_grid.*{match}"):
        make_grid(bad)


def test_nrow_must_be_positive():
    with pytest.raises(ValueError, match="nrow"):
        make_grid(np.zeros((2, 1, 2, 2)), nrow=0)


def test_save_image_writes_a_png_and_refuses_to_replace_when_exclusive(tmp_path):
    pytest.importorskip("PIL", reason="save_image needs Pillow (nabla[vision])")
    from nabla.data.image_io import read_image
    images = np.random.default_rng(0).random((4, 1, 5, 5)).astype(np.float32)
    path = save_image(images, tmp_path / "g.png", nrow=2, padding=0)
    back = read_image(path, channels=1)
    np.testing.assert_array_equal(back[0], to_uint8(make_grid(images, nrow=2, padding=0))[0])
    with pytest.raises(FileExistsError):
        save_image(images, tmp_path / "g.png", exclusive=True)
