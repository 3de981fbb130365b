"""The Optimizer base: param groups, errors, zero_grad, closures, state_dict round trips."""
import copy
import pickle

import numpy as np
import pytest

import nabla
from nabla import optim


def _param(*shape, value=1.0, dtype=np.float32):
    return nabla.Tensor(np.full(shape, value, dtype=dtype), requires_grad=True)


def _set_grads(params, value=1.0):
    for p in params:
        p.grad = nabla.Tensor(np.full(p.shape, value, dtype=p.dtype))


ALL = [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.AdamW]


# ---------------------------------------------------------------------- construction and groups
def test_groups_get_defaults_filled_in():
    a, b = _param(2), _param(3)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    g0, g1 = opt.param_groups
    assert g0["lr"] == 0.1 and g0["momentum"] == 0 and g0["params"][0] is a
    assert g1["lr"] == 0.5 and g1["momentum"] == 0.9 and g1["params"][0] is b
    assert set(g0) == set(opt.defaults) | {"params"}


def test_groups_step_with_their_own_lr():
    a, b = _param(2), _param(3)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    _set_grads([a, b])
    opt.step()
    np.testing.assert_allclose(a.data, 0.9)
    np.testing.assert_allclose(b.data, 0.5)


def test_add_param_group_later():
    a, b = _param(2), _param(3)
    opt = optim.Adam([a], lr=0.1)
    opt.add_param_group({"params": [b], "lr": 0.01})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999)
    _set_grads([a, b])
    opt.step()
    np.testing.assert_allclose(a.data, 0.9, rtol=1e-6)   # Adam's first step is lr * sign(g)
    np.testing.assert_allclose(b.data, 0.99, rtol=1e-6)


def test_named_parameters_are_accepted():
    a, b = _param(2), _param(3)
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


def test_frozen_parameters_are_accepted_and_left_alone():
    frozen = nabla.Tensor(np.ones(2, np.float32))
    a = _param(2)
    opt = optim.Adam([a, frozen], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    np.testing.assert_array_equal(frozen.data, 1.0)
    assert not np.allclose(a.data, _param(2).data)


def test_errors_for_bad_params():
    a = _param(2)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(a)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({a})
    with pytest.raises(TypeError, match="can only optimize Tensors.*ndarray"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([a * 2])
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([a, _param(3), a])
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [a]}, {"params": [a]}])
    with pytest.raises(TypeError, match="param_group must be a dict"):
        optim.SGD([a]).add_param_group([a])


@pytest.mark.parametrize("cls", ALL)
def test_negative_lr_is_an_error(cls):
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        cls([_param(2)], lr=-0.1)
    opt = cls([_param(2)], lr=0.1)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        opt.add_param_group({"params": [_param(3)], "lr": -1})


