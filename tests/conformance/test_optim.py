"""Optimizers against PyTorch: parameter trajectories over 100 steps from the same start, fed the same
gradients (a fixed function of the current parameters plus a precomputed noise sequence, evaluated in
NumPy for both), and state_dicts that load across the two frameworks."""
import copy

import numpy as np
import pytest

import nabla
from nabla import optim

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), ()]
STEPS = 100

# name -> (nabla class, torch class, kwargs)
CASES = {
    "sgd": ("SGD", dict(lr=0.05)),
    "sgd_default_lr": ("SGD", dict()),
    "sgd_momentum": ("SGD", dict(lr=0.05, momentum=0.9)),
    "sgd_dampening": ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3)),
    "sgd_nesterov": ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    "sgd_weight_decay": ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    "sgd_maximize": ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.1, maximize=True)),
    "adagrad": ("Adagrad", dict(lr=0.1)),
    "adagrad_decay": ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5)),
    "adagrad_maximize": ("Adagrad", dict(lr=0.1, maximize=True, eps=1e-6)),
    "rmsprop": ("RMSprop", dict(lr=0.01)),
    "rmsprop_momentum": ("RMSprop", dict(lr=0.01, momentum=0.9, alpha=0.9)),
    "rmsprop_centered": ("RMSprop", dict(lr=0.01, centered=True, weight_decay=0.1)),
    "rmsprop_centered_momentum": ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, maximize=True)),
    "adam": ("Adam", dict(lr=0.01)),
    "adam_default": ("Adam", dict()),
    "adam_betas": ("Adam", dict(lr=0.01, betas=(0.5, 0.9), eps=1e-6)),
    "adam_weight_decay": ("Adam", dict(lr=0.01, weight_decay=0.1)),
    "adam_amsgrad": ("Adam", dict(lr=0.01, amsgrad=True)),
    "adam_maximize": ("Adam", dict(lr=0.01, maximize=True, weight_decay=0.1, amsgrad=True)),
    "adam_decoupled": ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    "adamw": ("AdamW", dict(lr=0.01)),
    "adamw_amsgrad": ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    "adamw_maximize": ("AdamW", dict(lr=0.01, maximize=True)),
}

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}


def _problem(dtype, seed=0):
    """Start values, and a gradient function g(x, t) = c * (x - x*) + sin(x) + noise_t (identical NumPy code)."""
    rng = np.random.default_rng(seed)
    starts = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    centers = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    scales = [rng.uniform(0.5, 2.0, s).astype(dtype) for s in SHAPES]
    noise = [[(0.1 * rng.standard_normal(s)).astype(dtype) for s in SHAPES] for _ in range(STEPS)]

    def grad(i, x, t):
        return np.asarray(scales[i] * (x - centers[i]) + np.sin(x) + noise[t][i], dtype=dtype)
    return starts, grad


def _nabla_params(starts):
    return [nabla.Tensor(s.copy(), requires_grad=True) for s in starts]


def _torch_params(starts):
    return [torch.tensor(s.copy(), requires_grad=True) for s in starts]


def _run_nabla(opt, params, grad, steps):
    traj = []
    for t in steps:
        for i, p in enumerate(params):
            p.grad = nabla.Tensor(grad(i, p.data, t))
        opt.step()
        traj.append([p.data.copy() for p in params])
    return traj


def _run_torch(opt, params, grad, steps):
    traj = []
    for t in steps:
        for i, p in enumerate(params):
            p.grad = torch.from_numpy(grad(i, p.detach().numpy(), t))
        opt.step()
        traj.append([p.detach().numpy().copy() for p in params])
    return traj


def _compare(traj_n, traj_t, dtype, name):
    for t, (xn, xt) in enumerate(zip(traj_n, traj_t)):
        for i, (a, b) in enumerate(zip(xn, xt)):
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"{name}: step {t}, parameter {i}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(CASES))
def test_trajectory_matches_torch(name, dtype):
    cls, kwargs = CASES[name]
    starts, grad = _problem(dtype)
    pn, pt = _nabla_params(starts), _torch_params(starts)
    opt_n = getattr(optim, cls)(pn, **kwargs)
    opt_t = getattr(torch.optim, cls)(pt, **kwargs)
    _compare(_run_nabla(opt_n, pn, grad, range(STEPS)), _run_torch(opt_t, pt, grad, range(STEPS)), dtype, name)


