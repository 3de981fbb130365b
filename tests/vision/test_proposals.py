"""Selective-search proposals (nabla.vision.proposals): boxes inside the image, recall on real scenes, the
cache (a hit returns the same arrays without recomputing; files written atomically; a damaged file is
recomputed), the install hint when OpenCV is missing, and proposal_recall on hand-made boxes."""
import os
import sys

import numpy as np
import pytest

from nabla.data.datasets import MNIST, MNISTScenes
from nabla.vision import proposals as P

from ..detection_helpers import has_ximgproc


_has_ximgproc = has_ximgproc


needs_cv2 = pytest.mark.skipif(not _has_ximgproc(), reason="OpenCV's ximgproc is not installed "
                               "(pip install opencv-contrib-python-headless)")


@pytest.fixture(scope="module")
def scenes():
    if not MNIST.is_present():
        pytest.skip(f"MNIST is not installed here; install it with: {MNIST.install_hint()}")
    return MNISTScenes(split="valid", download=True).get_batch(np.arange(6))


@needs_cv2
def test_boxes_are_inside_distinct_and_large_enough_and_recall_the_digits(scenes, tmp_path):
    images, targets = scenes
    ss = P.SelectiveSearch(min_size=3.0, cache_dir=tmp_path)
    props = ss(images)
    assert len(props) == len(images) and ss.computed == len(images) and ss.seconds > 0
    for p in props:
        assert p.dtype == np.float32 and p.ndim == 2 and p.shape[1] == 4 and 0 < len(p) <= 300
        assert (p >= 0).all() and (p[:, 2] <= 64).all() and (p[:, 3] <= 64).all()
        assert ((p[:, 2:] - p[:, :2]) >= 3.0).all()
        assert len(np.unique(p, axis=0)) == len(p)
    stats = P.proposal_stats(props, targets)
    assert stats["recall"] >= 0.9 and 5 <= stats["proposals_per_image"] <= 100
    # three channels are taken as they are; the grey image copied to 3 channels gives the same boxes
    rgb = P.SelectiveSearch(min_size=3.0, cache_dir=False)(np.repeat(images[:1], 3, axis=1))
    np.testing.assert_array_equal(rgb[0], props[0])


@needs_cv2
def test_cache_hits_return_the_same_arrays_without_recomputing(scenes, tmp_path):
    images = scenes[0][:3]
    ss = P.SelectiveSearch(cache_dir=tmp_path)
    first = ss(images)
    again = ss(images)
    assert ss.computed == 3 and all(a is b for a, b in zip(first, again))
    assert not first[0].flags.writeable
    files = sorted(tmp_path.rglob("*.npy"))
    assert len(files) == 3 and not list(tmp_path.rglob("*.part"))
    fresh = P.SelectiveSearch(cache_dir=tmp_path)  # a new process: the disk cache answers
    from_disk = fresh(images)
    assert fresh.computed == 0
    for a, b in zip(first, from_disk):
        np.testing.assert_array_equal(a, b)
    # other settings are other keys; a changed image is another key
    assert P.SelectiveSearch(scale=1.0, cache_dir=tmp_path).key(images[0]) != ss.key(images[0])
    assert ss.key(images[0] * 0.5) != ss.key(images[0])
    # a damaged file is recomputed and rewritten
    files[0].write_bytes(b"not an npy file")
    damaged = P.SelectiveSearch(cache_dir=tmp_path)
    damaged(images)
    assert damaged.computed == 1


@needs_cv2
def test_a_failed_write_leaves_no_file_and_still_returns_the_proposals(scenes, tmp_path, monkeypatch):
    def refuse(src, dst):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", refuse)
    ss = P.SelectiveSearch(cache_dir=tmp_path)
    out = ss(scenes[0][:1])
    assert len(out[0]) > 0 and ss.computed == 1
    assert not [f for f in tmp_path.rglob("*") if f.is_file()]  # neither a half file nor a temporary one


def test_missing_opencv_names_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 now raises ImportError
    with pytest.raises(ImportError, match=r'pip install "nabla\[detection\]".*opencv-contrib-python-headless'):
        P.SelectiveSearch()


@needs_cv2
def test_bad_inputs_are_one_line_errors():
    with pytest.raises(ValueError, match="unknown mode 'slow'"):
        P.SelectiveSearch(mode="slow")
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1 or 3, H, W\)"):
        P.SelectiveSearch(cache_dir=False)(np.zeros((1, 2, 8, 8), np.float32))


def test_proposal_recall_counts_boxes_matched_at_the_threshold():
    targets = [{"boxes": np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)},
               {"boxes": np.zeros((0, 4), np.float32)}, np.array([[0, 0, 4, 4]], np.float32)]
    props = [np.array([[0, 0, 10, 5], [20, 20, 30, 30]], np.float32),  # IoU 0.5 (counts), 1.0
             np.array([[0, 0, 5, 5]], np.float32), np.zeros((0, 4), np.float32)]
    assert P.proposal_recall(props, targets, 0.5) == pytest.approx(2 / 3)
    assert P.proposal_recall(props, targets, 0.51) == pytest.approx(1 / 3)
    assert P.proposal_stats(props, targets)["proposals_per_image"] == 1.0
    assert np.isnan(P.proposal_recall(props[1:2], targets[1:2]))
    with pytest.raises(ValueError, match="2 proposal arrays for 3 targets"):
        P.proposal_recall(props[:2], targets)
