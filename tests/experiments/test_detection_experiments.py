"""The detectors experiment in its quick configuration: five detectors, the same test scenes, speed and
proposals measured where they exist (test_experiments.py runs it; its cached result is shared here)."""
import pytest

from .test_experiments import _run

pytest.importorskip("cv2", reason="R-CNN and Fast R-CNN need OpenCV: pip install 'nabla[detection]'")


def test_detectors_ladder(tmp_path_factory):
    result, record, lines, _ = _run("detectors", tmp_path_factory)
    rows = {r["detector"]: r for r in record["table"]}
    assert list(rows) == ["sliding-window", "rcnn", "fast-rcnn", "faster-rcnn", "yolo"]
    for r in rows.values():
        assert 0.0 <= r["map_75"] <= r["map_50"] <= 1.0 and r["inference images/s"] > 0
        assert r["training images"] > 0
    for name in ("sliding-window", "rcnn", "fast-rcnn", "faster-rcnn"):
        assert rows[name]["proposals_per_image"] > 0 and 0.0 <= rows[name]["proposal_recall_50"] <= 1.0
    assert "proposals_per_image" not in rows["yolo"]
    assert set(record["data"]["claims"]) and len(result.data["shown"]["detections"]["yolo"]) == 4
    assert sum("test map_50" in line for line in lines) == 5
