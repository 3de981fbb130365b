"""Keep benchmarks/ working: each workload's nabla step runs (1-2 iterations), both frameworks compute
the same first-step value, and the worker CLI prints its JSON.  No timing assertions: speed is
measured by ``python -m benchmarks``, not by tests."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.harness import summarize, worker_env
from benchmarks.workloads import MISSING_FEATURE, WORKLOADS, Workload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = sorted(WORKLOADS)


def _nabla_step(name):
    w = WORKLOADS[name]
    cfg = w.make_config()
    try:
        step = w.setup("nabla", cfg)
        out = step()
    except MISSING_FEATURE as e:
        pytest.skip(f"{name}: nabla lacks what this workload needs: {type(e).__name__}: {e}")
    return w, cfg, step, out


@pytest.mark.parametrize("name", NAMES)
def test_nabla_step_runs(name):
    w, cfg, step, out = _nabla_step(name)
    out2 = step()
    for o in (out, out2):
        assert np.all(np.isfinite(np.asarray(o.data))), f"{name}: non-finite result {o}"


@pytest.mark.parametrize("name", NAMES)
def test_same_first_step_as_torch(name):
    """Both set-ups build the same model from the same arrays: their first step gives the same value."""
    torch = pytest.importorskip("torch")
    w, cfg, _, out = _nabla_step(name)
    with torch.random.fork_rng():
        ref = w.setup("torch", cfg)()
    np.testing.assert_allclose(np.asarray(out.data, dtype=np.float64),
                               ref.detach().numpy().astype(np.float64), rtol=2e-4, atol=1e-5,
                               err_msg=f"{name}: nabla and torch set-ups disagree (config {cfg})")


def test_worker_cli_prints_json():
    cmd = [sys.executable, "-m", "benchmarks.worker", "--framework", "nabla", "--workload", "add_1elem",
           "--iters", "2", "--repeats", "1", "--warmup", "1"]
    proc = subprocess.run(cmd, cwd=ROOT, env=worker_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "error" not in result, result
    assert result["iters"] == 2 and len(result["times"]) == 1 and result["median"] > 0
    assert "OPENBLAS_CORETYPE" not in result["info"]["openblas_env"]


def test_summarize_takes_the_median_ratio_of_pairs():
    w = Workload("fake", goal=1.0, description="", nabla=None, torch=None, per=(10, "add"))
    nabla = [{"median": m} for m in (2.0, 3.0, 9.0)]
    torch = [{"median": m} for m in (2.0, 2.0, 3.0)]
    s = summarize(w, nabla, torch)
    assert s["ratios"] == [1.0, 1.5, 3.0] and s["ratio"] == 1.5 and not s["pass"]
    assert s["nabla_s"] == pytest.approx(0.3) and s["torch_s"] == pytest.approx(0.2)
