"""`nabla datasets export`: a detection set's split as COCO (PNG images + instances JSON) or as image/mask PNG
pairs, through the real command; `nabla datasets` alone still lists.  Needs MNIST (the scenes are made from
it) and Pillow; skips with the install line without them."""
import json

import numpy as np
import pytest

pytest.importorskip("PIL")

from nabla.data.datasets import MNIST, CocoDetection, MNISTScenes, MNISTScenesHard
from nabla.data.image_io import read_image

from .helpers import assert_ok, assert_one_line_error, nabla


@pytest.fixture(autouse=True)
def _mnist():
    if not MNIST.is_present():
        pytest.skip(f"MNIST is not installed here; install it with: {MNIST.install_hint()}")


def test_listing_stays_and_export_is_a_subcommand(tmp_path):
    out = assert_ok(nabla("datasets", cwd=tmp_path)).stdout
    assert "mnist-scenes-hard" in out and "detection" in out
    assert "export" in assert_ok(nabla("datasets", "--help", cwd=tmp_path)).stdout


def test_coco_export_loads_back_as_the_same_scenes(tmp_path):
    res = assert_ok(nabla("datasets", "export", "mnist-scenes", "--format", "coco", "--out", "scenes",
                          "--count", "20", "--no-download", cwd=tmp_path))
    assert "wrote 20 images with" in res.stdout and f"coco:{tmp_path / 'scenes'}/annotations.json" in res.stdout
    doc = json.loads((tmp_path / "scenes" / "annotations.json").read_text())
    assert [c["name"] for c in doc["categories"]] == [str(d) for d in range(10)]
    assert sorted(p.name for p in (tmp_path / "scenes" / "images").iterdir()) == [f"{i:06d}.png" for i in range(20)]
    x0, t0 = MNISTScenes(split="test").get_batch(np.arange(20))
    x1, t1 = CocoDetection(tmp_path / "scenes" / "annotations.json").get_batch(np.arange(20))
    np.testing.assert_array_equal(x1, x0)
    for a, b in zip(t0, t1):
        np.testing.assert_allclose(b["boxes"], a["boxes"], atol=1e-5)
        np.testing.assert_array_equal(b["labels"], a["labels"])
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]     # the staging folder was moved


def test_masks_export_writes_same_named_image_and_class_index_pngs(tmp_path):
    assert_ok(nabla("datasets", "export", "mnist-scenes-hard", "--format", "masks", "--out", "m", "--split", "valid",
                    "--count", "3", "--no-download", cwd=tmp_path))
    names = sorted(p.name for p in (tmp_path / "m" / "images").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "m" / "masks").iterdir()) == [f"{i:06d}.png" for i in range(3)]
    scenes = MNISTScenesHard(split="valid")
    for i, name in enumerate(names):
        s = scenes.scene(i)
        np.testing.assert_array_equal(read_image(tmp_path / "m" / "masks" / name)[0], s.mask)   # 0, 1 + digit
        np.testing.assert_array_equal(read_image(tmp_path / "m" / "images" / name)[0], s.image)


def test_a_non_empty_out_folder_is_refused_and_nothing_is_overwritten(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    res = nabla("datasets", "export", "mnist-scenes", "--format", "coco", "--out", "full", "--count", "2",
                cwd=tmp_path)
    assert_one_line_error(res, 2, "--out", "not empty", "never overwrites")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]
    (tmp_path / "empty").mkdir()                                                   # an empty folder is fine
    assert_ok(nabla("datasets", "export", "mnist-scenes", "--format", "coco", "--out", "empty", "--count", "2",
                    "--no-download", cwd=tmp_path))
    assert (tmp_path / "empty" / "annotations.json").is_file()


@pytest.mark.parametrize("args, needles", [
    (["mnist", "--format", "coco"], ["'mnist'", "classification", "no boxes"]),
    (["mnist-scenes", "--format", "coco", "--split", "dev"], ["no split 'dev'", "train, valid, test"]),
    (["mnist-scenes", "--format", "coco", "--count", "5000"], ["5000", "has 1,000"]),
    (["mnist-scenes", "--format", "coco", "--count", "0"], ["--count must be positive"]),
    (["no-such-set", "--format", "coco"], ["no-such-set", "mnist-scenes"]),
    (["mnist-scenes", "--format", "tiff"], ["--format", "tiff"]),
])
def test_bad_requests_are_one_line_exit_2(tmp_path, args, needles):
    res = nabla("datasets", "export", *args, "--out", "x", "--no-download", cwd=tmp_path)
    assert_one_line_error(res, 2, *needles)
    assert not (tmp_path / "x").exists()
