"""ONNX export of the detectors' networks (their raw outputs; decoding and NMS stay in nabla): YOLO's grid,
Faster R-CNN's RPN head and box head, Fast R-CNN's and R-CNN's heads on given rois, the sliding-window
detector's windows built into the graph; RoIAlign and RoIPool against nabla's on awkward boxes.  onnxruntime
equals nabla (rtol 1e-3, atol 1e-4, float32) on batches of two sizes; the detectors themselves are refused."""
import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='ONNX export needs onnx: pip install "nabla[onnx]"')
ort = pytest.importorskip("onnxruntime", reason='running exported models needs onnxruntime: pip install "nabla[onnx]"')

import nabla  # noqa: E402
from nabla import nn  # noqa: E402
from nabla.models.crop_detector import WarpCrops  # noqa: E402
from nabla.models.registry import build_model  # noqa: E402
from nabla.onnx import UnsupportedExport, export, onnx_emitter  # noqa: E402
from nabla.onnx.checkpoint import target_for  # noqa: E402
from nabla.onnx.detection import random_rois, raw_outputs, roi_features  # noqa: E402
from nabla.onnx.faster_rcnn_split import (export_faster_rcnn_split, rpn_proposals, split_faster_rcnn,  # noqa: E402
                                          two_graph_detections)
from nabla.vision.roi_heads import RoIFeatures  # noqa: E402
from tests.onnx._roundtrip import check_roundtrip, randomize  # noqa: E402

NET = {"widths": "4,4,8", "representation_size": 16}
CASES = [
    ("yolo", {"widths": "4,4,8", "boxes_per_cell": 2}, (1, 32, 24)),
    ("faster-rcnn", NET, (1, 32, 32)),
    ("faster-rcnn", {**NET, "roi_op": "pool"}, (2, 32, 40)),
    ("fast-rcnn", NET, (1, 32, 40)),
    ("fast-rcnn", {**NET, "roi_op": "pool"}, (1, 32, 32)),
    ("sliding-window", {"widths": "4,8", "representation_size": 16, "crop_size": 8, "window_sizes": "12",
                        "window_strides": "8"}, (1, 32, 32)),
    ("rcnn", {"widths": "4,8", "representation_size": 16, "crop_size": 8}, (1, 32, 32)),
]


@pytest.mark.parametrize("name,options,shape", CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_detector_networks_match_nabla_in_onnxruntime(tmp_path, name, options, shape):
    """The detection task's export target: every raw output, a dynamic batch (and number of rois)."""
    if name == "rcnn":
        pytest.importorskip("cv2", reason="building R-CNN needs selective search's OpenCV (nabla[detection])")
    rng = np.random.default_rng(0)
    model = build_model(name, shape, 3, **options)
    randomize(model, rng)
    target = target_for(model, {"model": name, "in_shape": list(shape)})
    check_roundtrip(target.module, target.inputs, tmp_path / f"{name}.onnx", rng, target.input_names,
                    target.output_names, target.dynamic_axes)


class _RoI(nn.Module):
    """A RoI op alone: features (N, C, h, w), rois (R, 5) -> (R, C, P, P), as the detectors call it."""

    def __init__(self, op, image_size, sampling_ratio):
        super().__init__()
        self.op = WarpCrops(5, 0.07, sampling_ratio) if op == "warp" else RoIFeatures(5, sampling_ratio, op)
        self.image_size = image_size

    def forward(self, features, rois):
        return self.op(features, rois.data, [self.image_size])


@onnx_emitter(_RoI)
def _roi(g, module, features, rois, path):
    scale = 1.0 if isinstance(module.op, WarpCrops) else 2.0 ** round(math.log2(features.shape[-2] /
                                                                                module.image_size[0]))
    return roi_features(g, module.op, features, rois, path, module(features.tensor, rois.tensor), scale)


ROI_CASES = [("align", 2, (4, 8, 8), (32, 32)), ("align", -1, (4, 8, 10), (32, 40)), ("align", 0, (3, 16, 16), (16, 16)),
             ("pool", 2, (4, 8, 8), (32, 32)), ("pool", 2, (4, 16, 16), (32, 32)), ("warp", -1, (2, 32, 32), (32, 32)),
             ("warp", 2, (2, 32, 24), (32, 24))]


@pytest.mark.parametrize("op,ratio,shape,image", ROI_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(ROI_CASES)])
def test_roi_ops_match_nabla_on_awkward_boxes(tmp_path, op, ratio, shape, image):
    """RoiAlign (half_pixel = aligned, adaptive sampling) and MaxRoiPool (rounding half away from zero, the +1
    extent) against nabla's on boxes crossing the border, boxes under a pixel, and whole-pixel boxes (where
    RoIPool's rounding of x s = k + 0.5 decides)."""
    rng = np.random.default_rng(len(op) + ratio)
    module = _RoI(op, image, ratio)

    def inputs(batch, rng):
        rois = random_rois(rng, batch, image, 40)
        rois[:4, 3:] = rois[:4, 1:3] + [[0.3, 0.2]]
        rois[-20:] = np.round(rois[-20:])
        rois[-20:, 3:] = np.maximum(rois[-20:, 3:], rois[-20:, 1:3])
        return [rng.standard_normal((batch, *shape)).astype(np.float32), rois]
    axes = {"features": {0: "batch"}, "rois": {0: "num_rois"}, "output": {0: "num_rois"}}
    check_roundtrip(module, inputs, tmp_path / "roi.onnx", rng, ["features", "rois"], ["output"], axes)


