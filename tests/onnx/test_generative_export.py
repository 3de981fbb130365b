"""ONNX export of the generative models' networks: the GANs' generators (MLP and DCGAN, plain and conditional),
the VAEs' decoders, PixelCNN (masked convolutions with the mask folded in): onnxruntime equals nabla (rtol 1e-3,
atol 1e-4, float32) on batches of two sizes; the models' stochastic forwards are refused; ``nabla export`` of a
conditional DCGAN checkpoint."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='ONNX export needs onnx: pip install "nabla[onnx]"')
ort = pytest.importorskip("onnxruntime", reason='running exported models needs onnxruntime: pip install "nabla[onnx]"')

import nabla  # noqa: E402
import nabla.onnx.generative  # noqa: E402 - registers the emitters and targets (until export.py imports it)
from nabla.models.registry import build_model  # noqa: E402
from nabla.onnx import UnsupportedExport, export  # noqa: E402
from nabla.onnx.checkpoint import target_for  # noqa: E402
from tests.onnx._roundtrip import check_roundtrip, randomize  # noqa: E402

CASES = [
    ("gan", {"latent": 8, "hidden": 8}, (1, 8, 8)),
    ("gan", {"latent": 8, "hidden": 8, "conditional": True}, (1, 8, 6)),
    ("dcgan", {"latent": 8, "width": 4}, (1, 12, 8)),
    ("dcgan", {"latent": 6, "width": 4, "conditional": True}, (3, 8, 8)),
    ("vae", {"hidden": 8, "latent": 3}, (1, 8, 8)),
    ("conv-vae", {"width": 4, "hidden": 8, "latent": 3}, (2, 12, 8)),
    ("pixelcnn", {"hidden": 8, "blocks": 2}, (1, 8, 8)),
    ("pixelcnn", {"hidden": 8, "blocks": 1, "levels": 256}, (1, 6, 6)),
    ("pixelcnn", {"hidden": 8, "blocks": 0, "levels": 256}, (3, 6, 5)),
]


@pytest.mark.parametrize("name,options,shape", CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_generative_networks_match_nabla_in_onnxruntime(tmp_path, name, options, shape):
    """The export target ``nabla export`` uses for the model's task, run on its own random inputs."""
    rng = np.random.default_rng(0)
    model = build_model(name, shape, 4, **options)
    randomize(model, rng, noise=0.2)
    target = target_for(model, {"model": name, "in_shape": list(shape)})
    check_roundtrip(target.module, target.inputs, tmp_path / f"{name}.onnx", rng, target.input_names,
                    target.output_names)


def test_gan_labels_are_an_int64_input_and_change_the_images(tmp_path):
    rng = np.random.default_rng(1)
    model = build_model("dcgan", (1, 8, 8), 3, latent=4, width=4, conditional=True)
    randomize(model, rng, noise=0.2)
    z = rng.standard_normal((4, 4)).astype(np.float32)
    export(model, [z, np.arange(4) % 3], tmp_path / "g.onnx", input_names=["z", "labels"])
    proto = onnx.load(str(tmp_path / "g.onnx"))
    assert proto.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT64
    session = ort.InferenceSession(str(tmp_path / "g.onnx"), providers=["CPUExecutionProvider"])
    a = session.run(None, {"z": z, "labels": np.zeros(4, np.int64)})[0]
    b = session.run(None, {"z": z, "labels": np.full(4, 2, np.int64)})[0]
    assert np.abs(a - b).max() > 1e-3


def test_pixelcnn_graph_keeps_the_raster_order(tmp_path):
    """The folded masks: changing a pixel changes no logit at that pixel or before it in raster order."""
    rng = np.random.default_rng(2)
    model = build_model("pixelcnn", (1, 6, 6), 2, hidden=8, blocks=2)
    randomize(model, rng, noise=0.2)   # taps outside the mask get weights: only the mask keeps them out
    x = (rng.random((1, 1, 6, 6)) < 0.5).astype(np.float32)
    export(model, x, tmp_path / "p.onnx")
    session = ort.InferenceSession(str(tmp_path / "p.onnx"), providers=["CPUExecutionProvider"])
    y = x.copy()
    y[0, 0, 3, 2] = 1 - y[0, 0, 3, 2]
    changed = np.abs(session.run(None, {"input": y})[0] - session.run(None, {"input": x})[0])[0, 0] > 0
    assert not changed.ravel()[:3 * 6 + 3].any() and changed.any()


def test_stochastic_forwards_are_refused_with_what_to_export(tmp_path):
    vae = build_model("vae", (1, 4, 4), 2, hidden=4, latent=2)
    with pytest.raises(UnsupportedExport, match=r"VAE at model: .*VAEDecoder"):
        export(vae, np.zeros((2, 1, 4, 4), np.float32), tmp_path / "v.onnx")
    gan = build_model("dcgan", (1, 8, 8), 3, latent=4, width=4, conditional=True)
    with pytest.raises(UnsupportedExport, match=r"GAN at model: a conditional GAN exports with inputs \(z, labels\)"):
        export(gan, np.zeros((2, 4), np.float32), tmp_path / "g.onnx")
    assert not list(tmp_path.iterdir())


def test_nabla_export_of_a_conditional_dcgan_checkpoint(tmp_path, monkeypatch, capsys):
    """The checkpoint's model is the GAN (generator and discriminator): the file is its generator, (z, labels)."""
    from nabla import cli
    from nabla.cli import export as export_cmd
    from nabla.train import save_checkpoint
    from nabla.train.run import rebuild_from_checkpoint
    monkeypatch.setitem(cli.COMMANDS, "export", export_cmd)
    options = {"conditional": True, "width": 4, "latent": 8}
    model = build_model("dcgan", (1, 8, 8), 10, **options)
    randomize(model, np.random.default_rng(4), noise=0.2)
    config = {"model": "dcgan", "in_shape": [1, 8, 8], "num_classes": 10, "options": options}
    ckpt = save_checkpoint(tmp_path / "last.safetensors", {"model": model.state_dict(), "config": config})
    out = tmp_path / "g.onnx"
    assert cli.main(["export", str(ckpt), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "(dcgan, ONNX opset 17, input z (batch, 8), labels (batch,) in [0, 10))" in printed
    assert "matches nabla" in printed
    model, _, _ = rebuild_from_checkpoint(ckpt)
    model.eval()
    rng = np.random.default_rng(5)
    z, labels = rng.standard_normal((3, 8)).astype(np.float32), np.array([0, 4, 9])
    with nabla.no_grad():
        expected = model.generate(z, labels).data
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["images"]
    np.testing.assert_allclose(session.run(None, {"z": z, "labels": labels})[0], expected, rtol=1e-3, atol=1e-4)
