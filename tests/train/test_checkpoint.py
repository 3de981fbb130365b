import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("safetensors")

from nabla.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint  # noqa: E402
import nabla as nb  # noqa: E402


def _state():
    return {"model": {"fc.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "fc.bias": nb.zeros(2)},
            "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(3)}},
                          "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0]}]},
            "epoch": 4, "config": {"name": "mlp", "hidden": [16, 16]}, "rng": nb.get_rng_state()}


def test_round_trip(tmp_path):
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, _state())
    back = load_checkpoint(path)
    np.testing.assert_array_equal(back["model"]["fc.weight"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert back["model"]["fc.weight"].dtype == np.float32
    assert back["optimizer"]["state"][0]["step"] == 3          # int keys survive
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)  # tuples survive
    assert back["epoch"] == 4 and back["config"]["hidden"] == [16, 16]
    assert back["rng"] == nb.get_rng_state()


def test_truncated_and_garbage_files_give_clear_errors(tmp_path):
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, _state())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(path)
    path.write_bytes(b"\x00" * 7)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.safetensors")


def test_not_a_nabla_checkpoint(tmp_path):
    from safetensors.numpy import save_file
    path = tmp_path / "other.safetensors"
    save_file({"a": np.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="not a nabla checkpoint"):
        load_checkpoint(path)


def test_unstorable_value_is_rejected(tmp_path):
    with pytest.raises(TypeError, match="cannot store"):
        save_checkpoint(tmp_path / "x.safetensors", {"f": object()})


def test_killed_while_saving_leaves_previous_checkpoint(tmp_path):
    """A process killed in the middle of a save leaves the old file loadable (write-then-rename)."""
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, _state())
    script = f"""
import os, numpy as np
import nabla.train.checkpoint as ck
real_fsync = os.fsync
def die(fd):
    os._exit(9)          # the process dies after writing the temp file, before the rename
os.fsync = die
ck.save_checkpoint({str(path)!r}, {{"model": {{"w": np.ones((300, 300))}}, "epoch": 99}})
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=os.getcwd())
    assert proc.returncode == 9
    back = load_checkpoint(path)
    assert back["epoch"] == 4


def test_zero_dim_arrays_keep_their_shape(tmp_path):
    """A 0-d buffer (batch norm's num_batches_tracked) comes back 0-d, so the state_dict loads again."""
    bn = nb.nn.BatchNorm2d(3)
    bn(nb.tensor(np.random.default_rng(0).standard_normal((4, 3, 2, 2))))
    path = save_checkpoint(tmp_path / "bn.safetensors", {"model": bn.state_dict(), "n": np.array(5)})
    state = load_checkpoint(path)
    assert state["model"]["num_batches_tracked"].shape == () and state["n"].shape == ()
    fresh = nb.nn.BatchNorm2d(3)
    fresh.load_state_dict(state["model"])
    assert int(fresh.num_batches_tracked.data) == 1


def test_a_zero_dim_buffer_saved_as_one_element_still_loads():
    """Checkpoints written before 0-d shapes were recorded hold num_batches_tracked as shape (1,): every
    loading path (eval, resume) goes through load_state_dict, which accepts it, as PyTorch does."""
    bn = nb.nn.BatchNorm2d(2)
    state = {k: np.asarray(v.data) for k, v in bn.state_dict().items()}
    state["num_batches_tracked"] = np.array([7])
    bn.load_state_dict(state)
    assert bn.num_batches_tracked.shape == () and int(bn.num_batches_tracked.data) == 7
