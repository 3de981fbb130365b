"""COCO-format detection sets (nabla.data.datasets.coco): the round trip through an export, the conversions
(xywh -> xyxy, category ids -> 0..K-1), the splits, ``coco:`` names, and a one-line error for every kind of
bad annotation file.  The round trip needs MNIST (skips with the install line without it); the rest builds
tiny files of its own.  Needs Pillow and pycocotools (the test extra)."""
import copy
import json
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("PIL")

from nabla.autograd.tensor import Tensor
from nabla.data.datasets import (MNIST, CocoDetection, CocoFormatError, MNISTScenes, folder_name, get_dataset,
                                 get_dataset_class)
from nabla.data.datasets.export import export_dataset
from nabla.data.image_io import write_png
from nabla.train.tasks import check_dataset

H, W = 8, 10


def _doc():
    """Three 10x8 images, two categories listed out of order (ids 7 and 3), one crowd box, one empty image."""
    return {"images": [{"id": 5, "file_name": "b.png", "width": W, "height": H},
                       {"id": 2, "file_name": "a.png", "width": W, "height": H},
                       {"id": 9, "file_name": "c.png", "width": W, "height": H}],
            "annotations": [{"id": 11, "image_id": 2, "category_id": 7, "bbox": [1, 2, 3, 4], "iscrowd": 0},
                            {"id": 12, "image_id": 2, "category_id": 3, "bbox": [0, 0, 10, 8]},
                            {"id": 13, "image_id": 5, "category_id": 3, "bbox": [2.5, 1.5, 4, 2]},
                            {"id": 14, "image_id": 5, "category_id": 7, "bbox": [0, 0, 2, 2], "iscrowd": 1}],
            "categories": [{"id": 7, "name": "dog"}, {"id": 3, "name": "cat"}]}


def _write(folder, doc, images=True, shape=(H, W)):
    """``doc`` as folder/ann.json with its images (pixel value 10 * image id, mod 256) in folder/images/."""
    (folder / "images").mkdir(exist_ok=True)
    if images:
        for im in doc["images"]:
            if not (folder / "images" / im["file_name"]).exists():
                write_png(np.full(shape, 10 * im["id"] % 256, np.uint8), folder / "images" / im["file_name"])
    path = folder / "ann.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def ann(tmp_path):
    return _write(tmp_path, _doc())


def test_boxes_labels_and_images_are_converted(ann):
    ds = CocoDetection(ann)
    assert ds.split == "all" and len(ds) == 3 and ds.ids == [2, 5, 9]          # sorted by image id
    assert ds.classes == ["cat", "dog"] and ds.category_ids == [3, 7]          # sorted by category id
    assert ds.image_shape == (H, W) and ds.channels == 1 and ds.task == "detection"
    x, targets = ds.get_batch(np.arange(3))
    assert x.shape == (3, 1, H, W) and x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0, 0, 0], np.array([20, 50, 90]) / 255, rtol=1e-6)
    np.testing.assert_array_equal(targets[0]["boxes"], [[1, 2, 4, 6], [0, 0, 10, 8]])
    np.testing.assert_array_equal(targets[0]["labels"], [1, 0])
    np.testing.assert_allclose(targets[1]["boxes"], [[2.5, 1.5, 6.5, 3.5]])    # the crowd box is left out
    np.testing.assert_array_equal(targets[1]["labels"], [0])
    assert targets[2]["boxes"].shape == (0, 4) and targets[2]["labels"].dtype == np.int64
    assert targets[0]["boxes"].dtype == np.float32
    image, target = ds[0]
    assert isinstance(image, Tensor) and image.shape == (1, H, W) and isinstance(target["boxes"], Tensor)


def test_splits_hold_out_a_fixed_tenth(tmp_path):
    doc = _doc()
    doc["images"] = [{"id": i, "file_name": f"{i}.png", "width": W, "height": H} for i in range(1, 31)]
    doc["annotations"] = [{"id": i, "image_id": i, "category_id": 3, "bbox": [0, 0, 2, 2]} for i in range(1, 31)]
    ann = _write(tmp_path, doc)
    train, valid, test = (CocoDetection(ann, split=s) for s in ("train", "valid", "test"))
    assert (len(train), len(valid)) == (27, 3) and valid.ids == test.ids
    assert sorted(train.ids + valid.ids) == list(range(1, 31))
    assert CocoDetection(ann, train=True).ids == train.ids and CocoDetection(ann, train=False).ids == test.ids
    assert train.sizes == {"all": 30, "train": 27, "valid": 3, "test": 3}
    _, targets = valid.get_batch(np.arange(3))   # each image's own box, whatever the split
    assert all(len(t["boxes"]) == 1 for t in targets)


