"""A detection run's folder holds numbers only: the report draws its checkpoint's boxes on the first test
images of its data set (as `nabla predict` draws them), and leaves them out with `--predictions 0`."""
from __future__ import annotations

import re

import pytest

from ..cli.helpers import assert_ok, dataset_present, nabla
from .helpers import nabla_report


@pytest.fixture(scope="module")
def detector(tmp_path_factory):
    if not dataset_present("mnist-scenes"):
        pytest.skip("mnist-scenes cannot be generated here: MNIST is not installed (nabla datasets)")
    work = tmp_path_factory.mktemp("detector")
    # a tiny YOLO, two steps; its score threshold keeps the untrained model's boxes (and NMS) few
    assert_ok(nabla("train", "yolo", "--set", "widths=4,4,4,4,4,4", "--set", "score_thresh=0.5",
                    "--max-steps", "2", "--batch-size", "4",
                    "--eval-limit", "8", "--quiet", "--no-download", "--out", "runs/yolo", cwd=work))
    return work


def _pictures(page: str) -> list:
    return re.findall(r'<img src="([^"]+)"', page)


def test_a_detection_run_gets_its_predictions_drawn_on_test_images(detector):
    from PIL import Image
    assert_ok(nabla_report("runs", "--predictions", "2", "--out", "site", cwd=detector))
    pictures = _pictures((detector / "site" / "run-yolo.html").read_text(encoding="utf-8"))
    assert len(pictures) == 2 and all("/predictions/" in p for p in pictures), pictures
    for p in pictures:
        with Image.open(detector / "site" / p) as im:
            assert min(im.size) >= 256  # drawn enlarged, as nabla predict draws small images


def test_no_predictions_when_asked_for_none(detector):
    assert_ok(nabla_report("runs", "--predictions", "0", "--out", "site0", cwd=detector))
    assert _pictures((detector / "site0" / "run-yolo.html").read_text(encoding="utf-8")) == []