@pytest.mark.parametrize("name", ["sgd_nesterov", "adagrad_decay", "rmsprop_centered_momentum", "adam_amsgrad",
                                  "adamw"])
def test_param_groups_match_torch(name):
    """Two groups with their own lr (and the second with its own weight_decay / momentum)."""
    cls, kwargs = CASES[name]
    starts, grad = _problem("float32", seed=1)
    pn, pt = _nabla_params(starts), _torch_params(starts)
    extra = {"weight_decay": 0.05}
    if "momentum" in kwargs:
        extra["momentum"] = 0.7
    groups_n = [{"params": pn[:1]}, {"params": pn[1:], "lr": kwargs.get("lr", 1e-3) * 3, **extra}]
    groups_t = [{"params": pt[:1]}, {"params": pt[1:], "lr": kwargs.get("lr", 1e-3) * 3, **extra}]
    opt_n = getattr(optim, cls)(groups_n, **kwargs)
    opt_t = getattr(torch.optim, cls)(groups_t, **kwargs)
    _compare(_run_nabla(opt_n, pn, grad, range(STEPS)), _run_torch(opt_t, pt, grad, range(STEPS)), "float32", name)


def test_params_without_grad_are_skipped_like_torch():
    starts, grad = _problem("float32", seed=2)
    pn, pt = _nabla_params(starts), _torch_params(starts)
    opt_n, opt_t = optim.Adam(pn, lr=0.01), torch.optim.Adam(pt, lr=0.01)
    for t in range(20):
        for i, (a, b) in enumerate(zip(pn, pt)):
            if (t + i) % 3 == 0:  # this parameter gets no gradient this step
                a.grad, b.grad = None, None
            else:
                a.grad = nabla.Tensor(grad(i, a.data, t))
                b.grad = torch.from_numpy(grad(i, b.detach().numpy(), t))
        opt_n.step()
        opt_t.step()
    for a, b in zip(pn, pt):
        np.testing.assert_allclose(a.data, b.detach().numpy(), **TOL["float32"])
    for k in range(len(pn)):
        assert opt_n.state[pn[k]]["step"] == float(opt_t.state[pt[k]]["step"])


