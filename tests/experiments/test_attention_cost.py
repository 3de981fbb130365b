"""attention-cost: the fits (exponent, a L^2 + b L, crossover), the memory probe, the usable-range rule, the
Transformer regressor's shape, the quick run, and the verdict on hand-made numbers (both verdicts)."""
import numpy as np
import pytest

import nabla as nb
from nabla.experiments import attention_cost as ac
from nabla.experiments.base import evaluate_numbers, get_experiment

from .test_experiments import _run

LENGTHS = [64, 128, 256, 512, 1024, 2048, 4096]


def test_registered():
    assert get_experiment("attention-cost").module is ac


def test_fits_recover_the_powers():
    L = np.asarray(LENGTHS, dtype=np.float64)
    assert ac.exponent(L, 3e-9 * L ** 2) == pytest.approx(2.0)
    assert ac.exponent(L, 5e-6 * L) == pytest.approx(1.0)
    a, b = ac.quadratic_fit(L, 2e-9 * L ** 2 + 4e-6 * L)
    assert a == pytest.approx(2e-9) and b == pytest.approx(4e-6)
    # attention 1e-8 L^2 + 1e-6 L against an RNN's 2e-5 L: they meet at L = (2e-5 - 1e-6) / 1e-8 = 1900
    assert ac.fitted_crossover((1e-8, 1e-6), (0.0, 2e-5)) == pytest.approx(1900)
    assert ac.fitted_crossover((0.0, 1e-6), (0.0, 2e-5)) is None
    att, rnn = 1e-8 * L ** 2 + 1e-6 * L, 2e-5 * L
    assert ac.crossover(LENGTHS, att, rnn) == [1024, 2048]
    assert ac.crossover(LENGTHS, rnn / 10, rnn) is None
    assert ac.crossover(LENGTHS, rnn * 10, rnn) == [None, 64]


def test_peak_memory_sees_numpy_arrays():
    assert ac.peak_bytes(lambda: np.ones(1_000_000)) >= 8_000_000
    assert ac.peak_bytes(lambda: None) < 100_000


def test_usable_learning_rates_need_every_seed():
    runs = {1e-3: [{"trains": True}, {"trains": True}], 1e-2: [{"trains": True}, {"trains": False}],
            1e-1: [{"trains": False}, {"trains": False}]}
    assert ac.usable(runs) == [1e-3]


def test_transformer_regressor_reads_one_number_per_sequence():
    nb.manual_seed(0)
    model = ac.TransformerRegressor(8, 1, 2)
    x, _ = ac.adding_batch(np.random.default_rng(0), 5, 12)
    assert model(nb.tensor(x)).shape == (5, 1)


def test_quick_numbers(tmp_path_factory):
    result, record, lines, _ = _run("attention-cost", tmp_path_factory)
    data = record["data"]
    L = data["lengths"]
    assert L == [64, 128, 256, 512]
    for name in ("attention", "LSTM"):
        assert len(data["costs"][name]["time"]) == len(L) and min(data["costs"][name]["time"]) > 0
    mem = {k: np.asarray(v["memory"], dtype=np.float64) for k, v in data["costs"].items()}
    # the attention weights (heads x L x L floats) dominate at 512: memory grows faster than the LSTM's
    assert mem["attention"][-1] > 4 * 512 * 512 * 4 and mem["attention"][-1] / mem["attention"][0] > \
        mem["LSTM"][-1] / mem["LSTM"][0]
    assert set(data["sweep"]) == {"Transformer", "LSTM"}
    assert all(len(runs) == len(data["lrs"]) for runs in data["sweep"].values())
    assert result.supported == all(data["claims"].values())
    assert sum(r["part"] == "B: training" for r in record["table"]) == len(data["lrs"])
    assert any(ln.startswith("attention-cost: L = 512") for ln in lines)


def _numbers(att_p=2.0, rnn_p=1.0, usable_tf=(1e-3,), usable_lstm=(1e-3, 3e-3)):
    L = LENGTHS
    fit = lambda p: {"exponent": p, "exponent at long lengths": p, "quadratic fit (a, b)": (1e-9, 1e-6)}  # noqa: E731
    return {"lengths": L, "width": 64, "fits": {"attention time": fit(att_p), "LSTM time": fit(rnn_p),
                                                "attention memory": fit(2.0), "LSTM memory": fit(1.0),
                                                "crossover": {"measured": [512, 1024], "fitted": 700.0}},
            "usable": {"Transformer": list(usable_tf), "LSTM": list(usable_lstm)}, "lrs": [1e-4, 1e-3, 3e-3, 1e-2],
            "T": 50, "steps": 1000, "batch": 32, "seeds": [0, 1], "target_mse": 0.0167}


def test_verdict_on_hand_made_numbers():
    ok, text = ac.verdict(_numbers())
    assert ok and "attention becomes slower between L = 512 and 1024" in text
    assert not ac.verdict(_numbers(att_p=1.3))[0]                   # attention not yet quadratic
    assert not ac.verdict(_numbers(rnn_p=1.5))[0]                   # the LSTM not linear
    assert not ac.verdict(_numbers(usable_tf=(1e-3, 3e-3)))[0]      # the same range: not harder to train
    ok, text = ac.verdict(_numbers(usable_tf=()))
    assert ok and "Transformer at 0/4 (0.0 decades)" in text
    found = evaluate_numbers(get_experiment("attention-cost"), _numbers(usable_tf=(1e-4, 1e-3, 3e-3))).data["claims"]
    assert list(found.values()) == [True, True, False]
