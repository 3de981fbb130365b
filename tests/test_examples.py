"""The example scripts run, and say what they claim."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import nabla as nb

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _run(script, *args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_three_gradients_agree():
    rows = json.loads(_run("three_gradients.py", "--n", "60", "--repeat", "1", "--json"))
    by = {r["method"]: r for r in rows}
    assert set(by) == {"hand-derived (notes)", "forward difference", "central difference",
                       "autodiff (reverse mode)"}
    assert by["hand-derived (notes)"]["error"] < 1e-12
    assert by["central difference"]["error"] < 1e-7
    assert by["forward difference"]["error"] < 1e-4
    # forward differences are O(h), central O(h^2): central must be much closer
    assert by["central difference"]["error"] < by["forward difference"]["error"] / 10
    for r in rows:
        assert r["seconds"] >= 0
        assert abs(r["dw"] - by["autodiff (reverse mode)"]["dw"]) <= max(r["error"], 1e-12)


def test_three_gradients_prints_a_table():
    out = _run("three_gradients.py", "--n", "40", "--repeat", "1")
    for word in ("method", "dMSE/dw", "dMSE/db", "error", "time", "hand-derived", "forward difference",
                 "central difference", "autodiff"):
        assert word in out
    table = [line for line in out.splitlines() if line.startswith(("hand", "forward", "central", "autodiff"))]
    assert len(table) == 4


def test_three_gradients_importable_and_hand_formula_matches_autodiff():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import three_gradients as tg
    finally:
        sys.path.remove(str(EXAMPLES))
    x, y = tg.make_data(30, seed=1)
    xt, yt = nb.tensor(x, dtype=nb.float64), nb.tensor(y, dtype=nb.float64)
    np.testing.assert_allclose(tg.hand_gradient(0.2, -0.4, x, y), tg.autodiff_gradient(0.2, -0.4, xt, yt),
                               rtol=1e-12)
