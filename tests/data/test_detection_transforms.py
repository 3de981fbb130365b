"""RandomShift moves boxes and masks with the pixels; boxes pushed mostly out of the image are dropped."""
import numpy as np
import pytest

from nabla.data.detection_transforms import RandomShift, shift_targets


def _scene():
    img = np.zeros((1, 1, 16, 16), np.float32)
    img[0, 0, 4:8, 5:9] = 1.0                      # a 4x4 "digit" at x 5..9, y 4..8
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 5:9] = 3
    target = {"boxes": np.array([[5, 4, 9, 8]], np.float32), "labels": np.array([2]),
              "masks": (mask > 0)[None].astype(np.uint8), "mask": mask}
    return img, target


def test_pixels_boxes_and_masks_move_together():
    img, target = _scene()
    rng = np.random.default_rng(0)
    for _ in range(20):
        moved, (t,) = RandomShift(3)(img, [target], rng)
        ys, xs = np.nonzero(moved[0, 0] > 0)
        if len(t["boxes"]):
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == tuple(t["boxes"][0].astype(int))
            assert np.array_equal(t["mask"] > 0, moved[0, 0] > 0)
            assert np.array_equal(t["masks"][0] > 0, moved[0, 0] > 0)
            assert t["labels"].tolist() == [2]


def test_shift_is_per_image_and_seeded():
    img = np.random.default_rng(1).random((6, 1, 8, 8)).astype(np.float32)
    targets = [{"boxes": np.zeros((0, 4), np.float32), "labels": np.zeros(0, np.int64)}] * 6
    a, _ = RandomShift(2)(img, targets, np.random.default_rng(5))
    b, _ = RandomShift(2)(img, targets, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert len({a[i].tobytes() for i in range(6)}) == 6


def test_box_mostly_outside_is_dropped_with_its_label():
    _, target = _scene()
    t = shift_targets(target, dx=10, dy=0, size=(16, 16))      # x 15..19: 1 of 4 columns left
    assert t["boxes"].shape == (0, 4) and t["labels"].shape == (0,) and t["masks"].shape[0] == 0
    t = shift_targets(target, dx=-6, dy=0, size=(16, 16))      # x -1..3: 3 of 4 columns left, clipped
    assert t["boxes"].tolist() == [[0, 4, 3, 8]]


def test_semantic_mask_batches_shift_like_images():
    img, target = _scene()
    masks = target["mask"][None].astype(np.int64)
    moved, m = RandomShift(3)(img, masks, np.random.default_rng(3))
    assert np.array_equal(m[0] > 0, moved[0, 0] > 0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="max_shift"):
        RandomShift(-1)
    with pytest.raises(ValueError, match="min_visible"):
        RandomShift(2, min_visible=2)
