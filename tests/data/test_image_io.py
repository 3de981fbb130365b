"""Image files (nabla.data.image_io): reading and writing PNGs through Pillow, and the letterbox that fits
any image to a model's input, with boxes mapped back to the original pixels (what `nabla predict` does)."""
import sys

import numpy as np
import pytest

pytest.importorskip("PIL")

from nabla.data.image_io import (boxes_from_letterbox, image_size, letterbox, letterbox_size, read_image,
                                 require_pillow, write_png)


def test_png_round_trip_channels_and_no_overwrite(tmp_path):
    grey = np.arange(24, dtype=np.uint8).reshape(1, 4, 6)
    write_png(grey, tmp_path / "g.png")
    assert image_size(tmp_path / "g.png") == (1, 4, 6)
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), grey)
    rgb = np.zeros((3, 4, 6), np.uint8)
    rgb[0] = 255                                                      # pure red
    write_png(rgb, tmp_path / "c.png")
    assert image_size(tmp_path / "c.png")[0] == 3
    np.testing.assert_array_equal(read_image(tmp_path / "c.png"), rgb)
    assert (read_image(tmp_path / "c.png", channels=1) == 76).all()   # ITU-R 601-2 luma of red: 0.299 * 255
    assert read_image(tmp_path / "g.png", channels=3).shape == (3, 4, 6)
    with pytest.raises(FileExistsError):
        write_png(grey, tmp_path / "g.png")


def test_read_errors_are_one_line(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such image file"):
        read_image(tmp_path / "missing.png")
    (tmp_path / "x.png").write_text("not an image")
    with pytest.raises(ValueError, match="not an image Pillow can read"):
        read_image(tmp_path / "x.png")
    write_png(np.zeros((2, 2), np.uint8), tmp_path / "ok.png")
    with pytest.raises(ValueError, match="channels must be 1"):
        read_image(tmp_path / "ok.png", channels=2)
    with pytest.raises(ValueError, match="expected a uint8 image"):
        write_png(np.zeros((2, 2), np.float32), tmp_path / "f.png")


def test_a_missing_pillow_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)   # `import PIL` now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "nabla\[vision\]"'):
        require_pillow("drawing boxes")


def test_letterbox_passes_the_model_size_through_and_pads_smaller_images_without_resampling():
    img = np.random.default_rng(0).integers(0, 256, (1, 64, 64), dtype=np.uint8)
    same, scale = letterbox(img, (64, 64))
    assert same is img and scale == (1.0, 1.0)
    top = img[:, :32]                                                 # a 64-wide strip fits at scale 1
    canvas, scale = letterbox(top, (64, 64))
    assert scale == (1.0, 1.0)
    np.testing.assert_array_equal(canvas[:, :32], top)
    assert (canvas[:, 32:] == 0).all()


def test_letterbox_keeps_the_aspect_ratio_and_pads_right_and_bottom():
    img = np.full((1, 100, 150), 200, np.uint8)                       # h 100, w 150 -> 43 x 64
    canvas, (sx, sy) = letterbox(img, (64, 64))
    assert letterbox_size((100, 150), (64, 64)) == (43, 64)
    assert canvas.shape == (1, 64, 64) and (sx, sy) == (64 / 150, 43 / 100)
    assert (canvas[:, :43] == 200).all() and (canvas[:, 43:] == 0).all()
    half, scale = letterbox(np.full((3, 128, 128), 7, np.uint8), 64)   # down by 2, colour
    assert half.shape == (3, 64, 64) and (half == 7).all() and scale == (0.5, 0.5)


def test_boxes_found_on_the_canvas_map_back_to_the_original_pixels():
    img = np.zeros((1, 100, 200), np.uint8)
    img[:, 20:60, 50:130] = 255                                       # a bright box (x 50-130, y 20-60)
    canvas, scale = letterbox(img, (64, 64))                          # s = 0.32
    ys, xs = np.nonzero(canvas[0] > 127)
    found = [[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]]        # its box on the canvas
    back = boxes_from_letterbox(found, scale, (100, 200))
    np.testing.assert_allclose(back[0], [50, 20, 130, 60], atol=1 / 0.32)   # within a canvas pixel
    exact = np.array([[50, 20, 130, 60]], np.float32) * np.array([scale[0], scale[1]] * 2, np.float32)
    np.testing.assert_allclose(boxes_from_letterbox(exact, scale, (100, 200)), [[50, 20, 130, 60]], rtol=1e-6)
    clipped = boxes_from_letterbox([[60, 30, 64, 64]], scale, (100, 200))   # reaches into the padding
    np.testing.assert_allclose(clipped[0], [60 / 0.32, 30 / 0.32, 200, 100], rtol=1e-6)
    assert boxes_from_letterbox(np.zeros((0, 4)), scale, (100, 200)).shape == (0, 4)