def test_yolo_outputs_feed_nabla_postprocessing(tmp_path):
    """onnxruntime's three grids through ``postprocess`` give the detector's own detections."""
    rng = np.random.default_rng(1)
    model = build_model("yolo", (1, 32, 32), 3, widths="4,4,8", score_thresh=0.0)
    randomize(model, rng)
    model.eval()
    x = rng.standard_normal((2, 1, 32, 32)).astype(np.float32)
    export(raw_outputs(model), x, tmp_path / "y.onnx", output_names=["boxes", "confidence", "class_probs"])
    grids = ort.InferenceSession(str(tmp_path / "y.onnx"), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    got = model.postprocess(*grids, (32, 32))
    with nabla.no_grad():
        expected = model(nabla.Tensor(x))
    for a, e in zip(got, expected):
        np.testing.assert_allclose(a["scores"].data, e["scores"].data, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(a["boxes"].data, e["boxes"].data, rtol=1e-3, atol=1e-3)


def test_detectors_are_refused_with_what_to_export(tmp_path):
    model = build_model("yolo", (1, 32, 32), 3, widths="4,4,8")
    with pytest.raises(UnsupportedExport, match=r"YOLOv1 at model: .*raw_outputs\(detector\)"):
        export(model, np.zeros((1, 1, 32, 32), np.float32), tmp_path / "y.onnx")
    with pytest.raises(UnsupportedExport, match=r"FasterRCNN at model: export with inputs \(images, rois\)"):
        export(raw_outputs(build_model("faster-rcnn", (1, 32, 32), 3, **NET)), np.zeros((1, 1, 32, 32), np.float32),
               tmp_path / "f.onnx")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("roi_op,shape", [("align", (1, 32, 32)), ("pool", (2, 32, 40))])
def test_split_faster_rcnn_graphs_match_nabla(tmp_path, roi_op, shape):
    """The detection target's companions: graph 1 (images -> features, objectness, rpn_box_deltas) and graph 2
    (features, rois -> class_logits, box_regression) each equal nabla in onnxruntime, on batches of two sizes
    and as many rois."""
    rng = np.random.default_rng(2)
    model = build_model("faster-rcnn", shape, 3, **NET, roi_op=roi_op)
    randomize(model, rng)
    companions = target_for(model, {"model": "faster-rcnn", "in_shape": list(shape)}).companions
    assert [suffix for suffix, _ in companions] == ["features", "heads"]
    for suffix, t in companions:
        check_roundtrip(t.module, t.inputs, tmp_path / f"{suffix}.onnx", rng, t.input_names, t.output_names,
                        t.dynamic_axes)


def test_two_graph_pipeline_gives_the_detectors_detections(tmp_path):
    """export_faster_rcnn_split's two files, nabla's proposal decoding and NMS between them and its
    post-processing after: the eval-mode detector's own detections, with the backbone run once."""
    rng = np.random.default_rng(3)
    model = build_model("faster-rcnn", (1, 32, 32), 3, **NET, score_thresh=0.0)
    randomize(model, rng)
    model.eval()
    x = rng.standard_normal((2, 1, 32, 32)).astype(np.float32)
    paths = export_faster_rcnn_split(model, (1, 32, 32), tmp_path / "frcnn.onnx")
    assert paths == (str(tmp_path / "frcnn.features.onnx"), str(tmp_path / "frcnn.heads.onnx"))
    graph1, graph2 = (ort.InferenceSession(p, providers=["CPUExecutionProvider"]) for p in paths)
    features, objectness, deltas = graph1.run(None, {"images": x})
    for a, e in zip(rpn_proposals(model, (32, 32), objectness, deltas), model.propose(x)):
        np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-3)  # the RPN's proposals
    calls = []
    got = two_graph_detections(model, x, lambda images: calls.append("1") or graph1.run(None, {"images": images}),
                               lambda f, rois: calls.append("2") or graph2.run(None, {"features": f, "rois": rois}))
    assert calls == ["1", "2"]
    with nabla.no_grad():
        expected = model(nabla.Tensor(x))
    assert sum(len(e["scores"].data) for e in expected) > 0
    for a, e in zip(got, expected):
        np.testing.assert_array_equal(a["labels"].data, e["labels"].data)
        np.testing.assert_allclose(a["scores"].data, e["scores"].data, rtol=1e-3, atol=1e-4)
        np.testing.assert_allclose(a["boxes"].data, e["boxes"].data, rtol=1e-3, atol=1e-3)
    assert len(got) == len(expected)


def test_split_faster_rcnn_refuses_other_detectors():
    with pytest.raises(TypeError, match="split_faster_rcnn: expected a FasterRCNN, got FastRCNN"):
        split_faster_rcnn(build_model("fast-rcnn", (1, 32, 32), 3, **NET), (32, 32))


def test_nabla_export_of_faster_rcnn_writes_the_split_graphs_beside_the_single_one(tmp_path):
    """export_checkpoint (``nabla export``): model.onnx (images, rois -> all four outputs) as before, and
    model.features.onnx and model.heads.onnx, each printed and checked against nabla."""
    from nabla.onnx.checkpoint import export_checkpoint
    from nabla.train import save_checkpoint
    model = build_model("faster-rcnn", (1, 32, 32), 3, **NET)
    randomize(model, np.random.default_rng(4))
    config = {"model": "faster-rcnn", "in_shape": [1, 32, 32], "num_classes": 3, "options": NET}
    ckpt = save_checkpoint(tmp_path / "last.safetensors", {"model": model.state_dict(), "config": config})
    printed = []
    result = export_checkpoint(ckpt, tmp_path / "model.onnx", echo=printed.append)
    assert result["ok"] and all(c["ok"] for c in result["companions"].values())
    for name in ("model.onnx", "model.features.onnx", "model.heads.onnx"):
        assert any(f"wrote {tmp_path / name} " in line for line in printed), printed
    assert sum("matches nabla" in line for line in printed) == 3
    inputs = [i.name for i in ort.InferenceSession(str(tmp_path / "model.heads.onnx"),
                                                 providers=["CPUExecutionProvider"]).get_inputs()]
    assert inputs == ["features", "rois"]
