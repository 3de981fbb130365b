"""``nabla export CKPT --format onnx --out FILE``: the checkpoint's model as ONNX, checked in onnxruntime."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='ONNX export needs onnx: pip install "nabla[onnx]"')
ort = pytest.importorskip("onnxruntime", reason='the command runs the file in onnxruntime: pip install "nabla[onnx]"')

import nabla  # noqa: E402
from nabla import cli  # noqa: E402
from nabla.cli import export as export_cmd  # noqa: E402
from nabla.models import build_model  # noqa: E402
from nabla.train import save_checkpoint  # noqa: E402


@pytest.fixture
def command(monkeypatch):
    """``nabla export`` whether or not nabla/cli/__init__.py lists it yet."""
    monkeypatch.setitem(cli.COMMANDS, "export", export_cmd)
    return cli.main


def _checkpoint(tmp_path, name, options):
    rng = np.random.default_rng(0)
    model = build_model(name, (1, 28, 28), 10, **options)
    for p in model.parameters():  # weights unlike a fresh model's, so a rebuild without them would differ
        p.data[...] += rng.normal(0, 0.05, p.shape).astype(np.float32)
    config = {"model": name, "in_shape": [1, 28, 28], "num_classes": 10, "options": options}
    return model, save_checkpoint(tmp_path / "last.safetensors", {"model": model.state_dict(), "config": config})


def test_export_writes_a_model_that_matches_the_checkpoint(tmp_path, command, capsys):
    model, ckpt = _checkpoint(tmp_path, "resnet20", {"width": 4})
    out = tmp_path / "out" / "model.onnx"
    assert command(["export", str(ckpt), "--format", "onnx", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "opset 17" in printed and "matches nabla" in printed
    onnx.checker.check_model(onnx.load(str(out)))
    x = np.random.default_rng(7).standard_normal((4, 1, 28, 28)).astype(np.float32)
    model.eval()
    with nabla.no_grad():
        expected = model(nabla.Tensor(x)).data
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_export_defaults_to_model_onnx_beside_the_checkpoint(tmp_path, command, capsys):
    _, ckpt = _checkpoint(tmp_path, "softmax-regression", {})
    assert command(["export", str(ckpt), "--opset", "18"]) == 0
    assert "opset 18" in capsys.readouterr().out
    assert onnx.load(str(tmp_path / "model.onnx")).opset_import[0].version == 18


def test_export_of_a_model_without_an_exporter_is_one_line_naming_the_module(tmp_path, command, capsys, monkeypatch):
    from nabla.models.rnn_lm import CharRNNLM
    from nabla.onnx import graph, sequence_models  # noqa: F401 - registers CharRNNLM's emitter, removed below
    monkeypatch.delitem(graph._EMITTERS, CharRNNLM)  # every model of the zoo exports: stand for a new one
    model = build_model("char-rnn", (32,), 20, embed_dim=4, hidden_size=8)
    config = {"model": "char-rnn", "in_shape": [32], "num_classes": 20, "options": {"embed_dim": 4, "hidden_size": 8}}
    ckpt = save_checkpoint(tmp_path / "lm.safetensors", {"model": model.state_dict(), "config": config})
    assert command(["export", str(ckpt), "--out", str(tmp_path / "lm.onnx")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no exporter for module CharRNNLM at model" in err
    assert not (tmp_path / "lm.onnx").exists()


def test_export_refuses_an_old_opset(tmp_path, command, capsys):
    _, ckpt = _checkpoint(tmp_path, "softmax-regression", {})
    assert command(["export", str(ckpt), "--opset", "9"]) == 2
    assert "--opset must be >= 13" in capsys.readouterr().err
