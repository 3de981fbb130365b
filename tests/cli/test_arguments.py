"""Flags and model options are checked before any work: one line on stderr naming the flag, the expected
type and the value; exit 2; never a traceback."""
import numpy as np
import pytest

from .helpers import (FIXTURES, SMALL_MLP, assert_ok, assert_one_line_error, epoch_lines, nabla, show)

LINEAR = ["linear-regression", "--quiet"]


def _nothing_written(tmp_path):
    return not list(tmp_path.rglob("*.safetensors"))


@pytest.mark.parametrize("value", ["abc", "2.5"])
def test_an_int_option_given_something_else_is_refused(tmp_path, mnist5k, value):
    res = nabla("train", "mlp", "--dataset", "mnist-5k", "--set", f"width={value}", "--epochs", "1", "--quiet",
                "--no-download", cwd=tmp_path)
    assert_one_line_error(res, 2, "width", "int", value)
    assert not epoch_lines(res.stdout) and _nothing_written(tmp_path), show(res)


def test_a_bool_option_given_something_else_is_refused(tmp_path, mnist5k):
    res = nabla("train", "mlp", "--dataset", "mnist-5k", "--set", "batch_norm=maybe", "--epochs", "1", "--quiet",
                "--no-download", cwd=tmp_path)
    assert_one_line_error(res, 2, "batch_norm", "maybe")
    assert not epoch_lines(res.stdout) and _nothing_written(tmp_path), show(res)


@pytest.mark.parametrize("spelling,value", [("true", True), ("false", False), ("yes", True), ("no", False),
                                            ("1", True), ("0", False), ("on", True), ("off", False)])
def test_bool_option_spellings(tmp_path, mnist5k, spelling, value):
    out = tmp_path / "run"
    assert_ok(nabla("train", *SMALL_MLP, "--set", f"batch_norm={spelling}", "--epochs", "1", "--out", out,
                    cwd=tmp_path))
    from safetensors.numpy import load_file
    keys = load_file(str(out / "last.safetensors"))
    has_bn = any("running_mean" in k for k in keys)
    assert has_bn is value, f"batch_norm={spelling} built a model {'with' if has_bn else 'without'} batch norm"


def test_an_unknown_option_is_refused(tmp_path):
    res = nabla("train", "mlp", "--set", "colour=red", "--epochs", "1", "--quiet", "--no-download", cwd=tmp_path)
    assert_one_line_error(res, 2, "colour")


@pytest.mark.parametrize("flag,value", [("--epochs", "0"), ("--epochs", "-3"), ("--lr", "nan"), ("--lr", "inf"),
                                        ("--batch-size", "0")])
def test_impossible_settings_are_refused_before_any_work(tmp_path, flag, value):
    res = nabla("train", *LINEAR, flag, value, cwd=tmp_path)
    assert_one_line_error(res, 2, flag, value)
    assert not epoch_lines(res.stdout) and _nothing_written(tmp_path), show(res)


@pytest.mark.parametrize("argv,flag,value", [
    (["train", *LINEAR, "--eval-limit", "0"], "--eval-limit", "0"),
    (["train", *LINEAR, "--temperature", "-1"], "--temperature", "-1"),  # would fail only after training
    (["eval", FIXTURES / "checkpoints" / "char_lstm.safetensors", "--eval-limit", "0"], "--eval-limit", "0"),
    (["eval", FIXTURES / "checkpoints" / "char_lstm.safetensors", "--eval-limit", "-5"], "--eval-limit", "-5"),
    (["sample", FIXTURES / "checkpoints" / "char_lstm.safetensors", "--num-samples", "0"], "--num-samples", "0"),
    (["sample", FIXTURES / "checkpoints" / "char_lstm.safetensors", "--length", "0"], "--length", "0"),
    (["sample", FIXTURES / "checkpoints" / "char_lstm.safetensors", "--temperature", "nan"], "--temperature", "nan"),
])
def test_impossible_counts_are_refused_by_every_command(tmp_path, argv, flag, value):
    res = nabla(*argv, cwd=tmp_path)
    assert_one_line_error(res, 2, flag, value)
    assert not epoch_lines(res.stdout) and _nothing_written(tmp_path), show(res)


def test_a_checkpoint_holding_nan_is_refused_by_eval(tmp_path, mnist5k):
    from safetensors import safe_open
    from safetensors.numpy import save_file
    src = FIXTURES / "checkpoints" / "mlp.safetensors"
    with safe_open(str(src), framework="numpy") as f:
        meta = f.metadata()
        arrays = {k: f.get_tensor(k) for k in f.keys()}
    name = "model.layers.1.weight"
    arrays[name] = arrays[name].copy()
    arrays[name].flat[7] = np.nan
    bad = tmp_path / "nan.safetensors"
    save_file(arrays, str(bad), metadata=meta)
    res = nabla("eval", bad, "--no-download", cwd=tmp_path)
    line = assert_one_line_error(res, 1, "layers.1.weight")
    assert "non-finite" in line.lower(), show(res)


@pytest.mark.parametrize("argv", [
    ["train", "no-such-model"],
    ["train", "mlp", "--dataset", "imagenet", "--no-download"],
    ["train", "--epochs", "many"],
    ["train", "linear-regression", "--set", "width"],
    ["eval", "missing.safetensors"],
    ["eval", "garbage.safetensors"],
    ["sample", "garbage.safetensors"],
    ["experiment", "no-such-experiment"],
    ["train", "--resume", "missing.safetensors"],
])
def test_every_error_is_one_line_without_a_traceback(tmp_path, argv):
    (tmp_path / "garbage.safetensors").write_bytes(b"not a checkpoint at all")
    res = nabla(*argv, cwd=tmp_path)
    assert_one_line_error(res, None)


def test_a_reader_that_leaves_the_pipe_ends_the_command_quietly(tmp_path):
    """`nabla experiment --list | head -1`: the reader closes the pipe before nabla writes; nabla exits as a
    process killed by SIGPIPE would (141), with nothing on stderr (it printed "error: Broken pipe")."""
    import os
    import subprocess
    import sys
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes a line
    proc = subprocess.run([sys.executable, "-m", "nabla.cli", "experiment", "--list"], stdout=write,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path, timeout=120)
    os.close(write)
    assert proc.returncode == 141 and proc.stderr == "", (proc.returncode, proc.stderr)
