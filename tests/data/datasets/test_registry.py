import pytest

from nabla.data import get_dataset, list_datasets
from nabla.data.datasets import MNIST5k, cache


def test_list_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("NABLA_DATA", str(tmp_path))
    rows = {r["name"]: r for r in list_datasets()}
    assert set(rows) >= {"mnist", "fashion-mnist", "mnist-5k", "digits"}
    assert (rows["mnist"]["train"], rows["mnist"]["test"]) == (60000, 10000)
    assert (rows["fashion-mnist"]["train"], rows["fashion-mnist"]["test"]) == (60000, 10000)
    assert (rows["mnist-5k"]["train"], rows["mnist-5k"]["test"]) == (4000, 1000)
    assert (rows["digits"]["train"], rows["digits"]["test"]) == (3823, 1797)
    assert rows["mnist"]["shape"] == (1, 28, 28) and rows["digits"]["num_classes"] == 10
    assert all(isinstance(r["present"], bool) and r["description"] and r["install"] for r in rows.values())
    monkeypatch.setattr(cache, "package_dir", lambda name: None)
    assert not {r["name"]: r for r in list_datasets()}["mnist"]["present"]


def test_get_dataset_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("NABLA_DATA", str(tmp_path))
    with pytest.raises(ValueError, match="unknown data set 'cifar'; valid names: mnist, fashion-mnist"):
        get_dataset("cifar")
    if not MNIST5k.is_present():
        pytest.skip(f"MNIST-5k is not installed here; install it with: {MNIST5k.install_hint()}")
    assert len(get_dataset("MNIST5K", train=False)) == 1000
