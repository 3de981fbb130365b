"""examples/ddp_mnist.py, the loop a user writes: on 2 ranks with batch B every rank ends with the same weights,
and those of one process with batch 2B (float32: to rounding); rank 0 alone saves them."""
import json
import os
import subprocess
import sys

import pytest

from ..cli.helpers import MNIST5K, skip_unless_dataset
from .mpi_helpers import REPO, mpiexec

ARGS = ["--dataset", "mnist-5k", "--width", "16", "--max-steps", "12", "--json"]


def _run(prefix, *args, cwd):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([*prefix, sys.executable, str(REPO / "examples" / "ddp_mnist.py"), *ARGS, *args],
                         capture_output=True, text=True, timeout=180, env=env, cwd=str(cwd))
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1]), res.stdout


def test_two_ranks_equal_one_process_with_twice_the_batch(tmp_path):
    launcher = mpiexec()
    skip_unless_dataset(*MNIST5K)
    ranks, text = _run([launcher, "-n", "2"], "--batch-size", "32", "--save", "w.safetensors", cwd=tmp_path)
    one, _ = _run([], "--batch-size", "64", "--save", "", cwd=tmp_path)
    assert "2 process(es) x batch 32 = effective batch 64" in text
    assert [r["world_size"] for r in ranks] == [2, 2] and ranks[0] == ranks[1]
    assert ranks[0]["steps"] == one[0]["steps"] == 12
    assert ranks[0]["weights_sum"] == pytest.approx(one[0]["weights_sum"], rel=1e-4, abs=1e-3)
    assert ranks[0]["accuracy"] == pytest.approx(one[0]["accuracy"], abs=0.005)
    assert os.listdir(tmp_path) == ["w.safetensors"]
