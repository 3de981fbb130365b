import pytest


@pytest.fixture(scope="session")
def text_cache_dir(tmp_path_factory):
    """One cache folder for the text tests: each SWORD module is decoded once per session, not per file."""
    return tmp_path_factory.mktemp("text-cache")


@pytest.fixture(autouse=True)
def _text_cache(text_cache_dir, monkeypatch):
    """$NABLA_DATA is the text cache for each test here, and restored after it (never for tests elsewhere)."""
    monkeypatch.setenv("NABLA_DATA", str(text_cache_dir))
