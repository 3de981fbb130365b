import pytest


@pytest.fixture(scope="session", autouse=True)
def _text_cache(tmp_path_factory):
    """One cache folder for the text tests: each SWORD module is decoded once per session, not per file."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NABLA_DATA", str(tmp_path_factory.mktemp("text-cache")))
        yield
