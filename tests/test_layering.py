"""The package's layers, lowest first: a module imports only from layers below its own (or from its own
package), never from a higher one or from another package of its level.  Every import counts, also the
ones inside functions (a lazy import is still a dependency).  ``nabla/__init__.py`` assembles the package
and is exempt.  See shared/ARCHITECTURE.md."""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "nabla"

LAYERS = [
    {"backend", "memory", "comm", "errors"},
    {"autograd"},
    # import only the engine: creation (tensor factories), serialization (save/load, the checkpoint file
    # format), viz (renders autograd.graph's DOT)
    {"creation", "serialization", "viz"},
    {"ops"},
    {"nn"},
    {"optim", "data"},
    {"vision"},
    {"metrics"},
    {"models"},
    {"train"},
    {"distributed", "onnx", "utils"},
    {"experiments", "report"},
    {"cli", "cli_seq"},
]
LEVEL = {name: i for i, names in enumerate(LAYERS) for name in names}

# (importing file, imported nabla package) pairs that other work is removing; the lead empties this list
KNOWN_VIOLATIONS: set = set()


def _module_name(path: pathlib.Path, root: pathlib.Path = ROOT) -> list:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported(path: pathlib.Path, root: pathlib.Path = ROOT):
    """(line, absolute dotted name) for every import of a nabla module in the file."""
    here = _module_name(path, root)
    package = here if path.name == "__init__.py" else here[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "nabla":
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
            else:
                base = node.module.split(".")
            if base[0] != "nabla":
                continue
            if len(base) == 1:  # `from nabla import x` / `from .. import x`: x is the package's part
                for alias in node.names:
                    yield node.lineno, f"nabla.{alias.name}"
            else:
                yield node.lineno, ".".join(base)


def _layer(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else "nabla"


def _top_level_packages() -> set:
    """The packages ``nabla/__init__.py`` imports: ``import nabla`` depends on all of them."""
    return {_layer(target) for _, target in _imported(ROOT / "__init__.py")}


def _violations():
    found = []
    top = _top_level_packages()
    for path in sorted(ROOT.rglob("*.py")):
        if path == ROOT / "__init__.py":
            continue
        own = _layer(".".join(_module_name(path)))
        assert own in LEVEL, f"{path.relative_to(ROOT.parent)}: package {own!r} has no layer in LEVEL"
        for line, target in _imported(path):
            other = _layer(target)
            if other == own:
                continue
            if other == "nabla":  # `import nabla`: every package nabla/__init__.py imports
                higher = sorted(p for p in top if p != own and LEVEL[p] >= LEVEL[own])
                if higher:
                    found.append((f"{path.relative_to(ROOT.parent)}:{line}", target,
                                  f"the top-level package, which imports {', '.join(higher)}"))
            elif other not in LEVEL:
                found.append((f"{path.relative_to(ROOT.parent)}:{line}", target, "a package with no layer"))
            elif LEVEL[other] >= LEVEL[own]:
                why = "a package of the same layer" if LEVEL[other] == LEVEL[own] else "a higher layer"
                found.append((f"{path.relative_to(ROOT.parent)}:{line}", target, why))
    return found


def test_every_import_goes_down_the_layers():
    bad = [v for v in _violations()
           if (v[0].split(":")[0], _layer(v[1])) not in KNOWN_VIOLATIONS]
    assert not bad, "imports against the layering:\n" + "\n".join(f"  {w}: {t} ({why})" for w, t, why in bad)


def test_known_violations_are_still_real():
    """An entry that no longer matches anything should be deleted from KNOWN_VIOLATIONS."""
    real = {(v[0].split(":")[0], _layer(v[1])) for v in _violations()}
    stale = KNOWN_VIOLATIONS - real
    assert not stale, f"remove from KNOWN_VIOLATIONS: {sorted(stale)}"


@pytest.mark.parametrize("source,expected", [
    ("from ...ops import shape", ["nabla.ops"]),
    ("from ... import nn, backend", ["nabla.nn", "nabla.backend"]),
    ("from ..transforms import Compose", ["nabla.data.transforms"]),
    ("from . import vocab", ["nabla.data.text"]),
    ("def f():\n    from ...train import trainer", ["nabla.train"]),
    ("import nabla.models.registry", ["nabla.models.registry"]),
    ("import numpy\nfrom numpy import ones", []),
])
def test_the_walker_sees_every_kind_of_import(tmp_path, source, expected):
    f = tmp_path / "nabla" / "data" / "text" / "mod.py"
    f.parent.mkdir(parents=True)
    f.write_text(source)
    assert [name for _, name in _imported(f, tmp_path / "nabla")] == expected
