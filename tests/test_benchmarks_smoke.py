"""Keep benchmarks/ working: each workload's nabla step runs (two iterations), both frameworks compute
the same first-step value, and the worker CLI prints its JSON.  No timing assertions: speed is
measured by ``python -m benchmarks``, not by tests.  A heavy workload can shrink itself here through
``Workload(smoke={...})``, config overrides its set-up functions read."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.harness import summarize, worker_env
from benchmarks.workloads import MISSING_FEATURE, WORKLOADS, Workload

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_workload_step(name):
    """The nabla step runs twice with finite results, and its first value equals PyTorch's: both
    set-ups build the same model from the same arrays."""
    w = WORKLOADS[name]
    cfg = w.make_config(smoke=True)
    try:
        step = w.setup("nabla", cfg)
        out = step()
    except MISSING_FEATURE as e:
        pytest.skip(f"{name}: nabla lacks what this workload needs: {type(e).__name__}: {e}")
    first = np.array(out.data, dtype=np.float64)
    out2 = step()
    for o in (first, np.asarray(out2.data)):
        assert np.all(np.isfinite(o)), f"{name}: non-finite result {o}"
    try:
        import torch
    except ImportError:
        return
    try:
        with torch.random.fork_rng():
            ref = w.setup("torch", cfg)()
    except ImportError as e:  # e.g. torchvision's compiled kernels, which load only in another environment
        pytest.skip(f"{name}: the nabla step runs; PyTorch's side cannot run here: {e}")
    np.testing.assert_allclose(first, ref.detach().numpy().astype(np.float64), rtol=2e-4, atol=1e-5,
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


def test_numpy_floor_gradients_equal_nablas():
    """The hand-written NumPy reference (the floor benchmark) computes the same loss and gradients as
    nabla's autograd on the same MLP, so the floor it measures is for the same work."""
    import nabla as nb
    from benchmarks.workloads.mlp import _data, numpy_forward_backward
    params, x, y = _data("in_out")
    loss, grads = numpy_forward_backward(params, x, y)
    tensors = [(nb.tensor(w, requires_grad=True), nb.tensor(b, requires_grad=True)) for w, b in params]
    h = nb.tensor(x)
    for i, (w, b) in enumerate(tensors):
        h = h @ w + b
        if i < len(tensors) - 1:
            h = h.relu()
    ref = nb.nn.functional.cross_entropy(h, nb.tensor(y))
    ref.backward()
    assert abs(float(loss) - ref.item()) < 1e-5
    for (dw, db), (w, b) in zip(grads, tensors):
        np.testing.assert_allclose(dw, w.grad.data, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(db, b.grad.data, rtol=1e-4, atol=1e-6)