@pytest.mark.parametrize("cls, kwargs, message", [
    (optim.SGD, dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    (optim.SGD, dict(weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    (optim.SGD, dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    (optim.SGD, dict(nesterov=True, momentum=0.9, dampening=0.1), "Nesterov momentum requires"),
    (optim.Adagrad, dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    (optim.Adagrad, dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    (optim.Adagrad, dict(eps=-1), "Invalid epsilon value: -1"),
    (optim.RMSprop, dict(alpha=-0.1), "Invalid alpha value: -0.1"),
    (optim.RMSprop, dict(momentum=-0.1), "Invalid momentum value: -0.1"),
    (optim.RMSprop, dict(eps=-0.1), "Invalid epsilon value: -0.1"),
    (optim.Adam, dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    (optim.Adam, dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    (optim.Adam, dict(betas=0.9), "Invalid betas"),
    (optim.Adam, dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    (optim.AdamW, dict(weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
])
def test_invalid_hyperparameters(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([_param(2)], **kwargs)


def test_required_hyperparameter():
    class Plain(optim.Optimizer):
        def __init__(self, params, lr=optim.required):
            super().__init__(params, dict(lr=lr))

    with pytest.raises(ValueError, match="didn't specify a value of required optimization parameter lr"):
        Plain([_param(2)])
    assert Plain([{"params": [_param(2)], "lr": 0.1}]).param_groups[0]["lr"] == 0.1
    assert repr(optim.required) == "<required parameter>"


def test_repr_lists_groups():
    r = repr(optim.SGD([_param(2)], lr=0.1, momentum=0.9))
    assert r.startswith("SGD (") and "Parameter Group 0" in r and "momentum: 0.9" in r and "lr: 0.1" in r


# ---------------------------------------------------------------------- zero_grad, step, closure
def test_zero_grad_sets_none_or_zeros():
    a, b = _param(2), _param(3)
    opt = optim.SGD([a, b], lr=0.1)
    _set_grads([a, b], 2.0)
    opt.zero_grad()
    assert a.grad is None and b.grad is None
    _set_grads([a, b], 2.0)
    ga = a.grad
    opt.zero_grad(set_to_none=False)
    assert a.grad is ga and np.all(a.grad.data == 0) and np.all(b.grad.data == 0)


def test_zero_grad_does_not_write_through_read_only_or_shared_views():
    a = _param(3)
    base = np.ones(3, np.float32)
    a.grad = nabla.Tensor._make(np.broadcast_to(np.float32(5), (3,)), None)  # read-only
    b = _param(3)
    b.grad = nabla.Tensor._make(base[:], None)  # a view of someone else's array
    optim.SGD([a, b]).zero_grad(set_to_none=False)
    assert np.all(a.grad.data == 0) and np.all(b.grad.data == 0) and np.all(base == 1)


def test_step_skips_params_without_grad_and_bumps_version():
    a, b = _param(2), _param(2)
    opt = optim.SGD([a, b], lr=0.1)
    a.grad = nabla.Tensor(np.ones(2, np.float32))
    v = a._version
    opt.step()
    assert a._version == v + 1 and b._version == 0
    np.testing.assert_allclose(b.data, 1.0)


def test_step_updates_in_place():
    a = _param(4)
    arr = a.data
    for cls in ALL:
        opt = cls([a], lr=0.1)
        _set_grads([a])
        opt.step()
        assert a.data is arr


def test_step_detects_saved_tensor_modified():
    w = _param(3)
    y = (w * w).sum()
    _set_grads([w])
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an in-place"):
        y.backward()


def test_closure_reevaluates_and_returns_loss():
    x = _param(3, value=2.0)
    opt = optim.SGD([x], lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        calls.append(1)
        return loss

    with nabla.no_grad():  # the closure still records: step turns grad mode on for it
        loss = opt.step(closure)
    assert calls == [1] and float(loss) == pytest.approx(12.0)
    np.testing.assert_allclose(x.data, 2.0 - 0.1 * 4.0, rtol=1e-6)
    assert opt.step() is None


def test_gradient_of_wrong_shape_is_an_error():
    a = _param(3)
    a.grad = nabla.Tensor(np.ones(4, np.float32))
    with pytest.raises(RuntimeError, match=r"gradient has shape \(4,\) but the parameter has shape \(3,\)"):
        optim.Adam([a]).step()


@pytest.mark.parametrize("cls", ALL)
def test_training_with_autograd_reduces_the_loss(cls):
    """Least squares fitted with each optimizer through the real engine: the loss falls."""
    rng = np.random.default_rng(0)
    X = nabla.Tensor(rng.standard_normal((32, 4)).astype(np.float32))
    y = nabla.Tensor((X.data @ np.array([1.0, -2.0, 0.5, 3.0], np.float32))[:, None])
    w = nabla.Tensor(np.zeros((4, 1), np.float32), requires_grad=True)
    b = nabla.Tensor(np.zeros(1, np.float32), requires_grad=True)
    opt = cls([w, b], lr=0.05)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        r = X @ w + b - y
        loss = (r * r).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    assert w.data.dtype == np.float32 and opt.state[w] is not None


@pytest.mark.parametrize("cls", ALL)
def test_float64_params_stay_float64(cls):
    a = _param(3, dtype=np.float64)
    opt = cls([a], lr=0.1)
    _set_grads([a])
    opt.step()
    assert a.data.dtype == np.float64
    assert all(v.dtype == np.float64 for v in opt.state[a].values() if isinstance(v, np.ndarray))


# ---------------------------------------------------------------------- state_dict
KW = {optim.SGD: dict(lr=0.1, momentum=0.9, nesterov=True), optim.Adagrad: dict(lr=0.1, lr_decay=0.01),
      optim.RMSprop: dict(lr=0.01, momentum=0.5, centered=True), optim.Adam: dict(lr=0.01, amsgrad=True),
      optim.AdamW: dict(lr=0.01)}


def _grad_seq(n, shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(n)]


def _train(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = nabla.Tensor(g + 0.5 * p.data)  # depends on the parameters: a real trajectory
        opt.step()


@pytest.mark.parametrize("cls", ALL)
def test_state_dict_round_trip_continues_identically(cls):
    shapes = [(3, 2), (4,)]
    grads = _grad_seq(40, shapes)
    ref = [_param(*s) for s in shapes]
    opt = cls([{"params": ref[:1]}, {"params": ref[1:], "lr": 0.02}], **KW[cls])
    _train(opt, ref, grads[:20])
    saved = copy.deepcopy(opt.state_dict())
    values = [p.data.copy() for p in ref]
    _train(opt, ref, grads[20:])

    fresh = [nabla.Tensor(v.copy(), requires_grad=True) for v in values]
    opt2 = cls([{"params": fresh[:1]}, {"params": fresh[1:]}], **KW[cls])
    opt2.load_state_dict(saved)
    assert opt2.param_groups[1]["lr"] == 0.02 and opt2.param_groups[1]["params"][0] is fresh[1]
    _train(opt2, fresh, grads[20:])
    for a, b in zip(ref, fresh):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_layout():
    a, b = _param(2), _param(3)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    _set_grads([a, b])
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert set(sd["state"]) == {0, 1}
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"] == 1.0 and isinstance(sd["state"][0]["exp_avg"], np.ndarray)


def test_load_state_dict_copies_and_casts():
    a = _param(2)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    sd = {"state": {0: {"momentum_buffer": np.array([1.0, 2.0])}},  # float64 into a float32 parameter
          "param_groups": [{**{k: v for k, v in opt.defaults.items()}, "params": [0]}]}
    opt.load_state_dict(sd)
    buf = opt.state[a]["momentum_buffer"]
    assert buf.dtype == np.float32 and buf is not sd["state"][0]["momentum_buffer"]


def test_load_state_dict_errors():
    a, b = _param(2), _param(3)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    _set_grads([a, b])
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(2,\).*shape \(3,\)"):
        optim.SGD([_param(3), _param(2)], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


def test_optimizer_pickles_and_deepcopies():
    a = _param(3)
    opt = optim.Adam([a], lr=0.1)
    _set_grads([a])
    opt.step()
    opt2 = pickle.loads(pickle.dumps(opt))
    assert opt2.param_groups[0]["lr"] == 0.1 and len(opt2.state) == 1
    opt3 = copy.deepcopy(opt)
    np.testing.assert_array_equal(opt3.state[opt3.param_groups[0]["params"][0]]["exp_avg"],
                                  opt.state[a]["exp_avg"])


def test_adamw_default_weight_decay_and_aliases():
    a = _param(2)
    assert optim.AdamW([a]).defaults["weight_decay"] == 1e-2
    assert optim.AdamW([a]).defaults["decoupled_weight_decay"] is True
    assert optim.Adam([a]).defaults["weight_decay"] == 0
    assert optim.AdaGrad is optim.Adagrad
    assert optim.SGD([a]).defaults["lr"] == 1e-3  # PyTorch's default


@pytest.mark.parametrize("cls", ALL)
def test_blocked_update_equals_whole_array_update(cls, monkeypatch):
    """Large arrays are updated block by block (cache-friendly); the result is bit-identical."""
    from nabla.optim import optimizer as base
    rng = np.random.default_rng(0)
    n = base._BLOCK * 2 + 123
    start = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    kwargs = dict(KW[cls], weight_decay=0.1)

    def run(block, make):
        monkeypatch.setattr(base, "_BLOCK", block)
        p = make(start.copy())
        opt = cls([p], **kwargs)
        for g in grads:
            p.grad = nabla.Tensor(g.copy().reshape(p.shape))
            opt.step()
        return p.data.reshape(-1).copy()

    def flat(a):
        return nabla.Tensor(a, requires_grad=True)

    def strided(a):  # a non-contiguous parameter: done in one piece
        big = np.zeros(2 * n, np.float32)
        big[::2] = a
        return nabla.Tensor._make(big[::2], None).requires_grad_()

    whole = run(10 ** 9, flat)
    np.testing.assert_array_equal(run(base._BLOCK, flat), whole)
    np.testing.assert_array_equal(run(base._BLOCK, strided), whole)


@pytest.mark.parametrize("cls", ALL)
def test_threaded_update_is_identical(cls):
    from nabla.optim import optimizer as base
    rng = np.random.default_rng(1)
    n = base._BLOCK * 5 + 7
    start = rng.standard_normal(n).astype(np.float32)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(3)]
    results = []
    old = optim.get_num_threads()
    try:
        for threads in (1, 3):
            optim.set_num_threads(threads)
            p = nabla.Tensor(start.copy(), requires_grad=True)
            opt = cls([p], **KW[cls])
            for g in grads:
                p.grad = nabla.Tensor(g)
                opt.step()
            results.append(p.data)
    finally:
        optim.set_num_threads(old)
    np.testing.assert_array_equal(results[0], results[1])
    with pytest.raises(ValueError, match="positive number of threads"):
        optim.set_num_threads(0)
