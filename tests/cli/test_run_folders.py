"""Where a run writes: a fresh folder by default, an occupied --out refused, an unwritable --out refused
before any work, checkpoint files that follow the umask."""
import os
import shutil
import stat
import subprocess

import pytest

from .helpers import SMALL_MLP, assert_ok, assert_one_line_error, epoch_lines, nabla, show

LINEAR = ["linear-regression", "--epochs", "1", "--quiet"]


def _mentions(line: str, folder: str) -> bool:
    return folder in line


def test_each_run_gets_a_fresh_folder_printed_at_start_and_end(tmp_path):
    names = ["linear-regression-linear", "linear-regression-linear-2", "linear-regression-linear-3"]
    for name in names:
        res = assert_ok(nabla("train", *LINEAR, cwd=tmp_path))
        run = tmp_path / "runs" / name
        assert (run / "last.safetensors").is_file(), f"no {run}/last.safetensors" + show(res)
        lines = [ln for ln in res.stdout.splitlines() if ln.strip()]
        epochs = [i for i, ln in enumerate(lines) if ln in epoch_lines(res.stdout)]
        assert epochs, "no epoch line" + show(res)
        before = [ln for ln in lines[:epochs[0]] if _mentions(ln, f"runs/{name}")]
        after = [ln for ln in lines[epochs[-1] + 1:] if _mentions(ln, f"runs/{name}")]
        assert before, f"runs/{name} is not printed before training" + show(res)
        assert after, f"runs/{name} is not printed at the end" + show(res)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == names


def test_the_end_of_a_run_says_best_within_this_run(tmp_path, mnist5k):
    res = assert_ok(nabla("train", *SMALL_MLP, "--epochs", "1", cwd=tmp_path))
    assert any("best" in ln and "within this run" in ln for ln in res.stdout.splitlines()), show(res)


@pytest.mark.parametrize("holds", ["last.safetensors", "history.json"])
def test_an_out_folder_holding_a_run_is_refused(tmp_path, holds):
    out = tmp_path / "run"
    out.mkdir()
    (out / holds).write_bytes(b"{}" if holds.endswith(".json") else b"x")
    before = sorted(os.listdir(out))
    res = nabla("train", *LINEAR, "--out", out, cwd=tmp_path)
    line = assert_one_line_error(res, 2, str(out))
    assert "--resume" in line or "--overwrite" in line, "the refusal does not say how to go on" + show(res)
    assert not epoch_lines(res.stdout), "it trained before refusing" + show(res)
    assert sorted(os.listdir(out)) == before


def test_an_out_folder_holding_a_finished_run_needs_overwrite(tmp_path):
    out = tmp_path / "run"
    assert_ok(nabla("train", *LINEAR, "--out", out, cwd=tmp_path))
    assert_one_line_error(nabla("train", *LINEAR, "--out", out, cwd=tmp_path), 2, str(out))
    res = assert_ok(nabla("train", *LINEAR, "--out", out, "--overwrite", cwd=tmp_path))
    assert epoch_lines(res.stdout)


def test_an_empty_existing_out_folder_is_used(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    assert_ok(nabla("train", *LINEAR, "--out", out, cwd=tmp_path))
    assert (out / "last.safetensors").is_file()


def test_out_under_a_file_is_refused_before_any_training(tmp_path):
    res = nabla("train", *LINEAR, "--out", "/etc/passwd/run", cwd=tmp_path)
    assert_one_line_error(res, 2, "/etc/passwd/run")
    assert not epoch_lines(res.stdout) and not (tmp_path / "runs").exists(), show(res)


def test_experiment_out_under_a_file_is_refused(tmp_path):
    res = nabla("experiment", "linear-regression", "--quick", "--out", "/etc/passwd/run", cwd=tmp_path)
    assert_one_line_error(res, 2, "/etc/passwd/run")


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nothing can be written into: chattr +i as root (mode bits do not stop root), else mode 0o555."""
    d = tmp_path / "ro"
    d.mkdir()
    if os.geteuid() != 0:
        d.chmod(0o555)
        yield d
        d.chmod(0o755)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a folder read-only for root")
    r = subprocess.run(["chattr", "+i", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"chattr +i is not supported here ({r.stderr.strip()})")
    try:
        yield d
    finally:
        subprocess.run(["chattr", "-i", str(d)], check=True)


@pytest.mark.parametrize("sub", ["", "run"])
def test_a_read_only_out_is_refused_before_any_training(tmp_path, read_only_dir, sub):
    out = read_only_dir / sub if sub else read_only_dir
    res = nabla("train", *LINEAR, "--out", out, cwd=tmp_path)
    assert_one_line_error(res, 2, str(out))
    assert not epoch_lines(res.stdout), "it trained before refusing" + show(res)


def test_experiment_with_a_read_only_out_is_refused(tmp_path, read_only_dir):
    res = nabla("experiment", "linear-regression", "--quick", "--out", read_only_dir / "exp", cwd=tmp_path)
    assert_one_line_error(res, 2, str(read_only_dir / "exp"))


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o027, 0o640)])
def test_checkpoint_files_follow_the_umask(tmp_path, umask, mode):
    out = tmp_path / "run"
    assert_ok(nabla("train", *LINEAR, "--out", out, cwd=tmp_path, umask=umask))
    files = sorted(out.glob("*.safetensors"))
    assert files
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == mode, f"{f.name}: {oct(stat.S_IMODE(f.stat().st_mode))}"


def test_one_epoch_is_singular(tmp_path):
    res = assert_ok(nabla("train", *LINEAR, "--out", tmp_path / "run", cwd=tmp_path))
    assert "1 epochs" not in res.stdout + res.stderr, show(res)


def test_a_run_that_cannot_start_leaves_no_empty_folder(tmp_path, mnist5k):
    # width=0 is refused only when the model is built, after the run folder was claimed
    res = nabla("train", *SMALL_MLP, "--epochs", "1", "--set", "width=0", cwd=tmp_path)
    assert res.returncode == 2, show(res)
    runs = tmp_path / "runs"
    assert not runs.exists() or not list(runs.iterdir()), f"left behind: {list(runs.iterdir())}" + show(res)
