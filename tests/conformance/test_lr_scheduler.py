"""Learning-rate schedulers against PyTorch: the lr (and momentum) sequence over 50 epochs, for an
optimizer with two param groups of different lr, and state_dict round trips mid-way."""
import copy
import math
import warnings

import numpy as np
import pytest

import nabla
from nabla import optim
from nabla.optim import lr_scheduler as nsched

torch = pytest.importorskip("torch")
tsched = torch.optim.lr_scheduler

EPOCHS = 50

# name -> (scheduler class name, kwargs, optimizer class name, optimizer kwargs)
CASES = {
    "step": ("StepLR", dict(step_size=7, gamma=0.5), "SGD", {}),
    "multistep": ("MultiStepLR", dict(milestones=[5, 12, 12, 30], gamma=0.3), "SGD", {}),
    "exponential": ("ExponentialLR", dict(gamma=0.93), "SGD", {}),
    "cosine": ("CosineAnnealingLR", dict(T_max=20, eta_min=0.001), "SGD", {}),  # 50 > T_max: climbs back
    "cosine_zero_min": ("CosineAnnealingLR", dict(T_max=50), "Adam", {}),
    "linear_warmup": ("LinearLR", dict(start_factor=0.1, total_iters=10), "SGD", {}),
    "linear_decay": ("LinearLR", dict(start_factor=1.0, end_factor=0.05, total_iters=40), "Adam", {}),
    "constant": ("ConstantLR", dict(factor=0.25, total_iters=8), "SGD", {}),
    "polynomial": ("PolynomialLR", dict(total_iters=30, power=2.0), "SGD", {}),
    "onecycle_cos": ("OneCycleLR", dict(max_lr=[0.5, 1.0], total_steps=EPOCHS), "SGD", dict(momentum=0.9)),
    "onecycle_linear": ("OneCycleLR", dict(max_lr=0.3, total_steps=EPOCHS, anneal_strategy="linear",
                                           pct_start=0.25), "SGD", dict(momentum=0.9)),
    "onecycle_three_phase": ("OneCycleLR", dict(max_lr=0.3, epochs=5, steps_per_epoch=10, three_phase=True),
                             "SGD", dict(momentum=0.9)),
    "onecycle_adam": ("OneCycleLR", dict(max_lr=0.01, total_steps=EPOCHS, base_momentum=0.8,
                                         max_momentum=0.9), "Adam", {}),
    "onecycle_no_momentum": ("OneCycleLR", dict(max_lr=0.01, total_steps=EPOCHS, cycle_momentum=False),
                             "Adagrad", {}),
}


def _half(epoch):
    return 0.5 ** (epoch // 4)


def _optimizers(opt_name, opt_kwargs):
    groups_n = [{"params": [nabla.Tensor(np.zeros(2, np.float32), requires_grad=True)]},
                {"params": [nabla.Tensor(np.zeros(3, np.float32), requires_grad=True)], "lr": 0.02}]
    groups_t = [{"params": [torch.zeros(2, requires_grad=True)]},
                {"params": [torch.zeros(3, requires_grad=True)], "lr": 0.02}]
    return (getattr(optim, opt_name)(groups_n, lr=0.1, **opt_kwargs),
            getattr(torch.optim, opt_name)(groups_t, lr=0.1, **opt_kwargs))


def _momenta(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["betas"][0] if "betas" in g else g.get("momentum"))
    return out


def _run(opt, sched, epochs, metrics=None):
    lrs, moms = [], []
    for e in epochs:
        opt.step()  # no gradients: nothing moves, only the schedule is exercised
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
        lrs.append(list(sched.get_last_lr()))
        moms.append(_momenta(opt))
    return lrs, moms


def _make(name, opt):
    cls, kwargs, _, _ = CASES[name]
    lib = nsched if isinstance(opt, optim.Optimizer) else tsched
    return getattr(lib, cls)(opt, **kwargs)


@pytest.mark.parametrize("name", list(CASES))
def test_lr_sequence_matches_torch(name):
    _, _, opt_name, opt_kwargs = CASES[name]
    opt_n, opt_t = _optimizers(opt_name, opt_kwargs)
    s_n, s_t = _make(name, opt_n), _make(name, opt_t)
    assert s_n.get_last_lr() == pytest.approx(s_t.get_last_lr(), rel=1e-12)
    steps = range(EPOCHS - 1 if "onecycle" in name else EPOCHS)  # OneCycle: total_steps includes the start
    lrs_n, moms_n = _run(opt_n, s_n, steps)
    lrs_t, moms_t = _run(opt_t, s_t, steps)
    np.testing.assert_allclose(lrs_n, lrs_t, rtol=1e-12, atol=0)
    np.testing.assert_allclose(np.array(moms_n, float), np.array(moms_t, float), rtol=1e-12)
    assert [g["lr"] for g in opt_n.param_groups] == pytest.approx([g["lr"] for g in opt_t.param_groups], rel=1e-12)


def test_lambda_and_multiplicative_match_torch():
    for n_cls, t_cls, fns in [(nsched.LambdaLR, tsched.LambdaLR, [_half, lambda e: 1 / (1 + e)]),
                              (nsched.MultiplicativeLR, tsched.MultiplicativeLR, lambda e: 0.95)]:
        opt_n, opt_t = _optimizers("SGD", {})
        s_n, s_t = n_cls(opt_n, fns), t_cls(opt_t, fns)
        np.testing.assert_allclose(_run(opt_n, s_n, range(EPOCHS))[0], _run(opt_t, s_t, range(EPOCHS))[0], rtol=1e-12)


def test_sequential_warmup_then_cosine_matches_torch():
    out = []
    for lib, opt in zip((nsched, tsched), _optimizers("SGD", {})):
        warm = lib.LinearLR(opt, start_factor=0.01, total_iters=5)
        cos = lib.CosineAnnealingLR(opt, T_max=45)
        s = lib.SequentialLR(opt, [warm, cos], milestones=[5])
        out.append(_run(opt, s, range(EPOCHS))[0])
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(), dict(mode="max", factor=0.5, patience=2, threshold=0.05),
                                    dict(patience=1, threshold_mode="abs", threshold=0.1, cooldown=3,
                                         min_lr=[0.01, 0.005]),
                                    dict(mode="max", threshold_mode="abs", patience=0, factor=0.7, min_lr=1e-3)])
