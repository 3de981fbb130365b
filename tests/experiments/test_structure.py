"""The shape every experiment module has (claim, run, verdict, plot), the framework's plumbing (download and
progress reach ``run``; JSON keys), and the size rule for functions.  Fast: nothing here trains."""
import ast
import inspect
import json
import sys
import types
from pathlib import Path

import pytest

import nabla.experiments as experiments
from nabla.experiments import base, experiment_names, get_experiment, register_experiment, run_experiment

EXPERIMENTS_DIR = Path(experiments.__file__).parent
MAX_LINES = 60


@pytest.mark.parametrize("name", experiment_names())
def test_module_has_claim_run_verdict_plot(name):
    module = get_experiment(name).module
    assert module.__doc__ and module.__doc__.strip(), name
    assert isinstance(module.CLAIM, str) and module.CLAIM, name
    for part in ("run", "verdict", "plot"):
        fn = getattr(module, part, None)
        assert inspect.isfunction(fn) and fn.__module__ == module.__name__, f"{name}: no module-level {part}"
    params = inspect.signature(module.run).parameters
    assert {"quick", "download", "echo"} <= set(params), f"{name}: run{inspect.signature(module.run)}"
    assert params["download"].default is True and params["quick"].default is False
    assert list(inspect.signature(module.plot).parameters) == ["fig", "data"]
    assert list(inspect.signature(module.verdict).parameters) == ["numbers"]


def _functions(path):
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            yield node.name, node.end_lineno - node.lineno + 1, above.startswith("# long:")


@pytest.mark.parametrize("path", sorted(EXPERIMENTS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_function_over_60_lines(path):
    long = [f"{name} ({n} lines)" for name, n, excused in _functions(path) if n > MAX_LINES and not excused]
    assert not long, f"{path.name}: split these, or put '# long: <reason>' above the def: {', '.join(long)}"


def test_no_private_dataset_map_and_no_download_hint():
    for path in EXPERIMENTS_DIR.glob("*.py"):
        text = path.read_text()
        assert "pass download=True" not in text, path.name           # the data layer's errors speak for it
        assert "_DATASETS" not in text, path.name                      # data sets come from the registry


@pytest.fixture
def toy_experiment():
    """A registered experiment module that records how run was called."""
    module = types.ModuleType("nabla_test_toy_experiment", "toy: a claim about nothing.")
    module.CLAIM = "two is more than one"
    module.calls = []

    def run(quick=False, download=True, echo=print):
        module.calls.append({"quick": quick, "download": download})
        echo("toy: one 3 steps, loss 0.5, 0.0 s")
        return {"table": [{"x": 1, "y": 2.0}], "values": [1, 2], "nan": float("nan")}

    def claims(numbers):
        return {"two is more than one": numbers["values"][1] > numbers["values"][0]}

    def verdict(numbers):
        found = claims(numbers)
        return all(found.values()), f"measured {numbers['values']}"

    def plot(fig, data):
        fig.subplots(1, 1).plot(data["values"])

    for fn in (run, claims, verdict, plot):
        fn.__module__ = module.__name__
        setattr(module, fn.__name__, fn)
    sys.modules[module.__name__] = module
    register_experiment("toy", "a toy experiment")(module.run)
    yield module
    del base._EXPERIMENTS["toy"]
    del sys.modules[module.__name__]


def test_run_experiment_passes_download_and_echo(toy_experiment, tmp_path):
    lines = []
    result = run_experiment("toy", str(tmp_path), quick=True, echo=lines.append, download=False)
    assert toy_experiment.calls == [{"quick": True, "download": False}]
    assert lines[0].startswith("== toy:") and "toy: one 3 steps, loss 0.5, 0.0 s" in lines
    assert [ln for ln in lines if ln.startswith(("SUPPORTED:", "NOT SUPPORTED:"))] == ["SUPPORTED: measured [1, 2]"]
    record = json.loads((tmp_path / "toy.json").read_text())
    assert list(record) == ["experiment", "quick", "claim", "supported", "verdict", "table", "data", "summary",
                            "chapter", "notes", "date", "nabla_version", "commit", "machine", "command"]
    assert record["command"] == f"nabla experiment toy --quick --out {tmp_path}" and record["quick"] is True
    assert record["claim"] == "two is more than one" and record["supported"] is True
    assert record["table"] == [{"x": 1, "y": 2.0}] and "table" not in record["data"]
    assert record["data"]["claims"] == {"two is more than one": True} and record["data"]["nan"] is None
    assert result.supported and result.data["values"] == [1, 2]
    run_experiment("toy", str(tmp_path), quick=False, echo=lambda *a: None)
    assert toy_experiment.calls[-1] == {"quick": False, "download": True}      # fetch by default, as `nabla train`
