"""Small parts of the public API that carry PyTorch's names: from_numpy, save/load, allclose/isclose,
Tensor.cpu, nabla.utils.data, what ``import nabla`` exposes, and how tensors print."""
import os
import subprocess
import sys

import numpy as np
import pytest

import nabla as nb
from nabla import nn


# ---------------------------------------------------------------------- from_numpy
def test_from_numpy_shares_memory_without_a_graph():
    a = np.arange(3.0)
    t = nb.from_numpy(a)
    a[0] = 7.0
    assert t.data is a and t[0].item() == 7.0 and not t.requires_grad and t.grad_fn is None
    from nabla.autograd import from_numpy
    assert from_numpy is nb.from_numpy


def test_from_numpy_wants_an_array():
    with pytest.raises(TypeError, match="from_numpy: expected an ndarray, got list"):
        nb.from_numpy([1.0, 2.0])


# ---------------------------------------------------------------------- save / load
def test_save_load_roundtrip_of_tensors_and_state_dicts(tmp_path):
    nb.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    opt = nb.optim.Adam(model.parameters())
    model(nb.randn(5, 3)).sum().backward()
    opt.step()
    path = tmp_path / "state.safetensors"
    nb.save({"model": model.state_dict(), "optim": opt.state_dict(), "x": nb.tensor([1.0, 2.0], requires_grad=True),
             "n": nb.tensor(3), "note": ("a", 1.5)}, path)
    back = nb.load(path)
    assert isinstance(back["x"], nb.Tensor) and back["x"].requires_grad and back["n"].shape == ()
    assert back["note"] == ("a", 1.5)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fresh.load_state_dict(back["model"])
    for (k, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=k)
    assert back["optim"]["state"][0]["exp_avg"].shape == (4, 3)  # int keys come back as ints
    nb.save(nb.arange(4), tmp_path / "t.safetensors")
    np.testing.assert_array_equal(nb.load(tmp_path / "t.safetensors").data, np.arange(4))


def test_saved_files_get_the_usual_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        nb.save(nb.ones(2), tmp_path / "a.safetensors")
    finally:
        os.umask(old)
    assert (tmp_path / "a.safetensors").stat().st_mode & 0o777 == 0o640


def test_load_refuses_what_nabla_did_not_write(tmp_path):
    import pickle
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(nb.serialization.SerializationError, match="corrupt or truncated"):
        nb.load(evil)
    from safetensors.numpy import save_file
    save_file({"a": np.ones(2)}, str(tmp_path / "other.safetensors"), metadata={"format": "pt"})
    other = nb.load(tmp_path / "other.safetensors")   # another library's weights: a flat dict of arrays
    assert list(other) == ["a"] and isinstance(other["a"], np.ndarray) and other["a"].tolist() == [1.0, 1.0]
    with pytest.raises(nb.serialization.SerializationError, match="not a nabla file"):
        nb.serialization.read(tmp_path / "other.safetensors")  # where a nabla file is required
    with pytest.raises(nb.serialization.SerializationError, match="does not exist"):
        nb.load(tmp_path / "missing.safetensors")
    with pytest.raises(TypeError, match="save: cannot store a value of type object"):
        nb.save({"x": object()}, tmp_path / "x.safetensors")


def test_checkpoints_and_save_share_one_format(tmp_path):
    from nabla.train.checkpoint import load_checkpoint, save_checkpoint
    save_checkpoint(tmp_path / "c.safetensors", {"w": np.ones(2), "epoch": 3})
    assert nb.load(tmp_path / "c.safetensors")["epoch"] == 3
    nb.save({"w": nb.ones(2)}, tmp_path / "s.safetensors")
    np.testing.assert_array_equal(load_checkpoint(tmp_path / "s.safetensors")["w"], np.ones(2))


# ---------------------------------------------------------------------- allclose, cpu
def test_allclose_and_isclose():
    a = nb.tensor([1.0, 2.0, float("nan")])
    b = nb.tensor([1.0 + 1e-7, 2.1, float("nan")])
    assert nb.isclose(a, b).tolist() == [True, False, False]
    assert nb.isclose(a, b, equal_nan=True, rtol=0.1).tolist() == [True, True, True]
    assert nb.allclose(a[:1], b[:1]) is True and nb.allclose(a, b) is False and a[:1].allclose(b[:1])
    with pytest.raises(ValueError, match=r"isclose: shapes \(3,\) and \(2,\) cannot be broadcast"):
        nb.allclose(a, nb.ones(2))


def test_cpu_is_the_tensor_itself():
    t = nb.ones(2)
    assert t.cpu() is t and t.device == "cpu"


# ---------------------------------------------------------------------- namespaces
def test_utils_data_is_data():
    import nabla.utils.data
    from nabla.utils.data import DataLoader
    from nabla.utils.data.sampler import RandomSampler
    assert nabla.utils.data is nb.data and DataLoader is nb.data.DataLoader
    assert RandomSampler is nb.data.RandomSampler


def test_import_nabla_exposes_no_helpers():
    code = "import nabla; print(hasattr(nabla, 'np'), hasattr(nabla, 'annotations'), hasattr(nabla, 'shape'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


# ---------------------------------------------------------------------- printing
@pytest.mark.parametrize("make,text", [
    (lambda: nb.tensor([1.0, 2.0, 3.0]), "tensor([1., 2., 3.])"),
    (lambda: nb.tensor([[1.0, 2.5], [300.0, 4.0]]), "tensor([[  1.0000,   2.5000],\n        [300.0000,   4.0000]])"),
    (lambda: nb.tensor(3.5), "tensor(3.5000)"),
    (lambda: nb.tensor(3), "tensor(3)"),
    (lambda: nb.tensor([True, False]), "tensor([ True, False])"),
    (lambda: nb.tensor([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: nb.tensor([float("nan"), float("inf"), 1.0]), "tensor([nan, inf, 1.])"),
    (lambda: nb.tensor([[1, -2], [300, 4]]), "tensor([[  1,  -2],\n        [300,   4]])"),
    (lambda: nb.zeros(0, 3), "tensor([], size=(0, 3))"),
    (lambda: nb.tensor([1.0, 2.0], dtype=np.float64), "tensor([1., 2.], dtype=nabla.float64)"),
    (lambda: nb.tensor([1, 2], dtype=np.int32), "tensor([1, 2], dtype=nabla.int32)"),
    (lambda: nb.tensor([1.0, 2.0], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: nb.tensor([1.0, 2.0], requires_grad=True) * 2, "tensor([2., 4.], grad_fn=<MulBackward0>)"),
    (lambda: nb.arange(2000.0),
     "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n        1.9990e+03])"),
])
def test_tensors_print_like_pytorch(make, text):
    assert repr(make()) == text and str(make()) == text
