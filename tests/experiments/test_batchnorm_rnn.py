"""batchnorm-rnn: the normalised LSTM cell (none = a plain LSTM cell; BN couples the batch, LN does not), the
scoring that leaves BN's running statistics alone, the quick run on the KJV text, and the verdict on hand-made
numbers (both verdicts, and which reason held)."""
import copy

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data.text import KJV
from nabla.experiments import batchnorm_rnn
from nabla.experiments.base import evaluate_numbers, get_experiment
from nabla.experiments.norm_lstm import NormLSTMCell, NormLSTMLM

from .test_experiments import _run


def test_registered():
    assert get_experiment("batchnorm-rnn").module is batchnorm_rnn


def test_unnormalised_cell_is_an_lstm_cell():
    nb.manual_seed(0)
    cell, ref = NormLSTMCell(5, 4, "none"), nn.LSTMCell(5, 4)
    ref.weight_ih.data[...] = cell.weight_x.weight.data
    ref.weight_hh.data[...] = cell.weight_h.weight.data
    ref.bias_ih.data[...] = cell.bias.data
    ref.bias_hh.data[...] = 0
    rng = np.random.default_rng(0)
    x, h, c = (nb.tensor(rng.normal(size=s).astype(np.float32)) for s in ((3, 5), (3, 4), (3, 4)))
    h1, c1 = cell(cell.project(x), (h, c))
    h2, c2 = ref(x, (h, c))
    np.testing.assert_allclose(h1.data, h2.data, atol=1e-6)
    np.testing.assert_allclose(c1.data, c2.data, atol=1e-6)
    with pytest.raises(ValueError, match="norm must be one of"):
        NormLSTMCell(5, 4, "group")


def _first_window_losses(model, x, y):
    with nb.no_grad():
        return model.token_losses(nb.from_numpy(x), nb.from_numpy(y))[0].data[:, 0]


@pytest.mark.parametrize("norm, train, coupled", [("layer", True, False), ("batch", False, False),
                                                  ("batch", True, True), ("none", True, False)])
def test_only_batch_statistics_couple_the_samples(norm, train, coupled):
    """Changing the other windows of a batch changes window 0's losses exactly when BN uses batch statistics."""
    nb.manual_seed(0)
    model = NormLSTMLM(20, norm, embed_dim=8, hidden_size=12).train(train)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 20, (4, 6)), rng.integers(0, 20, (4, 6))
    x2 = x.copy()
    x2[1:] = rng.integers(0, 20, (3, 6))
    a, b = _first_window_losses(model, x, y), _first_window_losses(model, x2, y)
    assert (not np.allclose(a, b, atol=1e-6)) == coupled


def test_scoring_with_batch_statistics_leaves_running_statistics_alone():
    nb.manual_seed(0)
    model = NormLSTMLM(20, "batch", embed_dim=8, hidden_size=12)
    ids = np.random.default_rng(1).integers(0, 20, 200)
    before = copy.deepcopy(model.state_dict())
    p = batchnorm_rnn.position_losses(model, ids, 8, 4, 16, batch_stats=True)
    assert p.shape == (8,) and np.all(np.isfinite(p)) and model.training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(np.asarray(v.data), np.asarray(before[k].data), err_msg=k)
    model.eval()
    running = batchnorm_rnn.position_losses(model, ids, 8, 4, 16)
    one_at_a_time = batchnorm_rnn.position_losses(model, ids, 8, 1, 16)    # running statistics: any batch size
    np.testing.assert_allclose(running, one_at_a_time, rtol=1e-5)
    with pytest.raises(ValueError, match="more than 1 value per channel"):  # batch statistics of one window
        batchnorm_rnn.position_losses(model, ids, 8, 1, 16, batch_stats=True)


def test_quick_numbers(tmp_path_factory):
    if not KJV.is_present():
        pytest.skip("batchnorm-rnn trains on the King James text: apt-get install sword-text-kjv")
    result, record, lines, _ = _run("batchnorm-rnn", tmp_path_factory)
    data, T = record["data"], record["data"]["seq_len"]
    runs = data["runs"]
    assert set(runs) == {"none", "BN", "LN"}
    for r in runs.values():
        assert r["steps"] == data["max_steps"] and len(r["long_positions"]) == data["longer"] * T
        assert 0 < r["bpc"] < np.log2(len(KJV.vocab)) + 1 and len(r["val_bpc"]) >= 1
        assert r["rise_beyond"] == pytest.approx(r["beyond"] - r["in_range_end"])
    assert runs["BN"]["params"] == runs["LN"]["params"] > runs["none"]["params"]
    assert set(runs["BN"]["batch_stats"]) == {str(data["batch"]), "4", "2"}
    assert len(record["table"]) == 3 * 3 + 3
    assert result.supported == batchnorm_rnn.verdict(data | {"table": record["table"]})[0]
    assert any(ln.startswith("batchnorm-rnn: BN ") for ln in lines)


def _numbers(bn=2.0, ln=1.9, none=1.95, stats=None, rise=None):
    rise = rise or {"none": 0.0, "BN": 0.0, "LN": 0.0}
    stats = stats or {"32": bn, "8": bn + 0.01, "2": bn + 0.02}
    runs = {k: {"bpc": v, "steps": 100, "rise_beyond": rise[k]} for k, v in (("none", none), ("BN", bn), ("LN", ln))}
    runs["BN"]["batch_stats"] = stats
    return {"runs": runs, "batch": 32, "seq_len": 64, "longer": 4, "hidden_size": 128, "budget_cpu_seconds": 120.0,
            "max_steps": None}


def test_verdict_on_hand_made_numbers():
    entry = get_experiment("batchnorm-rnn")
    ok, text = batchnorm_rnn.verdict(_numbers())                                   # worse than LN and none
    assert ok and "Supported by: BN is worse than LN and not better than none." in text
    ok, text = batchnorm_rnn.verdict(_numbers(bn=1.8))                             # BN best, no gaps
    assert not ok and "Supported by: none of the four." in text
    ok, text = batchnorm_rnn.verdict(_numbers(bn=1.8, stats={"32": 1.7, "8": 1.71, "2": 1.72}))  # eval gap 0.1
    assert ok and "Supported by: BN's running statistics (eval mode)." in text
    ok, text = batchnorm_rnn.verdict(_numbers(bn=1.8, stats={"32": 1.8, "8": 1.85, "2": 1.9}))  # small batch
    assert ok and "Supported by: BN's batch statistics at a small batch." in text
    ok, text = batchnorm_rnn.verdict(_numbers(bn=1.8, rise={"none": 0.0, "BN": 0.2, "LN": 0.1}))  # long windows
    assert ok and "Supported by: BN beyond the trained length." in text
    ok, _ = batchnorm_rnn.verdict(_numbers(bn=1.92))             # worse than LN but better than none
    assert not ok
    found = evaluate_numbers(entry, _numbers()).data["claims"]
    assert list(found.values()) == [True, True, False, False, False]
