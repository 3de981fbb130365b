"""`nabla train` under mpiexec: a tiny MLP on MNIST-5k with 2 ranks end to end (one set of lines, rank 0's files,
the printed test accuracy equal to `nabla eval` of the checkpoint), resumed on 3 ranks and on 1 process (the
global step continues, a note on the effective batch), `--nproc`, ranks that disagree, a task that refuses, a rank
that raises and a rank that is killed (every rank ends, within the test's time limit), MPI missing."""
import json
import os
import subprocess
import sys

import pytest

from nabla.comm import MPIUnavailableError
from nabla.distributed import launcher

from ..cli.helpers import MNIST5K, nabla, show, skip_unless_dataset
from .mpi_helpers import REPO, mpiexec, run_ranks

TINY = ["mlp", "--dataset", "mnist-5k", "--set", "width=16", "--set", "depth=1", "--quiet", "--no-download",
        "--batch-size", "32"]


def _env():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    for name in ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "NABLA_DEBUG"):
        env.pop(name, None)
    return env


def mpi_nabla(n, *args, cwd, timeout=180):
    cmd = [mpiexec(), "-n", str(n), sys.executable, "-m", "nabla.cli", "train", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), cwd=str(cwd))


@pytest.fixture
def mnist5k():
    mpiexec()
    skip_unless_dataset(*MNIST5K)


def _steps(folder):
    return json.loads((folder / "history.json").read_text())["step"]


