"""Schedulers without PyTorch: closed forms, errors, warnings, state_dict."""
import math
import warnings

import numpy as np
import pytest

import nabla
from nabla import optim
from nabla.optim import lr_scheduler as S


def _opt(lr=0.1, cls=optim.SGD, **kw):
    return cls([nabla.Tensor(np.zeros(2, np.float32), requires_grad=True)], lr=lr, **kw)


def _seq(sched, n, metrics=None):
    out = []
    for e in range(n):
        sched.optimizer.step()
        sched.step() if metrics is None else sched.step(metrics[e])
        out.append(sched.get_last_lr()[0])
    return out


@pytest.mark.parametrize("make, closed", [
    (lambda o: S.StepLR(o, step_size=3, gamma=0.5), lambda e: 0.1 * 0.5 ** (e // 3)),
    (lambda o: S.MultiStepLR(o, milestones=[2, 5], gamma=0.1), lambda e: 0.1 * 0.1 ** ((e >= 2) + (e >= 5))),
    (lambda o: S.ExponentialLR(o, gamma=0.9), lambda e: 0.1 * 0.9 ** e),
    (lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.01),
     lambda e: 0.01 + 0.09 * (1 + math.cos(math.pi * e / 10)) / 2),
    (lambda o: S.LinearLR(o, start_factor=0.2, total_iters=4), lambda e: 0.1 * (0.2 + 0.8 * min(e, 4) / 4)),
    (lambda o: S.LambdaLR(o, lambda e: 1 / (e + 1)), lambda e: 0.1 / (e + 1)),
    (lambda o: S.PolynomialLR(o, total_iters=6, power=2), lambda e: 0.1 * (1 - min(e, 6) / 6) ** 2),
    (lambda o: S.ConstantLR(o, factor=0.5, total_iters=3), lambda e: 0.05 if e < 3 else 0.1),
])
def test_sequences_follow_the_closed_form(make, closed):
    sched = make(_opt())
    assert sched.get_last_lr()[0] == pytest.approx(closed(0))
    np.testing.assert_allclose(_seq(sched, 12), [closed(e) for e in range(1, 13)], rtol=1e-9, atol=1e-15)


def test_onecycle_shape():
    opt = _opt(cls=optim.SGD, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=1.0, total_steps=20, pct_start=0.25)
    lrs, moms = [sched.get_last_lr()[0]], [opt.param_groups[0]["momentum"]]
    for _ in range(19):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
    assert lrs[0] == pytest.approx(1.0 / 25) and max(lrs) == pytest.approx(1.0) and np.argmax(lrs) == 4
    assert lrs[-1] == pytest.approx(1.0 / 25 / 1e4)
    assert moms[0] == pytest.approx(0.95) and moms[4] == pytest.approx(0.85) and moms[-1] == pytest.approx(0.95)
    sched.step()  # PyTorch allows one step past the end (step number == total_steps) ...
    with pytest.raises(ValueError, match="Tried to step 21 times"):  # ... but not two
        sched.step()


def test_onecycle_cycles_adam_beta1():
    opt = _opt(cls=optim.Adam)
    S.OneCycleLR(opt, max_lr=0.01, total_steps=10)
    assert opt.param_groups[0]["betas"] == (0.95, 0.999)


def test_reduce_on_plateau():
    opt = _opt(lr=1.0)
    sched = S.ReduceLROnPlateau(opt, patience=2, factor=0.5, cooldown=1, min_lr=0.2)
    lrs = _seq(sched, 12, [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9])
    # best 0.9 at epoch 2; three bad epochs -> halve at epoch 5; 1 cooldown epoch; 3 more bad -> epoch 9 ...
    assert lrs == [1.0] * 4 + [0.5] * 4 + [0.25] * 4
    sched2 = S.ReduceLROnPlateau(_opt(lr=1.0), patience=0, factor=0.1, min_lr=0.05)
    assert _seq(sched2, 4, [1, 1, 1, 1]) == [1.0, 0.1, 0.05, 0.05]


def test_reduce_on_plateau_max_mode_and_threshold():
    sched = S.ReduceLROnPlateau(_opt(lr=1.0), mode="max", patience=0, threshold=0.1, threshold_mode="abs")
    assert _seq(sched, 3, [0.5, 0.65, 0.7]) == [1.0, 1.0, 0.1]  # 0.7 < 0.65 + 0.1: not an improvement


@pytest.mark.parametrize("make, message", [
    (lambda o: S.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0"),
    (lambda o: S.ReduceLROnPlateau(o, mode="avg"), "mode avg is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, threshold_mode="pct"), "threshold mode pct is unknown"),
    (lambda o: S.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), "expected 1 min_lrs, got 2"),
    (lambda o: S.LinearLR(o, start_factor=0), "Starting multiplicative factor"),
    (lambda o: S.LinearLR(o, end_factor=2), "Ending multiplicative factor"),
    (lambda o: S.ConstantLR(o, factor=2), "Constant multiplicative factor"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1), "either total_steps OR"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=0), "positive integer total_steps"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5), "pct_start"),
    (lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10, anneal_strategy="exp"), "anneal_strategy"),
    (lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.2], total_steps=10), "max_lr must have the same length"),
    (lambda o: S.LambdaLR(o, [lambda e: 1, lambda e: 2]), "Expected 1 lr_lambdas, but got 2"),
    (lambda o: S.LambdaLR(o, 3), "lr_lambda should be a function"),
])
def test_bad_arguments(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(_opt())


def test_onecycle_needs_momentum():
    with pytest.raises(ValueError, match="must support momentum or beta1"):
        S.OneCycleLR(_opt(cls=optim.Adagrad), max_lr=0.1, total_steps=10)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="list is not an Optimizer"):
        S.StepLR([], step_size=1)


def test_resume_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_opt(), step_size=2, last_epoch=3)


def test_warns_when_scheduler_steps_before_optimizer():
    sched = S.StepLR(_opt(), step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    opt = _opt()
    sched = S.StepLR(opt, step_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()


def test_state_dict_round_trip_and_lambdas():
    class Fn:
        def __init__(self):
            self.k = 0.5

        def __call__(self, e):
            return self.k ** e

    opt = _opt()
    fn = Fn()
    sched = S.LambdaLR(opt, fn)
    _seq(sched, 3)
    fn.k = 0.25
    sd = sched.state_dict()
    assert "optimizer" not in sd and sd["lr_lambdas"] == [{"k": 0.25}] and sd["last_epoch"] == 3
    fn2 = Fn()
    sched2 = S.LambdaLR(_opt(), fn2)
    sched2.load_state_dict(sd)
    assert fn2.k == 0.25 and sched2.last_epoch == 3


def test_schedulers_compose():
    """Two chainable schedulers on one optimizer multiply their effects, as in PyTorch."""
    opt = _opt(lr=1.0)
    a, b = S.ExponentialLR(opt, gamma=0.5), S.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(4):
        opt.step()
        a.step()
        b.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 ** 4 * 0.1 ** 2)
