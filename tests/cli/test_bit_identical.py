"""Training is bit-identical to the recorded reference (tests/fixtures/bit_identical.json, written by
e478c76): the cheap MLP case here; `python scripts/check_bit_identical.py` runs all four."""
import importlib.util
import json
import os

import pytest

from .helpers import FIXTURES, MNIST5K, NABLA, REPO, skip_unless_dataset


def _script():
    spec = importlib.util.spec_from_file_location("check_bit_identical", REPO / "scripts" / "check_bit_identical.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mlp_training_is_bit_identical_to_the_reference(monkeypatch):
    skip_unless_dataset(*MNIST5K)
    if os.environ.get("NABLA_TEST_SRC"):
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
            [os.environ["NABLA_TEST_SRC"]] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    script = _script()
    case = json.loads((FIXTURES / "bit_identical.json").read_text())["cases"]["mlp"]
    got, _ = script.run_case("mlp", case["argv"], NABLA)
    differ = script.compare(case["weights"], got)
    assert not differ, f"`{case['command']}` no longer reproduces the recorded weights: {differ}"


def test_the_script_covers_every_recorded_case():
    script = _script()
    cases = json.loads((FIXTURES / "bit_identical.json").read_text())["cases"]
    assert set(cases) == set(script.CASES)
    for name, case in cases.items():
        assert case["argv"] == script.CASES[name] and case["weights"], name