def test_coco_names_resolve_record_absolute_paths_and_make_folder_slugs(ann, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cls = get_dataset_class("coco:ann.json")
    assert cls.name == f"coco:{ann}" and issubclass(cls, CocoDetection)
    assert get_dataset_class(f"coco:{ann}") is cls                  # one class per file
    assert folder_name("coco:ann.json") == f"coco-{tmp_path.name}-ann" and "/" not in folder_name(cls.name)
    assert folder_name("mnist_scenes") == "mnist-scenes"
    ds = get_dataset("coco:ann.json", split="valid")
    assert len(ds) == 1 and ds.name == cls.name
    other = get_dataset(f"coco:ann.json:{tmp_path / 'images'}", split="all")
    assert other.image_dir == str(tmp_path / "images") and len(other) == 3
    entry = SimpleNamespace(name="a-detector", task="detection")
    assert check_dataset(entry, "coco:ann.json") == cls.name        # what a checkpoint records
    with pytest.raises(ValueError, match="does not fit"):
        check_dataset(SimpleNamespace(name="mlp", task="classification"), "coco:ann.json")


@pytest.mark.parametrize("name, needle", [("coco:nowhere.json", "not found"),
                                          ("coco:ann.txt", "expected coco:ANNOTATIONS.json"),
                                          ("coco:ann.json:no-such-folder", "image folder")])
def test_bad_coco_names(ann, tmp_path, monkeypatch, name, needle):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=needle):
        get_dataset_class(name)


def _drop(section, index, key):
    def edit(doc):
        del doc[section][index][key]
    return edit


def _set(section, index, key, value):
    def edit(doc):
        doc[section][index][key] = value
    return edit