def test_two_ranks_end_to_end_then_resumed_on_three_and_on_one(mnist5k, tmp_path):
    res = mpi_nabla(2, *TINY, "--max-steps", "20", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, show(res)
    out = res.stdout
    assert out.count("training mlp") == 1 and "batch 32 per process x 2 processes = effective batch 64" in out, out
    assert sorted(os.listdir(tmp_path)) == ["run"], os.listdir(tmp_path)  # no folder of another rank
    assert {"last.safetensors", "history.json", "test.json"} <= set(os.listdir(tmp_path / "run"))
    assert (tmp_path / "run" / "command.txt").read_text() == "mpiexec -n 2 nabla train " + " ".join(
        [*TINY, "--max-steps", "20", "--out", "run"]) + "\n"  # once, by rank 0, as the user typed it
    printed = [line for line in out.splitlines() if line.startswith("test accuracy")]
    assert len(printed) == 1
    ev = nabla("eval", "run/last.safetensors", "--no-download", cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"})
    assert ev.returncode == 0, show(ev)
    words = printed[0].split()  # "test accuracy (last weights): 84.30%  (test loss 0.5801, training time ..."
    assert f"accuracy {words[4]}, loss {words[7].rstrip(',')}" in ev.stdout, (printed, ev.stdout)

    res = mpi_nabla(3, "--resume", "run/last.safetensors", "--max-steps", "30", "--quiet", "--no-download",
                    cwd=tmp_path)
    assert res.returncode == 0, show(res)
    assert "written by 2 processes (effective batch 64); this run has 3 (effective batch 96)" in res.stdout
    assert "continues from 20" in res.stdout and "x 3 processes = effective batch 96" in res.stdout
    res = nabla("train", "--resume", "run/last.safetensors", "--max-steps", "35", "--quiet", "--no-download",
                cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"})
    assert res.returncode == 0, show(res)
    assert "written by 3 processes (effective batch 96); this run has 1 (effective batch 32)" in res.stdout
    assert _steps(tmp_path / "run") == [20, 30, 35]


def test_nproc_launches_mpiexec_with_sync_batchnorm(mnist5k, tmp_path):
    res = nabla("train", *TINY, "--set", "batch_norm=true", "--sync-bn", "--max-steps", "4", "--nproc", "2", "--bucket-cap-mb", "0.5",
                "--out", "run", cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"}, timeout=180)
    assert res.returncode == 0, show(res)
    assert "x 2 processes = effective batch 64" in res.stdout and res.stdout.count("run folder: run") == 2
    config = json.loads(subprocess.run([sys.executable, "-c", "import json, nabla.train as t; print(json.dumps("
                                        "t.load_checkpoint('run/last.safetensors')['config']))"], cwd=tmp_path,
                                       capture_output=True, text=True, env=_env()).stdout)
    assert config["settings"]["sync_bn"] is True and config["world_size"] == 2 and config["bucket_cap_mb"] == 0.5
    ev = nabla("eval", "run/last.safetensors", "--no-download", cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"})
    printed = [line for line in res.stdout.splitlines() if line.startswith("test accuracy")][0].split()
    assert f"accuracy {printed[4]}, loss {printed[7].rstrip(',')}" in ev.stdout, (printed, show(ev))


def test_ranks_that_disagree_stop_with_one_line(mnist5k, tmp_path):
    base = [sys.executable, "-m", "nabla.cli", "train", *TINY, "--max-steps", "2", "--out", "run"]
    cmd = [mpiexec(), "-n", "1", *base, "--set", "width=16", ":", "-n", "1", *base, "--set", "width=17"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=_env(), cwd=str(tmp_path))
    assert res.returncode == 2, show(res)
    errors = [line for line in res.stderr.splitlines() if line.startswith("nabla train: error")]
    assert len(errors) == 1 and "differs between ranks" in errors[0] and "rank 1" in errors[0], show(res)


REFUSING = """
import sys
from nabla.train.tasks import get_task
get_task("binary").data_parallel = False  # stands for a task whose figures cannot be split over ranks
from nabla.cli import main
sys.exit(main(["train", "mlp", "--dataset", "mnist-5k-odd-even", "--no-download", "--max-steps", "1", "--out", "run"]))
"""


def test_a_task_without_data_parallelism_refuses(mnist5k, tmp_path):
    """Every task of the zoo trains data-parallel; a task that does not say it can (``Task.data_parallel``) is
    refused in one line before any rank writes anything."""
    res = run_ranks(2, REFUSING, tmp_path)
    assert res.returncode == 2, show(res)
    assert res.stderr.count("data parallelism is not supported for the binary task yet") == 1, show(res)
    assert not (tmp_path / "run").exists() or not os.listdir(tmp_path / "run")


FAILING_RANK = """
import os, signal, sys
from nabla import comm
from nabla.train.steps import classification
how = sys.argv[1]
original = classification.SupervisedStep.train_step
def train_step(self, batch):
    if comm.rank() == 1 and self.trainer.global_step == 3:
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        raise OSError(28, "No space left on device")
    return original(self, batch)
classification.SupervisedStep.train_step = train_step
from nabla.cli import main
sys.exit(main(["train", "mlp", "--dataset", "mnist-5k", "--set", "width=8", "--set", "depth=1", "--quiet",
               "--no-download", "--max-steps", "50", "--out", "run"]))
"""


@pytest.mark.parametrize("how", ["raise", "kill"])
def test_a_failing_rank_ends_every_rank(mnist5k, how, tmp_path):
    out = run_ranks(2, FAILING_RANK, tmp_path, timeout=120, args=[how])  # a hang would raise TimeoutExpired
    assert out.returncode != 0, out.stdout
    if how == "raise":
        errors = [line for line in out.stderr.splitlines() if line.startswith("nabla train: error")]
        assert errors == ["nabla train: error: rank 1 of 2 failed: [Errno 28] No space left on device"], out.stderr
    else:
        assert "BAD TERMINATION" in out.stdout + out.stderr and "signal 9" in out.stdout + out.stderr, out.stdout


def test_mpi_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(launcher.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(MPIUnavailableError, match=r'--nproc 2 needs MPI, but mpi4py is not installed: pip install'):
        launcher.check_mpi(2)
    monkeypatch.undo()
    if launcher.importlib.util.find_spec("mpi4py") is not None:
        with pytest.raises(MPIUnavailableError, match="needs an MPI launcher"):
            launcher.check_mpi(3, python=str(tmp_path / "python"), path=str(tmp_path))
    assert launcher.command("/x/mpiexec", 2, ["train", "mlp"], python="py") == [
        "/x/mpiexec", "-n", "2", "py", "-m", "nabla.cli", "train", "mlp"]
    assert launcher.environment(2, {})["OPENBLAS_NUM_THREADS"] == str(max(1, (os.cpu_count() or 1) // 2))
    assert launcher.environment(2, {"OMP_NUM_THREADS": "4"}) == {"OMP_NUM_THREADS": "4"}


def test_started_by_mpiexec_without_mpi4py_is_one_line(tmp_path):
    fake = tmp_path / "mpi4py"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('No module named mpi4py (hidden for this test)')\n")
    res = nabla("train", "mlp", "--dataset", "sine", "--max-steps", "1", "--out", "run", cwd=tmp_path,
                env={"PMI_SIZE": "2", "PMI_RANK": "0"}, pythonpath=[tmp_path])
    assert res.returncode == 1, show(res)
    assert res.stderr.strip().count("\n") == 0 and "mpi4py cannot be imported" in res.stderr, show(res)
    assert 'pip install "nabla[mpi]"' in res.stderr