def _torch_state_to_numpy(sd):
    return {"state": {k: {n: (v.numpy().copy() if n != "step" else float(v)) for n, v in s.items()}
                      for k, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}


def _numpy_state_to_torch(sd):
    return {"state": {k: {n: torch.tensor(v) for n, v in s.items()} for k, s in sd["state"].items()},
            "param_groups": copy.deepcopy(sd["param_groups"])}


@pytest.mark.parametrize("name", ["sgd_momentum", "adagrad_decay", "rmsprop_centered_momentum", "adam_amsgrad",
                                  "adamw"])
def test_state_dict_structure_and_cross_loading(name):
    """Same state keys as PyTorch; a torch state_dict loads into nabla mid-way and vice versa."""
    cls, kwargs = CASES[name]
    starts, grad = _problem("float32", seed=3)
    pn, pt = _nabla_params(starts), _torch_params(starts)
    opt_n, opt_t = getattr(optim, cls)(pn, **kwargs), getattr(torch.optim, cls)(pt, **kwargs)
    _run_nabla(opt_n, pn, grad, range(50))
    _run_torch(opt_t, pt, grad, range(50))
    sd_n, sd_t = opt_n.state_dict(), opt_t.state_dict()
    assert sd_n["state"].keys() == sd_t["state"].keys()
    for k in sd_t["state"]:
        assert sd_n["state"][k].keys() == sd_t["state"][k].keys()
    assert [g["params"] for g in sd_n["param_groups"]] == [g["params"] for g in sd_t["param_groups"]]
    for gn, gt in zip(sd_n["param_groups"], sd_t["param_groups"]):
        for key, value in gn.items():
            assert key in gt and gt[key] == value, key

    # torch's state (and parameters) into a fresh nabla optimizer, then both continue
    pn2 = _nabla_params([p.detach().numpy() for p in pt])
    opt_n2 = getattr(optim, cls)(pn2, **kwargs)
    opt_n2.load_state_dict(_torch_state_to_numpy(sd_t))
    # nabla's state into a fresh torch optimizer
    pt2 = _torch_params([p.data for p in pn])
    opt_t2 = getattr(torch.optim, cls)(pt2, **kwargs)
    opt_t2.load_state_dict(_numpy_state_to_torch(copy.deepcopy(sd_n)))

    ref_t = _run_torch(opt_t, pt, grad, range(50, 100))
    _compare(_run_nabla(opt_n2, pn2, grad, range(50, 100)), ref_t, "float32", name)
    _compare(_run_nabla(opt_n, pn, grad, range(50, 100)), _run_torch(opt_t2, pt2, grad, range(50, 100)),
             "float32", name)


def test_end_to_end_mlp_training_matches_torch():
    """nn.Linear MLP + CrossEntropyLoss + clip_grad_norm_ + Adam(weight_decay) + OneCycleLR (cycling beta1),
    from identical weights: 40 steps of both frameworks agree to float32 rounding."""
    nn = pytest.importorskip("nabla.nn")
    from nabla.nn.utils import clip_grad_norm_
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    mn = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    mt = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    with torch.no_grad():
        for a, b in zip(mn.parameters(), mt.parameters()):
            b.copy_(torch.from_numpy(a.data.copy()))
    on = optim.Adam(mn.parameters(), lr=1e-2, weight_decay=1e-3)
    ot = torch.optim.Adam(mt.parameters(), lr=1e-2, weight_decay=1e-3)
    sn = optim.lr_scheduler.OneCycleLR(on, max_lr=0.05, total_steps=40)
    st = torch.optim.lr_scheduler.OneCycleLR(ot, max_lr=0.05, total_steps=40)
    xn, yn, xt, yt = nabla.Tensor(X), nabla.Tensor(y), torch.from_numpy(X), torch.from_numpy(y)
    for _ in range(39):
        on.zero_grad()
        nn.CrossEntropyLoss()(mn(xn), yn).backward()
        norm_n = clip_grad_norm_(mn.parameters(), 0.5)
        on.step()
        sn.step()
        ot.zero_grad()
        torch.nn.CrossEntropyLoss()(mt(xt), yt).backward()
        norm_t = torch.nn.utils.clip_grad_norm_(mt.parameters(), 0.5)
        ot.step()
        st.step()
        np.testing.assert_allclose(norm_n.data, norm_t.numpy(), rtol=1e-4, atol=1e-6)
    for a, b in zip(mn.parameters(), mt.parameters()):
        np.testing.assert_allclose(a.data, b.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["sgd_nesterov", "adagrad_decay", "rmsprop_centered_momentum", "adam_amsgrad",
                                  "adamw"])
def test_large_parameter_matches_torch(name):
    """A parameter larger than the optimizers' block size (updated block by block)."""
    cls, kwargs = CASES[name]
    rng = np.random.default_rng(4)
    start = rng.standard_normal((300, 250)).astype(np.float32)
    grads = [rng.standard_normal((300, 250)).astype(np.float32) for _ in range(10)]
    pn, pt = _nabla_params([start]), _torch_params([start])
    opt_n, opt_t = getattr(optim, cls)(pn, **kwargs), getattr(torch.optim, cls)(pt, **kwargs)
    for g in grads:
        pn[0].grad, pt[0].grad = nabla.Tensor(g + pn[0].data), torch.from_numpy(g + pt[0].detach().numpy())
        opt_n.step()
        opt_t.step()
    np.testing.assert_allclose(pn[0].data, pt[0].detach().numpy(), **TOL["float32"])
