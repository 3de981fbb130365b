"""nabla.onnx.export: every supported image classifier runs in onnxruntime with nabla's outputs
(rtol 1e-3, atol 1e-4, float32) for batch 2 (the example) and batch 5 (the dynamic batch axis)."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='ONNX export needs onnx: pip install "nabla[onnx]"')
ort = pytest.importorskip("onnxruntime", reason='running exported models needs onnxruntime: pip install "nabla[onnx]"')

import nabla  # noqa: E402
from nabla import nn  # noqa: E402
from nabla.models.registry import build_model  # noqa: E402
from nabla.onnx import UnsupportedExport, export  # noqa: E402
from tests.onnx._roundtrip import randomize_batch_norm  # noqa: E402

CASES = [
    ("mlp", {"depth": 2, "width": 32}),
    ("mlp", {"depth": 1, "width": 16, "activation": "gelu", "batch_norm": True, "dropout": 0.3}),
    ("mlp", {"depth": 3, "width": 16, "activation": "leaky_relu"}),
    ("mlp", {"depth": 2, "width": 16, "activation": "elu"}),
    ("mlp", {"depth": 2, "width": 16, "activation": "sigmoid"}),
    ("softmax-regression", {}),
    ("lenet5", {}),
    ("lenet5", {"activation": "tanh", "pooling": "avg"}),
    ("alexnet-small", {"width": 8, "hidden": 32, "lrn": True}),
    ("vgg-small", {"depth": 11, "width": 8, "hidden": 32, "batch_norm": True}),
    ("googlenet-small", {"width": 0.125, "aux_logits": True}),
    ("resnet20", {"width": 4}),
    ("resnet20", {"width": 4, "shortcut": "B"}),
    ("plain20", {"width": 4}),
    ("resnet-small", {"depth": 18, "width": 4}),
    ("resnet-small", {"depth": 50, "width": 4}),
]


def _randomize(model, rng):
    """Batch-norm statistics and biases far from their initial values, so every layer moves the output."""
    randomize_batch_norm(model, rng)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)) and m.bias is not None:
            m.bias.data[...] = rng.normal(0, 0.1, m.bias.shape)


def _nabla(model, x):
    with nabla.no_grad():
        return model(nabla.Tensor(x)).data


@pytest.mark.parametrize("name,options", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_export_matches_nabla_in_onnxruntime(tmp_path, name, options):
    rng = np.random.default_rng(0)
    model = build_model(name, (1, 28, 28), 10, **options)
    _randomize(model, rng)
    model.train()  # export must run it in eval mode and give the mode back
    path = tmp_path / f"{name}.onnx"
    export(model, nabla.Tensor(rng.standard_normal((2, 1, 28, 28)).astype(np.float32)), path)
    assert model.training
    model.eval()
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (2, 5):
        x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
        expected = _nabla(model, x)
        assert expected.std() > 1e-3  # a constant output would hide a wrong graph
        got = session.run(None, {"input": x})[0]
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def _resnet_imagenet_stem():
    from nabla.models.resnet import BasicBlock, ResNet
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=7, width=8)  # 7x7/2 conv, padded 3/2 max-pool


def _googlenet_full():
    from nabla.models.googlenet import GoogLeNet
    return GoogLeNet(num_classes=5, width=0.125, in_channels=3)  # ceil-mode max-pools on odd sizes


def _layer_zoo():
    """Layers the registered models do not use: non-dividing adaptive pool, padded average pool,
    partial Flatten, tanh GELU, softmaxes, Identity."""
    return nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=1), nn.GELU(approximate="tanh"),
                         nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), nn.AdaptiveAvgPool2d((3, 5)),
                         nn.Flatten(2), nn.Softmax(dim=1), nn.Flatten(), nn.Identity(), nn.Linear(60, 6),
                         nn.Tanh(), nn.LogSoftmax(dim=1))


BUILT = [("resnet-imagenet-stem", _resnet_imagenet_stem, (3, 41, 41)), ("googlenet-full", _googlenet_full, (3, 57, 57)),
         ("layer-zoo", _layer_zoo, (3, 13, 19))]


@pytest.mark.parametrize("name,make,shape", BUILT, ids=[b[0] for b in BUILT])
def test_export_of_other_architectures_and_layers(tmp_path, name, make, shape):
    rng = np.random.default_rng(1)
    model = make()
    _randomize(model, rng)
    model.eval()
    path = tmp_path / f"{name}.onnx"
    export(model, rng.standard_normal((2, *shape)).astype(np.float32), path)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = rng.standard_normal((3, *shape)).astype(np.float32)
    expected = _nabla(model, x)
    assert expected.std() > 1e-3
    np.testing.assert_allclose(session.run(None, {"input": x})[0], expected, rtol=1e-3, atol=1e-4)


def test_names_and_dynamic_axes_follow_torch_onnx(tmp_path):
    model = build_model("softmax-regression", (1, 28, 28), 10)
    x = nabla.Tensor(np.zeros((3, 1, 28, 28), np.float32))
    proto = export(model, x, tmp_path / "m.onnx", input_names=["image"], output_names=["logits"],
                   dynamic_axes={"image": {0: "n"}})
    assert [i.name for i in proto.graph.input] == ["image"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "n"
    assert proto.graph.output[0].type.tensor_type.shape.dim[0].dim_value == 3  # not named: static
    assert {w.name for w in proto.graph.initializer} == {"linear.weight", "linear.bias"}
    assert proto.opset_import[0].version == 17


@pytest.mark.parametrize("axes,words", [({"images": {0: "n"}}, "'images', which is none of"),
                                        ({"image": {4: "w"}}, "has axes [4]; 'image' has rank 4"),
                                        ({"image": {0: "n", 2: "h", 3: "w"}}, "makes image axes [2, 3] dynamic")])
def test_dynamic_axes_naming_no_input_output_or_axis_is_refused(tmp_path, axes, words):
    model = build_model("softmax-regression", (1, 28, 28), 10)
    x = nabla.Tensor(np.zeros((3, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match="ONNX export: dynamic_axes") as e:  # a typo would leave the batch static
        export(model, x, tmp_path / "m.onnx", input_names=["image"], dynamic_axes=axes)
    assert words in str(e.value) and not (tmp_path / "m.onnx").exists()


class _Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x):
        return self.up(self.conv(x))


def test_unsupported_module_is_named_with_its_path(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), _Block()))
    with pytest.raises(UnsupportedExport, match=r"_Block at model\.1\.1\b"):
        export(model, nabla.Tensor(np.zeros((1, 1, 8, 8), np.float32)), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_unsupported_layer_inside_a_supported_model_is_named(tmp_path):
    model = build_model("mlp", (1, 28, 28), 10, depth=1, width=8)
    model.layers[2] = nn.SiLU()
    with pytest.raises(UnsupportedExport, match=r"SiLU at model\.layers\.2"):
        export(model, nabla.Tensor(np.zeros((1, 1, 28, 28), np.float32)), tmp_path / "m.onnx")


class _Doubling(nn.Sequential):
    def forward(self, x):
        return super().forward(x) * 2


def test_a_subclass_with_its_own_forward_is_refused_not_exported_as_its_base(tmp_path):
    model = nn.Sequential(nn.Flatten(), _Doubling(nn.Linear(4, 2)))
    with pytest.raises(UnsupportedExport, match=r"_Doubling at model\.1"):
        export(model, nabla.Tensor(np.zeros((1, 2, 2), np.float32)), tmp_path / "m.onnx")


class _Doubler(nn.Module):
    """A user's module with a forward of its own and no emitter."""

    def forward(self, x):
        return x * 2


def test_models_without_an_exporter_are_refused_by_name(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), _Doubler())
    with pytest.raises(UnsupportedExport, match=r"no exporter for module _Doubler at model\.1\b"):
        export(model, nabla.Tensor(np.zeros((2, 3), np.float32)), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_layer_norm_below_opset_17_is_refused_by_module_path(tmp_path):
    """LayerNormalization is an opset-17 op: an older opset gets one line naming the layer, not a checker error."""
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8))
    with pytest.raises(UnsupportedExport, match=r"LayerNorm at model\.1: LayerNormalization needs opset >= 17, "
                                                r"got opset_version=13"):
        export(model, nabla.Tensor(np.zeros((2, 4), np.float32)), tmp_path / "m.onnx", opset_version=13)
    assert not (tmp_path / "m.onnx").exists()
    export(model, nabla.Tensor(np.zeros((2, 4), np.float32)), tmp_path / "m.onnx", opset_version=17)