BAD = {  # name: (edit of the good file, what the error names)
    "no annotations key": (lambda d: d.pop("annotations"), ["missing key 'annotations'"]),
    "images not a list": (lambda d: d.update(images={}), ["'images' must be a list"]),
    "annotation without bbox": (_drop("annotations", 1, "bbox"), ["annotation 12", "missing key 'bbox'"]),
    "annotation without category": (_drop("annotations", 0, "category_id"),
                                    ["annotation 11", "missing key 'category_id'"]),
    "annotation without id": (_drop("annotations", 2, "id"), ["annotations[2]", "missing key 'id'"]),
    "image without file name": (_drop("images", 1, "file_name"), ["image 2", "missing key 'file_name'"]),
    "category without name": (_drop("categories", 0, "name"), ["category 7", "missing key 'name'"]),
    "bbox not four numbers": (_set("annotations", 2, "bbox", [1, 2, 3]), ["annotation 13", "four numbers"]),
    "bbox with NaN": (_set("annotations", 2, "bbox", [1, 2, float("nan"), 3]), ["annotation 13", "NaN"]),
    "box past the right edge": (_set("annotations", 0, "bbox", [5, 2, 6, 3]),
                                ["annotation 11", "outside image 2", "10x8"]),
    "box above the top": (_set("annotations", 2, "bbox", [1, -1, 2, 2]), ["annotation 13", "outside image 5"]),
    "zero-area box": (_set("annotations", 1, "bbox", [1, 1, 0, 3]), ["annotation 12", "zero area"]),
    "negative width": (_set("annotations", 1, "bbox", [4, 1, -2, 3]), ["annotation 12", "negative width or height"]),
    "unknown category": (_set("annotations", 2, "category_id", 99),
                         ["annotation 13", "unknown category id 99", "3, 7"]),
    "image id without an image": (_set("annotations", 0, "image_id", 42),
                                  ["annotation 11", "image id 42 has no entry in 'images'"]),
    "duplicate image id": (_set("images", 2, "id", 5), ["image id 5 appears 2 times"]),
    "non-integer category id": (_set("categories", 1, "id", "3"), ["category '3'", "must be an integer"]),
    "zero image width": (_set("images", 0, "width", 0), ["image 5", "must be positive"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_every_bad_annotation_is_one_line_naming_the_file_the_id_and_the_problem(tmp_path, case):
    edit, needles = BAD[case]
    doc = copy.deepcopy(_doc())
    edit(doc)
    ann = _write(tmp_path, _doc())          # the images of the good file
    ann.write_text(json.dumps(doc))
    with pytest.raises(CocoFormatError) as err:
        CocoDetection(ann)
    message = str(err.value)
    assert "\n" not in message and message.startswith(str(ann)), message
    for needle in needles:
        assert needle in message, message


def test_a_box_within_the_tolerance_is_clipped(tmp_path):
    doc = _doc()
    doc["annotations"][0]["bbox"] = [1, 2, 9.005, 6.004]      # x1 = 10.005, y1 = 8.004: float rounding
    ds = CocoDetection(_write(tmp_path, doc))
    np.testing.assert_allclose(ds.get_batch([0])[1][0]["boxes"][0], [1, 2, 10, 8])


def test_file_problems(tmp_path):
    ann = _write(tmp_path, _doc())
    (tmp_path / "images" / "c.png").unlink()
    with pytest.raises(CocoFormatError, match=r"image 9: file 'c.png' not found in .*images"):
        CocoDetection(ann)
    ann.write_text("{not json")
    with pytest.raises(CocoFormatError, match="not valid JSON"):
        CocoDetection(ann)
    with pytest.raises(FileNotFoundError, match="annotations file"):
        CocoDetection(tmp_path / "missing.json")


def test_an_image_whose_pixels_disagree_with_its_entry(tmp_path):
    ann = _write(tmp_path, _doc())
    (tmp_path / "images" / "a.png").unlink()
    write_png(np.zeros((H + 1, W), np.uint8), tmp_path / "images" / "a.png")
    ds = CocoDetection(ann)
    with pytest.raises(CocoFormatError, match=r"image 2: 'a.png' is 10x9 pixels, but the file says 10x8"):
        ds.get_batch([0])


def test_images_of_several_sizes_need_a_size_and_are_letterboxed(tmp_path):
    doc = _doc()
    doc["images"][2].update(width=2 * W, height=2 * H)
    doc["annotations"].append({"id": 15, "image_id": 9, "category_id": 7, "bbox": [4, 2, 6, 8]})
    (tmp_path / "images").mkdir()
    write_png(np.full((2 * H, 2 * W), 255, np.uint8), tmp_path / "images" / "c.png")
    ann = _write(tmp_path, doc)
    with pytest.raises(ValueError, match=r"different sizes .*image 9 is 20x16.*size=\(H, W\)"):
        CocoDetection(ann)
    ds = CocoDetection(ann, size=(H, W))
    x, targets = ds.get_batch([0, 2])
    assert x.shape == (2, 1, H, W) and np.allclose(x[1], 1.0)          # 20x16 -> 10x8: scale 1/2, no padding
    np.testing.assert_allclose(targets[1]["boxes"], [[2, 1, 5, 5]])
    np.testing.assert_array_equal(targets[0]["boxes"], [[1, 2, 4, 6], [0, 0, 10, 8]])   # the right size: as is


def test_held_out_split_of_a_single_image_is_refused_and_rgb_files_give_three_channels(tmp_path):
    doc = _doc()
    doc["images"], doc["annotations"] = doc["images"][1:2], doc["annotations"][:2]
    (tmp_path / "images").mkdir()
    write_png(np.zeros((3, H, W), np.uint8), tmp_path / "images" / "a.png")
    ann = _write(tmp_path, doc)
    with pytest.raises(ValueError, match="at least 2 images"):
        CocoDetection(ann, split="train")
    ds = CocoDetection(ann)
    assert ds.channels == 3 and ds.get_batch([0])[0].shape == (1, 3, H, W)
    assert CocoDetection(ann, channels=1).get_batch([0])[0].shape == (1, 1, H, W)


def test_round_trip_through_a_coco_export(tmp_path):
    if not MNIST.is_present():
        pytest.skip(f"MNIST is not installed here; install it with: {MNIST.install_hint()}")
    from pycocotools.coco import COCO
    done = export_dataset("mnist-scenes", "coco", tmp_path / "out", split="test", count=20, download=False)
    assert done["images"] == 20 and (tmp_path / "out" / "images" / "000019.png").is_file()
    scenes = MNISTScenes(split="test")
    x0, t0 = scenes.get_batch(np.arange(20))
    ds = CocoDetection(tmp_path / "out" / "annotations.json")
    x1, t1 = ds.get_batch(np.arange(20))
    np.testing.assert_array_equal(x1, x0)
    for a, b in zip(t0, t1):
        np.testing.assert_allclose(b["boxes"], a["boxes"], atol=1e-5)
        np.testing.assert_array_equal(b["labels"], a["labels"])
    assert ds.classes == [str(d) for d in range(10)]
    coco = COCO(str(tmp_path / "out" / "annotations.json"))
    assert sorted(coco.getImgIds()) == list(range(1, 21)) and len(coco.getAnnIds()) == done["annotations"]
    assert done["annotations"] == sum(len(t["labels"]) for t in t0)
    first = coco.loadAnns(coco.getAnnIds(imgIds=[1]))
    x, y, w, h = first[0]["bbox"]
    np.testing.assert_allclose([x, y, x + w, y + h], t0[0]["boxes"][0])
    assert first[0]["area"] == w * h and first[0]["iscrowd"] == 0
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == [str(d) for d in range(10)]
