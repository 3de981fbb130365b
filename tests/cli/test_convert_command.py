"""``nabla convert IN.pt OUT.safetensors``: a PyTorch state dict (bare, or inside a checkpoint dict) becomes
a safetensors file that loads into the matching nabla model; torch missing, or a file that is not a state
dict, is one line on stderr."""
import sys

import numpy as np
import pytest

import nabla as nb
from nabla import cli, nn
from nabla.cli import convert as convert_cmd

torch = pytest.importorskip("torch")


@pytest.fixture
def command(monkeypatch):
    """``nabla convert`` whether or not nabla/cli/__init__.py lists it yet."""
    monkeypatch.setitem(cli.COMMANDS, "convert", convert_cmd)
    return cli.main


def _pair(lib):
    return lib.Sequential(lib.Conv2d(2, 4, 3), lib.BatchNorm2d(4), lib.ReLU(), lib.Flatten(), lib.Linear(16, 3))


@pytest.mark.parametrize("wrap", [None, "state_dict", "model"])
def test_a_torch_file_converts_and_loads_into_nabla(tmp_path, command, capsys, wrap):
    torch.manual_seed(0)
    tm = _pair(torch.nn)
    with torch.no_grad():
        tm[1].running_mean.normal_()
        tm[1].running_var.uniform_(0.5, 2.0)
    tm.eval()
    sd = tm.state_dict()
    src = tmp_path / "in.pt"
    torch.save(sd if wrap is None else {wrap: sd, "epoch": 3}, src)
    out = tmp_path / "sub" / "out.safetensors"
    assert command(["convert", str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{len(sd)} tensors" in printed and str(out) in printed
    nm = _pair(nn).eval()
    nm.load_state_dict(nb.load(out), strict=True)
    x = np.random.default_rng(1).standard_normal((2, 2, 4, 4)).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x)).numpy()
    with nb.no_grad():
        got = nm(nb.tensor(x)).data
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-4)


def test_non_tensor_entries_are_skipped_with_a_note(tmp_path, command, capsys):
    src, out = tmp_path / "in.pt", tmp_path / "out.safetensors"
    torch.save({"w": torch.ones(2, 3), "note": "hello", "step": 7}, src)
    assert command(["convert", str(src), str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped 2 non-tensor entries: note, step" in printed and "1 tensors, 6 values" in printed
    assert sorted(nb.load(out)) == ["w"]


def test_missing_torch_is_one_line(tmp_path, command, capsys, monkeypatch):
    src = tmp_path / "in.pt"
    torch.save({"w": torch.ones(1)}, src)
    monkeypatch.setitem(sys.modules, "torch", None)
    assert command(["convert", str(src), str(tmp_path / "o.safetensors")]) != 0
    err = capsys.readouterr().err
    assert err == 'nabla convert: error: nabla convert needs torch: pip install "nabla[torch]"\n'
    assert not (tmp_path / "o.safetensors").exists()


@pytest.mark.parametrize("payload", [[1, 2, 3], {"a": 1, "b": "x"}, "text"])
def test_a_pickle_that_is_not_a_state_dict_is_refused_in_one_line(tmp_path, command, capsys, payload):
    src = tmp_path / "in.pt"
    torch.save(payload, src)
    assert command(["convert", str(src), str(tmp_path / "o.safetensors")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is not a state dict" in err
    assert not (tmp_path / "o.safetensors").exists()


def test_a_file_that_is_not_torchs_is_refused_in_one_line(tmp_path, command, capsys):
    src = tmp_path / "in.pt"
    src.write_bytes(b"not a pickle at all")
    assert command(["convert", str(src), str(tmp_path / "o.safetensors")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights_only=True" in err


class Payload:
    """An arbitrary object: a pickle of it runs code on load, so weights_only=True refuses it."""


def test_a_pickle_of_arbitrary_objects_is_refused_in_one_line(tmp_path, command, capsys):
    src = tmp_path / "in.pt"
    torch.save({"w": Payload()}, src)
    assert command(["convert", str(src), str(tmp_path / "o.safetensors")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "weights_only=True" in err
    assert not (tmp_path / "o.safetensors").exists()
