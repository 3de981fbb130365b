"""`nabla experiment all`: every experiment in the notes' order into one folder, a failure in one line while the
rest go on (exit code 1), a summary table, then the report.  In-process, over a registry cut down to two fast
experiments and one that fails, so it takes seconds."""
import json
import sys
import types

import pytest

from nabla.cli import main
from nabla.experiments import base

FAST = ("linear-regression", "local-minima")
PROVENANCE = ("date", "nabla_version", "commit", "machine", "command", "quick")


@pytest.fixture
def registry(monkeypatch):
    """The registry: linear-regression, a failing fake (chapter 'objective'), local-minima -- in that order,
    which is not the notes' order (local-minima's chapter, the objective, comes first)."""
    fake = types.ModuleType("nabla_test_failing_experiment", "broken: an experiment that raises.")
    fake.CLAIM, fake.CHAPTER = "nothing", "objective"
    fake.NOTES = ("局部最小", "local minimum")

    def run(quick=False, download=True, echo=print):
        raise RuntimeError("the fake data set is\nmissing")
    fake.run, fake.verdict, fake.plot = run, lambda numbers: (True, ""), lambda fig, data: None
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    kept = dict(base._EXPERIMENTS)
    entries = {"linear-regression": kept["linear-regression"],
               "broken": base.ExperimentEntry("broken", fake, "raises"), "local-minima": kept["local-minima"]}
    monkeypatch.setattr(base, "_EXPERIMENTS", entries)
    return entries


@pytest.fixture
def report_calls(monkeypatch):
    """nabla.report replaced by a builder that records its arguments (the registry's claims among them)."""
    calls = []

    def build_report(paths, out, claims, echo=print):
        calls.append({"paths": paths, "out": out, "claims": [c[0] for c in claims]})
        echo(f"open {out}/index.html")
        return {"index": out + "/index.html"}
    fake = types.SimpleNamespace(build_report=build_report, Claim=lambda *fields: fields)
    monkeypatch.setitem(sys.modules, "nabla.report", fake)
    return calls


def _lines(capsys):
    return capsys.readouterr().out.splitlines()


def test_all_runs_in_notes_order_and_goes_on_after_a_failure(registry, report_calls, tmp_path, capsys):
    out = tmp_path / "exp"
    assert main(["experiment", "all", "--quick", "--out", str(out)]) == 1      # one failed
    lines = _lines(capsys)
    assert [ln for ln in lines if ln.startswith("[")] == ["[1/3] broken", "[2/3] local-minima",
                                                           "[3/3] linear-regression"]
    assert "broken: FAILED: RuntimeError: the fake data set is missing" in lines   # one line
    assert "failed: broken" in lines and f"open {out / 'report'}/index.html" in lines
    assert report_calls == [{"paths": [str(out)], "out": str(out / "report"),
                             "claims": ["linear-regression", "broken", "local-minima"]}]
    table = lines[lines.index("") + 1:]
    assert table[0].split()[:4] == ["experiment", "chapter", "verdict", "seconds"]
    assert [row.split()[0] for row in table[2:5]] == ["broken", "local-minima", "linear-regression"]
    assert "FAILED" in table[2] and "SUPPORTED" in table[4] and table[5].startswith("total (3)")
    assert not (out / "broken.json").exists()
    for name in FAST:
        record = json.loads((out / f"{name}.json").read_text())
        assert set(PROVENANCE) <= set(record) and record["quick"] is True
        assert record["command"] == f"nabla experiment {name} --quick --out {out}"
        assert record["date"].endswith("+00:00") and record["machine"]["cores"] >= 1
        assert record["chapter"] == base._EXPERIMENTS[name].chapter and record["notes"]["zh"]


def test_skip_existing_keeps_results_and_a_missing_report_is_one_line(registry, monkeypatch, tmp_path, capsys):
    out = tmp_path / "exp"
    out.mkdir()
    kept = {"experiment": "local-minima", "quick": False, "supported": False}       # a full result
    (out / "local-minima.json").write_text(json.dumps(kept))
    quick = {"experiment": "linear-regression", "quick": True, "supported": True}    # a quick one
    (out / "linear-regression.json").write_text(json.dumps(quick))
    monkeypatch.setitem(sys.modules, "nabla.report", None)                    # not installed: import fails
    assert main(["experiment", "all", "--quick", "--skip-existing", "--out", str(out)]) == 1
    lines = _lines(capsys)
    assert f"[2/3] local-minima: kept {out / 'local-minima.json'}" in lines
    assert any(ln.startswith("local-minima ") and "NOT SUPPORTED (kept)" in ln for ln in lines)
    assert any(ln.startswith("linear-regression ") and "SUPPORTED (kept)" in ln for ln in lines)
    assert [ln for ln in lines if ln.startswith("report:")] == [ln for ln in lines if "report: not built" in ln] != []
    # a quick result is not kept for a full run: linear-regression runs again (its full run takes a second)
    assert main(["experiment", "all", "--skip-existing", "--out", str(out)]) == 1
    assert json.loads((out / "linear-regression.json").read_text())["quick"] is False
    assert json.loads((out / "local-minima.json").read_text()) == kept             # never run again


def test_skip_existing_needs_all(tmp_path, capsys):
    assert main(["experiment", "linear-regression", "--skip-existing", "--out", str(tmp_path)]) == 2
    assert "--skip-existing goes with 'nabla experiment all'" in capsys.readouterr().err
