"""``nabla train char-gru --dataset kjv`` on 2 ranks (mpiexec): one set of lines, the effective batch, the
carried state of both ranks' rows in the checkpoint, the validation and test losses of a one-process
evaluation of the checkpoint, and a resume on 1 process (skipped without sword-text-kjv)."""
import json

import pytest

from ..cli.helpers import KJV, dataset_present
from .test_cli_ddp import mpi_nabla


LM = ["char-gru", "--dataset", "kjv", "--set", "hidden_size=8", "--set", "embed_dim=4", "--batch-size", "4",
      "--seq-len", "16", "--eval-tokens", "500", "--eval-limit", "2000", "--length", "20", "--num-samples", "1",
      "--quiet", "--no-download"]


@pytest.mark.skipif(not dataset_present(KJV[0]), reason=f"kjv is not installed here ({KJV[1]})")
def test_lm_on_two_ranks_reports_one_process_figures_and_resumes_on_one(tmp_path):
    from nabla.data.datasets import get_dataset
    from nabla.train import run as runs
    from nabla.train.steps.language_model import evaluate_lm
    res = mpi_nabla(2, *LM, "--max-steps", "4", "--eval-every", "2", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    out = res.stdout
    assert "batch 4 per process x 2 processes = effective batch 8" in out and out.count("--- sample 1") == 1, out
    model, _, state = runs.rebuild_from_checkpoint(tmp_path / "run" / "last.safetensors")
    assert state["carry"]["arrays"][0].shape == (1, 8, 8)  # the carried state of both ranks' rows
    val, test = (get_dataset("kjv", split=s, download=False).ids for s in ("valid", "test"))
    report = json.loads((tmp_path / "run" / "test.json").read_text())
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert report["val_loss"] == pytest.approx(evaluate_lm(model, val, seq_len=16, max_tokens=2000), rel=1e-6)
    assert report["test_loss"] == pytest.approx(evaluate_lm(model, test, seq_len=16, max_tokens=2000), rel=1e-6)
    assert history["val_loss"][-1] == pytest.approx(evaluate_lm(model, val, seq_len=32, max_tokens=500), rel=1e-6)
    assert f"test loss {report['test_loss']:.4f} nats/char" in out, out
    one = mpi_nabla(1, "--resume", "run/last.safetensors", "--max-steps", "6", "--quiet", "--no-download",
                    cwd=tmp_path)
    assert one.returncode == 0 and "Traceback" not in one.stderr, one.stdout + one.stderr
    assert "written by 2 processes (effective batch 8); this run has 1 (effective batch 4)" in one.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"] == [2, 4, 6]
