"""Training settings: resolution order, one-line errors, the schedule re-planned when a run is extended."""
import math

import pytest

import nabla as nb
from nabla import nn, optim
from nabla.train import settings as S


def test_resolution_order():
    s = S.resolve("lm", {"lr": 2e-3, "batch_size": 64}, {"batch_size": 32}, {"seed": 5})
    assert s["scheduler"] == "warmup-cosine" and s["clip"] == 1.0      # the task's defaults
    assert s["lr"] == 2e-3 and s["batch_size"] == 32 and s["seed"] == 5  # model < record < given
    assert S.resolve("classification", {}, None, None)["scheduler"] == "cosine"


@pytest.mark.parametrize("name, value, message", [
    ("epochs", 0, "epochs must be positive, got 0"), ("epochs", -3, "epochs must be positive"),
    ("lr", float("nan"), "lr must be a finite number"), ("lr", float("inf"), "lr must be a finite number"),
    ("batch_size", 0, "batch_size must be positive"), ("optimizer", "adamm", "optimizer must be one of"),
    ("batch_size", 2.5, "batch_size expects int")])
def test_nonsense_is_a_one_line_error(name, value, message):
    with pytest.raises(S.SettingsError, match=message):
        S.check_setting(name, value)


@pytest.mark.filterwarnings("ignore:Detected call of")
def test_replan_extends_the_cosine_over_the_new_total():
    nb.manual_seed(0)
    opt = optim.Adam(nn.Linear(2, 2).parameters(), lr=1.0)
    sched, _ = S.make_scheduler(S.resolve("classification", {}, None, {"epochs": 2}), opt)
    sched.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)   # the end of a 2-epoch cosine
    S.replan(sched, {"epochs": 3}, 2)
    assert opt.param_groups[0]["lr"] == pytest.approx((1 + math.cos(math.pi * 2 / 3)) / 2)
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
