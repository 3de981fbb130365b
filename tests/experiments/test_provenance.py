"""What an experiment's JSON says about how it was made: the CPU model read from /proc/cpuinfo, a command that
can be pasted back into a shell, the commit of this checkout.  Fast: nothing runs."""
import re
import shlex
import subprocess
from pathlib import Path

import nabla
from nabla.experiments.provenance import cpu_model, experiment_command, nabla_commit, provenance, utc_now

SOURCE = Path(nabla.__file__).resolve().parents[1]      # the folder holding the imported nabla package


def test_cpu_model_is_read_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Gold 6338\n")
    assert cpu_model(str(info)) == "Intel(R) Xeon(R) Gold 6338"


def test_command_is_shell_quoted_and_names_quick():
    command = experiment_command("vgg-depth", "runs/my results", quick=True)
    assert shlex.split(command) == ["nabla", "experiment", "vgg-depth", "--quick", "--out", "runs/my results"]
    assert "--quick" not in experiment_command("vgg-depth", "out", quick=False)


def test_commit_is_the_head_of_nablas_checkout_or_none():
    head = subprocess.run(["git", "-C", str(SOURCE), "rev-parse", "HEAD"], capture_output=True, text=True)
    top = subprocess.run(["git", "-C", str(SOURCE), "rev-parse", "--show-toplevel"], capture_output=True, text=True)
    checkout = head.returncode == 0 and Path(top.stdout.strip()).resolve() == SOURCE
    expected = head.stdout.strip() if checkout else None
    assert nabla_commit() == expected


def test_provenance_keys():
    record = provenance("toy", "out", quick=False)
    assert list(record) == ["date", "nabla_version", "commit", "machine", "command", "quick"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", utc_now()) and record["quick"] is False
    assert record["nabla_version"] and record["machine"]["cores"] >= 1
