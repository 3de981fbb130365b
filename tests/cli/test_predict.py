"""`nabla predict`: a detector checkpoint's boxes on image files of any size, through the real command.

A tiny YOLO is trained once through `nabla train` (3 steps) on a COCO export of 12 test scenes, which also
runs `--dataset coco:...` and its run folder end to end.  Its detections are poor, so the checks are about
the plumbing: every size goes through, the printed boxes lie in the original image's pixels, and padding
an image (a smaller image is pasted on a black canvas of the model's size) gives exactly the detections of
the blacked-out canvas, mapped back.  Needs MNIST and Pillow (skips with the install line without them)."""
import os

import numpy as np
import pytest

pytest.importorskip("PIL")

from nabla.data.datasets import MNIST
from nabla.data.image_io import read_image, write_png
from nabla.models import get_model_entry, model_names

from .helpers import assert_ok, assert_one_line_error, nabla, show

DETECTOR = ["yolo", "--set", "widths=4,4,8,8,8", "--batch-size", "4", "--max-steps", "3", "--quiet"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``(folder, checkpoint)``: scenes exported to folder/scenes, a detector trained on them."""
    if not MNIST.is_present():
        pytest.skip(f"MNIST is not installed here; install it with: {MNIST.install_hint()}")
    if "yolo" not in model_names() or get_model_entry("yolo").task != "detection":
        pytest.skip("no yolo detector registered yet")
    folder = tmp_path_factory.mktemp("predict")
    assert_ok(nabla("datasets", "export", "mnist-scenes", "--format", "coco", "--out", "scenes", "--count", "12",
                    "--no-download", cwd=folder))
    res = assert_ok(nabla("train", *DETECTOR, "--dataset", "coco:scenes/annotations.json", cwd=folder))
    runs = os.listdir(folder / "runs")
    assert runs == ["yolo-coco-scenes-annotations"], show(res)      # a coco:PATH makes a slug, not nested folders
    return folder, folder / "runs" / runs[0] / "last.safetensors"


def _detections(stdout: str) -> list:
    """``(image, label, score, x0, y0, x1, y1)`` per printed detection line."""
    rows = []
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) == 7 and not line.startswith("drew"):
            rows.append((parts[0], parts[1], *map(float, parts[2:])))
    return rows


def test_images_of_any_size_are_detected_drawn_and_printed_in_their_own_pixels(trained):
    folder, ckpt = trained
    scene = read_image(folder / "scenes" / "images" / "000003.png")             # 64x64, the model's size
    wide = np.zeros((1, 100, 150), np.uint8)
    wide[:, 10:74, 20:84] = scene                                              # another size: letterboxed
    write_png(wide, folder / "wide.png")
    from PIL import Image
    Image.fromarray(np.repeat(scene[0][:, :, None], 3, axis=2)).resize((96, 96)).save(folder / "colour.jpg")
    images = ["scenes/images/000003.png", "wide.png", "colour.jpg"]
    res = assert_ok(nabla("predict", ckpt, *images, "--out", "drawn", "--score-thresh", "0.02", cwd=folder))
    rows = _detections(res.stdout)
    sizes = {"scenes/images/000003.png": (64, 64), "wide.png": (150, 100), "colour.jpg": (96, 96)}
    assert {r[0] for r in rows} == set(images), show(res)
    for image, label, score, x0, y0, x1, y1 in rows:
        w, h = sizes[image]
        assert label in [str(d) for d in range(10)] and 0.02 <= score <= 1
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (image, x0, y0, x1, y1)
    assert res.stdout.strip().splitlines()[-1].startswith(f"drew {len(rows)} detections (score >= 0.02) on 3 images")
    for name, (w, h) in [("000003", (64, 64)), ("wide", (150, 100)), ("colour", (96, 96))]:
        drawn = read_image(folder / "drawn" / f"{name}.png")
        f = int(np.ceil(256 / min(w, h)))                                      # small images are drawn enlarged
        assert drawn.shape == (3, h * f, w * f)


def test_padding_maps_back_exactly(trained):
    """A 64x32 strip goes onto the canvas unscaled: its boxes are those of the canvas with its lower half
    blacked out, clipped to the strip."""
    folder, ckpt = trained
    scene = read_image(folder / "scenes" / "images" / "000005.png")
    write_png(scene[:, :32], folder / "strip.png")
    blacked = scene.copy()
    blacked[:, 32:] = 0
    write_png(blacked, folder / "blacked.png")
    res = assert_ok(nabla("predict", ckpt, "strip.png", "blacked.png", "--out", "pad", "--score-thresh", "0",
                          cwd=folder))
    rows = _detections(res.stdout)
    strip = sorted(r[1:] for r in rows if r[0] == "strip.png")
    expected = sorted((label, score, x0, y0, x1, min(y1, 32.0)) for image, label, score, x0, y0, x1, y1 in rows
                      if image == "blacked.png" and y0 < 32)
    assert strip and len(strip) == len(expected), show(res)
    np.testing.assert_allclose([r[1:] for r in strip], [r[1:] for r in expected], atol=0.051)
    assert [r[0] for r in strip] == [r[0] for r in expected]


def test_one_line_errors(trained, tmp_path):
    folder, ckpt = trained
    image = folder / "scenes" / "images" / "000001.png"
    assert_one_line_error(nabla("predict", ckpt, "nowhere.png", "--out", "x", cwd=tmp_path), 2,
                          "no such image file", "nowhere.png")
    assert_one_line_error(nabla("predict", ckpt, image, "--out", "x", "--score-thresh", "2", cwd=tmp_path), 2,
                          "--score-thresh")
    assert_ok(nabla("predict", ckpt, image, "--out", "x", cwd=tmp_path))
    assert_one_line_error(nabla("predict", ckpt, image, "--out", "x", cwd=tmp_path), 2,
                          "000001.png", "exists", "never overwrites")
    assert_ok(nabla("train", "linear-regression", "--epochs", "1", "--quiet", "--out", "lr", cwd=tmp_path))
    assert_one_line_error(nabla("predict", tmp_path / "lr" / "last.safetensors", image, "--out", "y", cwd=tmp_path),
                          2, "regression", "detector")
    fake = tmp_path / "no-pillow" / "PIL"                                      # an import of PIL that fails
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named PIL')\n")
    res = nabla("predict", ckpt, image, "--out", "z", cwd=tmp_path, pythonpath=[tmp_path / "no-pillow"])
    assert_one_line_error(res, 1, "Pillow", 'pip install "nabla[vision]"')


# ------------------------------------------------------------------ segmentation checkpoints
SEGMENTER = ["unet", "--dataset", "mnist-scenes", "--set", "width=2", "--set", "depth=1", "--batch-size", "4",
             "--max-steps", "2", "--eval-limit", "10", "--no-download", "--quiet"]


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory):
    """``(folder, checkpoint)``: a tiny U-Net trained 2 steps through `nabla train`, 3 scenes exported as masks."""
    if not MNIST.is_present():
        pytest.skip(f"MNIST is not installed here; install it with: {MNIST.install_hint()}")
    folder = tmp_path_factory.mktemp("segment")
    assert_ok(nabla("train", *SEGMENTER, cwd=folder))
    assert_ok(nabla("datasets", "export", "mnist-scenes", "--format", "masks", "--out", "scenes", "--count", "3",
                    "--no-download", cwd=folder))
    return folder, folder / "runs" / "unet-mnist-scenes" / "last.safetensors"


def _shares(stdout: str) -> dict:
    """image -> {class name: share} from the `IMAGE NAME=SHARE ...` lines."""
    rows = {}
    for line in stdout.splitlines():
        parts = line.split()
        if len(parts) > 1 and all("=" in p for p in parts[1:]):
            rows[parts[0]] = {k: float(v) for k, v in (p.split("=") for p in parts[1:])}
    return rows


def test_a_segmentation_checkpoint_draws_masks_with_a_legend_at_any_size(segmenter):
    folder, ckpt = segmenter
    scene = read_image(folder / "scenes" / "images" / "000001.png")
    wide = np.zeros((1, 100, 150), np.uint8)
    wide[:, 10:74, 20:84] = scene
    write_png(wide, folder / "wide.png")
    res = assert_ok(nabla("predict", ckpt, "scenes/images/000001.png", "wide.png", "--out", "masks", cwd=folder))
    shares = _shares(res.stdout)
    assert set(shares) == {"scenes/images/000001.png", "wide.png"}, show(res)
    names = {"background"} | {str(d) for d in range(10)}
    for row in shares.values():
        assert set(row) <= names and abs(sum(row.values()) - 1) <= 1e-3 * len(row)
        assert list(row.values()) == sorted(row.values(), reverse=True)      # largest share first
    assert res.stdout.strip().splitlines()[-1] == "drew 2 predicted masks with a legend into masks"
    for name, (h, w) in [("000001", (64, 64)), ("wide", (100, 150))]:
        drawn = read_image(folder / "masks" / f"{name}.png")
        f = int(np.ceil(256 / min(h, w)))
        assert drawn.shape[0] == 3 and drawn.shape[1] >= h * f and drawn.shape[2] > w * f    # the legend: right


def test_a_segmentation_mask_maps_back_to_the_original_pixels(segmenter, tmp_path):
    """A 64x32 strip goes onto the canvas unscaled: its mask is the top half of the blacked-out canvas's."""
    from nabla.train.predict import predict
    folder, ckpt = segmenter
    scene = read_image(folder / "scenes" / "images" / "000002.png")
    write_png(scene[:, :32], tmp_path / "strip.png")
    blacked = scene.copy()
    blacked[:, 32:] = 0
    write_png(blacked, tmp_path / "blacked.png")
    lines = []
    strip, full = predict(ckpt, [tmp_path / "strip.png", tmp_path / "blacked.png"], tmp_path / "out", echo=lines.append)
    assert strip["mask"].shape == (32, 64) and full["mask"].shape == (64, 64)
    np.testing.assert_array_equal(strip["mask"], full["mask"][:32])
    np.testing.assert_allclose(strip["shares"].sum(), 1.0)
