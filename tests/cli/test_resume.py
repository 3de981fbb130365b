"""`nabla train --resume CKPT`: the checkpoint alone continues the run; contradicting flags are refused;
more epochs re-plan the schedule; the history keeps the earlier epochs."""
import csv
import json
import math
import re
import shutil

import numpy as np
import pytest

from .helpers import (MNIST5K, assert_ok, assert_one_line_error, epoch_lines, nabla, show, skip_unless_dataset)

BASE_LR = 0.05
# a run whose settings all differ from mlp's defaults, so a resume that forgets one is caught
FIRST = ["mlp", "--dataset", "mnist-5k", "--set", "width=16", "--set", "depth=1", "--optimizer", "sgd",
         "--lr", str(BASE_LR), "--batch-size", "64", "--seed", "3", "--scheduler", "cosine", "--quiet", "--no-download"]


def _weights(path) -> dict:
    from safetensors.numpy import load_file
    return {k: v for k, v in load_file(str(path)).items() if k.startswith("model.")}


def _history_json(run) -> dict:
    return json.loads((run / "history.json").read_text())


def _history_csv(run) -> list:
    with open(run / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One 1-epoch run, resumed alone to 2 epochs; one 2-epoch run, extended to 3; one straight 2-epoch run."""
    skip_unless_dataset(*MNIST5K)
    root = tmp_path_factory.mktemp("resume")
    r = {"root": root}
    r["one"] = assert_ok(nabla("train", *FIRST, "--epochs", "1", "--out", root / "a", cwd=root))
    r["a_epoch1"] = _weights(root / "a" / "last.safetensors")
    r["resumed"] = nabla("train", "--resume", root / "a" / "last.safetensors", "--epochs", "2", "--quiet",
                         cwd=root)
    r["straight"] = assert_ok(nabla("train", *FIRST, "--epochs", "2", "--out", root / "s", cwd=root))
    shutil.copytree(root / "s", root / "b")
    r["extended"] = nabla("train", "--resume", root / "b" / "last.safetensors", "--epochs", "3", "--quiet",
                          cwd=root)
    return r


def test_resume_alone_continues_in_the_checkpoints_folder(runs):
    root, res = runs["root"], assert_ok(runs["resumed"])
    assert not (root / "runs").exists(), "a resumed run wrote a new runs/ folder instead of its own" + show(res)
    assert len(_history_json(root / "a")["loss"]) == 2, show(res)
    banner = res.stdout
    for token in ("mlp", "mnist-5k", "sgd", "batch 64"):
        assert token in banner, f"the resumed run does not say {token!r}" + show(res)
    params = re.search(r"([\d,]+) parameters", runs["one"].stdout)
    if params:
        assert f"{params.group(1)} parameters" in banner, "the model options were not restored" + show(res)


def test_resume_alone_matches_an_uninterrupted_run(runs):
    """1 epoch planned for 1, then extended to 2, is the 2-epoch plan (cosine: base lr, then half), with the
    data order and every setting restored: the weights are those of the straight 2-epoch run."""
    assert_ok(runs["resumed"])
    a, s = _weights(runs["root"] / "a" / "last.safetensors"), _weights(runs["root"] / "s" / "last.safetensors")
    assert set(a) == set(s)
    differ = [k for k in a if not np.array_equal(a[k], s[k])]
    assert not differ, f"resumed weights differ from the uninterrupted run's: {differ}"


@pytest.mark.parametrize("flags,given,recorded", [
    (["lenet5"], "lenet5", "mlp"),
    (["--dataset", "digits"], "digits", "mnist-5k"),
    (["--optimizer", "adam"], "adam", "sgd"),
    (["--set", "width=32"], "32", "16"),
    (["--batch-size", "128"], "128", "64"),
])
def test_a_flag_contradicting_the_checkpoint_is_refused(runs, tmp_path, flags, given, recorded):
    ckpt = runs["root"] / "a" / "last.safetensors"
    before = ckpt.read_bytes()
    args = ["train"] + (flags[:1] if not flags[0].startswith("-") else []) + ["--resume", ckpt, "--epochs", "5"]
    args += [f for f in flags if flags[0].startswith("-")]
    res = nabla(*args, "--quiet", "--no-download", cwd=tmp_path)
    assert_one_line_error(res, 2, given, recorded)
    assert not epoch_lines(res.stdout) and ckpt.read_bytes() == before


def test_flags_that_agree_with_the_checkpoint_are_accepted(runs, tmp_path):
    src = runs["root"] / "a"
    run = tmp_path / "a"
    shutil.copytree(src, run)
    res = assert_ok(nabla("train", "mlp", "--dataset", "mnist-5k", "--optimizer", "sgd", "--set", "width=16",
                          "--batch-size", "64", "--resume", run / "last.safetensors", "--epochs", "3", "--quiet",
                          "--no-download", cwd=tmp_path))
    assert len(_history_json(run)["loss"]) == 3, show(res)


def test_more_epochs_replan_the_cosine_schedule(runs):
    res = assert_ok(runs["extended"])
    lr = _history_json(runs["root"] / "b")["lr"]
    assert len(lr) == 3, show(res)
    assert lr[:2] == _history_json(runs["root"] / "s")["lr"]
    expected = BASE_LR * (1 + math.cos(math.pi * 2 / 3)) / 2
    assert lr[2] == pytest.approx(expected, rel=1e-6) and lr[2] > 0, (lr, expected)


def test_history_csv_keeps_the_earlier_epochs_and_counts_from_one(runs):
    assert_ok(runs["extended"])
    rows = _history_csv(runs["root"] / "b")
    assert [int(float(r["epoch"])) for r in rows] == [1, 2, 3]
    first = _history_csv(runs["root"] / "s")
    assert [r["loss"] for r in rows[:2]] == [r["loss"] for r in first]
    assert float(rows[2]["lr"]) == pytest.approx(BASE_LR * (1 + math.cos(math.pi * 2 / 3)) / 2, rel=1e-6)


def test_the_console_epochs_count_from_one_after_a_resume(runs):
    res = assert_ok(runs["extended"])
    numbers = [int(re.match(r"\s*epoch\s+(\d+)", ln, re.IGNORECASE).group(1)) for ln in epoch_lines(res.stdout)]
    assert numbers == [3], show(res)


def test_resuming_a_finished_run_says_it_is_complete(runs, tmp_path):
    run = tmp_path / "s"
    shutil.copytree(runs["root"] / "s", run)
    ckpt = run / "last.safetensors"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    res = assert_ok(nabla("train", "--resume", ckpt, "--quiet", "--no-download", cwd=tmp_path))
    assert "complete" in res.stdout.lower(), show(res)
    assert not epoch_lines(res.stdout), show(res)
    named = set(re.findall(r"\S+\.safetensors", res.stdout + res.stderr))
    assert named <= {str(ckpt)}, f"it names checkpoints it did not write: {named - {str(ckpt)}}" + show(res)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_the_run_folder_keeps_each_sessions_command(runs):
    """command.txt: the command that started the run, then the resume's, as typed; test.json the last one."""
    root = runs["root"]
    lines = (root / "a" / "command.txt").read_text().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("nabla train mlp --dataset mnist-5k") and lines[0].endswith(f"--out {root / 'a'}")
    assert lines[1] == f"nabla train --resume {root / 'a' / 'last.safetensors'} --epochs 2 --quiet"
    assert json.loads((root / "a" / "test.json").read_text())["command"] == lines[1]
