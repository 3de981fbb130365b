"""The `nabla` command parses and dispatches: no model or data-set name appears in nabla/cli/ (the
registries know them)."""
import re

import pytest

from .helpers import REPO

CLI = REPO / "nabla" / "cli"


def test_the_cli_package_names_no_model_or_data_set():
    if not CLI.is_dir():
        pytest.skip("nabla/cli/ does not exist yet (the CLI is still the single module nabla/cli.py)")
    from nabla.data.datasets import dataset_names
    from nabla.models import model_names
    names = sorted(set(model_names()) | set(dataset_names()), key=len, reverse=True)
    offenders = []
    for path in sorted(CLI.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for name in names:
                # quoted, or as a word ('-' counts as part of a name: "mnist" is not found in "mnist-5k")
                if re.search(rf"(['\"]){re.escape(name)}\1|(?<![\w-]){re.escape(name)}(?![\w-])", line):
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {name!r}: {line.strip()}")
    assert not offenders, "model / data-set names in the CLI package:\n" + "\n".join(offenders)
