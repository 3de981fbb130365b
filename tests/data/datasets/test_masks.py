"""SegmentationFolder: images with same-named PNG masks of class indices; one-line errors naming the file."""
import os
import sys

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data.datasets.masks import SegmentationFolder, is_masks_spec, masks_dataset_class, parse_masks_spec
from nabla.data.image_io import write_png
from nabla.train.steps.scene_batches import SceneBatches
from nabla.train.steps.segmentation import SegmentationStep

PIL = pytest.importorskip("PIL.Image")


def _folder(tmp_path, n=5, size=(6, 8), classes=4, palette=False):
    """``n`` grey images (h, w) = size and masks with classes 0..classes-1 and some 255, in tmp_path/images, masks."""
    rng = np.random.default_rng(0)
    img_dir, mask_dir = tmp_path / "images", tmp_path / "masks"
    img_dir.mkdir(exist_ok=True)
    mask_dir.mkdir(exist_ok=True)
    images = rng.integers(0, 256, (n,) + size, dtype=np.uint8)
    masks = rng.integers(0, classes, (n,) + size).astype(np.uint8)
    masks[:, 0, 0] = 255
    for i in range(n):
        write_png(images[i], img_dir / f"s{i:02d}.png", exclusive=False)
        m = PIL.fromarray(masks[i])
        if palette:
            m = m.convert("P")   # P with a grey palette: the file's values are palette indices
            m.putpalette([v for g in range(256) for v in (g, g, g)])
        m.save(mask_dir / f"s{i:02d}.png")
    return str(img_dir), str(mask_dir), images, masks


@pytest.mark.parametrize("palette", [False, True])
def test_images_and_masks_come_back_as_batches(tmp_path, palette):
    img_dir, mask_dir, images, masks = _folder(tmp_path, palette=palette)
    ds = SegmentationFolder(img_dir, mask_dir)
    assert len(ds) == 5 and ds.image_shape == (6, 8) and ds.channels == 1
    assert ds.num_classes == 4 and ds.mask_classes == ["background", "1", "2", "3"] and ds.classes == ("1", "2", "3")
    x, m = ds.get_batch([0, 3])
    assert x.dtype == np.float32 and x.shape == (2, 1, 6, 8) and m.dtype == np.int64
    np.testing.assert_allclose(x[:, 0] * 255, images[[0, 3]], atol=1e-3)
    np.testing.assert_array_equal(m, masks[[0, 3]])
    img, mask = ds[1]
    assert img.shape == (1, 6, 8) and (mask.data == masks[1]).all()


def test_splits_hold_out_a_fixed_tenth_and_every_split_has_the_folders_classes(tmp_path):
    img_dir, mask_dir, _, masks = _folder(tmp_path, n=20)
    train, valid = SegmentationFolder(img_dir, mask_dir, split="train"), SegmentationFolder(img_dir, mask_dir,
                                                                                             split="valid")
    test = SegmentationFolder(img_dir, mask_dir, train=False)
    assert len(train) == 18 and len(valid) == len(test) == 2 and train.sizes["valid"] == 2
    assert valid.file_names == test.file_names and not set(valid.file_names) & set(train.file_names)
    assert train.num_classes == valid.num_classes == 4


def test_the_folder_scores_through_the_segmentation_step_with_255_ignored(tmp_path):
    img_dir, mask_dir, _, masks = _folder(tmp_path)

    class Oracle(nn.Module):   # predicts the true mask, and class 0 where the mask says 255
        num_classes = 4

        def forward(self, images):
            truth = np.where(masks == 255, 0, masks)[: len(images.data)]
            return nb.tensor(np.moveaxis(np.eye(4, dtype=np.float32)[truth], -1, 1))

    step = SegmentationStep(Oracle(), None, 4)
    result = step.evaluate(SceneBatches(SegmentationFolder(img_dir, mask_dir), 5, shuffle=False))
    assert result["miou"] == 1.0 and result["pixel_acc"] == 1.0   # the 255 pixels are not scored


def test_missing_mask_size_mismatch_and_out_of_range_classes_name_the_file(tmp_path):
    img_dir, mask_dir, _, _ = _folder(tmp_path)
    with pytest.raises(ValueError, match=r"mask '.*s00\.png' holds class index 3, above the model's 3 classes \(0-2; "
                                         r"255 marks ignored pixels\)"):
        SegmentationFolder(img_dir, mask_dir, num_classes=3)
    with pytest.raises(ValueError, match=r"s00\.png' holds class index 3"):
        SegmentationFolder(img_dir, mask_dir).check_num_classes(3)
    PIL.fromarray(np.zeros((5, 8), np.uint8)).save(os.path.join(mask_dir, "s02.png"))
    with pytest.raises(ValueError, match=r"mask '.*masks/s02\.png' is 8x5 pixels but its image '.*s02\.png' is 8x6"):
        SegmentationFolder(img_dir, mask_dir)
    PIL.fromarray(np.zeros((6, 8, 3), np.uint8)).save(os.path.join(mask_dir, "s02.png"))
    with pytest.raises(ValueError, match=r"s02\.png' has mode RGB .* single-channel PNG of class indices"):
        SegmentationFolder(img_dir, mask_dir)
    os.remove(os.path.join(mask_dir, "s02.png"))
    with pytest.raises(FileNotFoundError, match=r"image '.*images/s02\.png' has no mask: expected '.*masks/s02\.png'"):
        SegmentationFolder(img_dir, mask_dir)
    write_png(np.zeros((7, 8), np.uint8), os.path.join(img_dir, "s02.png"), exclusive=False)
    PIL.fromarray(np.zeros((7, 8), np.uint8)).save(os.path.join(mask_dir, "s02.png"))
    with pytest.raises(ValueError, match=r"image '.*s02\.png' is 8x7 pixels but '.*s00\.png' is 8x6; batches need one"):
        SegmentationFolder(img_dir, mask_dir)


def test_masks_names_and_a_missing_pillow(tmp_path, monkeypatch):
    img_dir, mask_dir, _, _ = _folder(tmp_path)
    spec = f"masks:{img_dir}:{mask_dir}"
    assert is_masks_spec(spec) and not is_masks_spec("mnist-scenes")
    assert parse_masks_spec(spec) == (img_dir, mask_dir)
    cls = masks_dataset_class(spec)
    assert cls.name == spec and cls.task == "segmentation" and len(cls(split="all")) == 5
    with pytest.raises(ValueError, match="mask folder .* not found"):
        masks_dataset_class(f"masks:{img_dir}:{tmp_path / 'nowhere'}")
    with pytest.raises(ValueError, match="expected masks:IMAGE_DIR:MASK_DIR"):
        parse_masks_spec("masks:only-one")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r'nabla\[vision\]'):
        SegmentationFolder(img_dir, mask_dir)


def test_exported_scenes_read_back_as_the_scenes_masks(tmp_path):
    from nabla.data.datasets import MNISTScenes
    from nabla.data.datasets.export import export_dataset
    export_dataset("mnist-scenes", "masks", tmp_path / "out", split="test", count=12)
    ds = SegmentationFolder(tmp_path / "out" / "images", tmp_path / "out" / "masks", num_classes=11)
    scenes = MNISTScenes(split="test", download=True, target_type="segmentation")
    x, m = ds.get_batch(np.arange(12))
    x_ref, m_ref = scenes.get_batch(np.arange(12))
    np.testing.assert_array_equal(m, m_ref)
    np.testing.assert_allclose(x, x_ref, atol=1e-6)
    assert ds.mask_classes[0] == "background" and len(ds.mask_classes) == 11