def test_reduce_on_plateau_matches_torch(kwargs):
    rng = np.random.default_rng(0)
    metrics = list(np.maximum(1.0 - 0.05 * np.arange(EPOCHS), 0.3) + 0.05 * rng.standard_normal(EPOCHS))
    opt_n, opt_t = _optimizers("SGD", {})
    s_n, s_t = nsched.ReduceLROnPlateau(opt_n, **kwargs), tsched.ReduceLROnPlateau(opt_t, **kwargs)
    lrs_n, _ = _run(opt_n, s_n, range(EPOCHS), metrics)
    lrs_t, _ = _run(opt_t, s_t, range(EPOCHS), metrics)
    np.testing.assert_allclose(lrs_n, lrs_t, rtol=1e-12)
    assert len(set(map(tuple, lrs_n))) > 1 or kwargs == {}  # the schedule did something


@pytest.mark.parametrize("name", ["step", "multistep", "cosine", "linear_warmup", "onecycle_cos", "onecycle_adam",
                                  "exponential"])
def test_state_dict_round_trip(name):
    """Save optimizer + scheduler after 20 epochs, load both into fresh ones, continue: same sequence."""
    _, _, opt_name, opt_kwargs = CASES[name]
    opt, _ = _optimizers(opt_name, opt_kwargs)
    s = _make(name, opt)
    _run(opt, s, range(20))
    saved_opt, saved_s = copy.deepcopy(opt.state_dict()), copy.deepcopy(s.state_dict())
    rest = range(20, EPOCHS - 1)
    ref = _run(opt, s, rest)

    opt2, _ = _optimizers(opt_name, opt_kwargs)
    s2 = _make(name, opt2)
    opt2.load_state_dict(saved_opt)
    s2.load_state_dict(saved_s)
    assert _run(opt2, s2, rest) == ref


def test_state_dict_keys_match_torch():
    opt_n, opt_t = _optimizers("SGD", dict(momentum=0.9))
    for cls in ("StepLR", "OneCycleLR"):
        kw = dict(step_size=3) if cls == "StepLR" else dict(max_lr=0.1, total_steps=10)
        sn, st = getattr(nsched, cls)(opt_n, **kw), getattr(tsched, cls)(opt_t, **kw)
        assert set(sn.state_dict()) == set(st.state_dict())


def test_closed_form_epoch_argument_matches_torch():
    out = []
    for lib, opt in zip((nsched, tsched), _optimizers("SGD", {})):
        s = lib.CosineAnnealingLR(opt, T_max=10)
        lrs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for e in [3, 7, 2, 15]:
                opt.step()
                s.step(e)
                lrs.append(s.get_last_lr())
        out.append(lrs)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-12)
    assert math.isclose(out[0][0][0], 0.1 * (1 + math.cos(math.pi * 3 / 10)) / 2)
