"""One report built as a user builds it, shared by the report's tests: two quick experiments (`nabla experiment
NAME --quick`), a short linear-regression training run (generated data, no download) and, where MNIST-5k is
installed, a five-step VAE run (its samples.png), then `nabla report` over their folders."""
from __future__ import annotations

import pytest

from ..cli.helpers import assert_ok, dataset_present, nabla
from .helpers import nabla_report

EXPERIMENTS = ("linear-regression", "local-minima")   # the quickest `--quick` experiments (a second or two each)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """``(work folder, site folder)`` after the runs and the report."""
    work = tmp_path_factory.mktemp("report-work")
    for name in EXPERIMENTS:
        assert_ok(nabla("experiment", name, "--quick", "--out", "runs/experiments", cwd=work))
    assert_ok(nabla("train", "linear-regression", "--epochs", "3", "--quiet", "--out", "runs/lin", cwd=work))
    if dataset_present("binarized-mnist-5k"):
        assert_ok(nabla("train", "vae", "--dataset", "binarized-mnist-5k", "--max-steps", "5", "--eval-limit", "32",
                        "--quiet", "--no-download", "--out", "runs/vae", cwd=work))
    assert_ok(nabla_report("runs", "--out", "site", cwd=work))
    return work, work / "site"
