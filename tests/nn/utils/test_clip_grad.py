"""clip_grad_norm_ / clip_grad_value_ (against PyTorch where installed) and parameters_to_vector."""
import math

import numpy as np
import pytest

import nabla
from nabla.nn.utils import (clip_grad_norm_, clip_grad_value_, get_total_norm, parameters_to_vector,
                            vector_to_parameters, clip_grad_norm)

SHAPES = [(3, 4), (5,), ()]


def _params(seed=0, scale=1.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    ps = []
    for s in SHAPES:
        p = nabla.Tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
        p.grad = nabla.Tensor((scale * rng.standard_normal(s)).astype(dtype))
        ps.append(p)
    return ps


def _all_grads(ps):
    return np.concatenate([p.grad.data.ravel() for p in ps])


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ps = _params()
    ts = [torch.tensor(p.data, requires_grad=True) for p in ps]
    for p, t in zip(ps, ts):
        t.grad = torch.tensor(p.grad.data.copy())
    n = clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    tn = torch.nn.utils.clip_grad_norm_(ts, max_norm, norm_type=norm_type)
    assert isinstance(n, nabla.Tensor) and n.shape == () and n.dtype == np.float32
    np.testing.assert_allclose(n.data, tn.numpy(), rtol=1e-6)
    for p, t in zip(ps, ts):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_clip_grad_norm_semantics():
    ps = _params(scale=10.0)
    before = _all_grads(ps)
    total = clip_grad_norm_(ps, 1.0)
    assert float(total) == pytest.approx(np.linalg.norm(before), rel=1e-6)
    after = _all_grads(ps)
    assert np.linalg.norm(after) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(after / np.linalg.norm(after), before / np.linalg.norm(before), rtol=1e-5)
    # small gradients are untouched, and the same arrays are kept
    ps = _params(scale=1e-3)
    arrays = [p.grad.data for p in ps]
    before = _all_grads(ps)
    clip_grad_norm_(ps, 1.0)
    np.testing.assert_array_equal(_all_grads(ps), before)
    assert all(p.grad.data is a for p, a in zip(ps, arrays))


def test_clip_grad_norm_in_place_and_single_tensor():
    p = _params(scale=10.0)[0]
    g = p.grad
    arr = g.data
    clip_grad_norm_(p, 0.1)
    assert p.grad is g and g.data is arr and np.linalg.norm(arr) == pytest.approx(0.1, rel=1e-5)


def test_shared_and_read_only_gradients_are_scaled_once():
    a = nabla.Tensor(np.zeros(4, np.float32), requires_grad=True)
    b = nabla.Tensor(np.zeros(4, np.float32), requires_grad=True)
    c = nabla.Tensor(np.zeros(2, np.float32), requires_grad=True)
    shared = np.full(4, 3.0, np.float32)
    a.grad = nabla.Tensor._make(shared, None)
    b.grad = nabla.Tensor._make(shared, None)                                     # the same array twice
    c.grad = nabla.Tensor._make(np.broadcast_to(np.float32(3.0), (2,)), None)  # read-only
    total = clip_grad_norm_([a, b, c], 1.0)
    assert float(total) == pytest.approx(3.0 * math.sqrt(10), rel=1e-6)
    coef = 1.0 / (3.0 * math.sqrt(10) + 1e-6)
    for p in (a, b, c):
        np.testing.assert_allclose(p.grad.data, 3.0 * coef, rtol=1e-6)


def test_gradients_built_by_the_engine_are_clipped_once():
    x = nabla.Tensor(np.ones(3, np.float32), requires_grad=True)
    y = nabla.Tensor(np.ones(3, np.float32), requires_grad=True)
    ((x + y) * 4.0).sum().backward()  # the engine may hand both leaves the same array
    total = clip_grad_norm_([x, y], 1.0)
    assert float(total) == pytest.approx(4.0 * math.sqrt(6), rel=1e-6)
    np.testing.assert_allclose(np.concatenate([x.grad.data, y.grad.data]), 1 / math.sqrt(6), rtol=1e-5)


def test_nonfinite_norm():
    ps = _params()
    ps[1].grad.data[0] = np.inf
    with pytest.raises(RuntimeError, match="total norm of order 2.0 .* is non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    ps = _params()
    ps[0].grad.data[0, 0] = np.nan
    with np.errstate(invalid="ignore"):
        total = clip_grad_norm_(ps, 1.0)
    assert math.isnan(float(total)) and np.isnan(ps[1].grad.data).all()  # scaled by NaN, as PyTorch


def test_nonfinite_matches_torch():
    torch = pytest.importorskip("torch")
    ps = _params()
    ps[1].grad.data[0] = np.inf
    ts = [torch.tensor(p.data, requires_grad=True) for p in ps]
    for p, t in zip(ps, ts):
        t.grad = torch.tensor(p.grad.data.copy())
    with np.errstate(invalid="ignore"):
        n = clip_grad_norm_(ps, 1.0)
    tn = torch.nn.utils.clip_grad_norm_(ts, 1.0)
    assert float(n) == float(tn) == math.inf
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


def test_empty_and_none_grads():
    p = nabla.Tensor(np.ones(2, np.float32), requires_grad=True)
    assert float(clip_grad_norm_([p], 1.0)) == 0.0 and p.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((q for q in []), 1.0)
    assert float(get_total_norm([])) == 0.0


def test_float64_stays_float64():
    ps = _params(dtype=np.float64, scale=10.0)
    n = clip_grad_norm_(ps, 1.0)
    assert n.dtype == np.float64 and all(p.grad.dtype == np.float64 for p in ps)


def test_deprecated_alias():
    with pytest.warns(FutureWarning):
        clip_grad_norm(_params(), 1.0)


def test_clip_grad_value_matches_torch():
    torch = pytest.importorskip("torch")
    ps = _params(scale=3.0)
    ts = [torch.tensor(p.data, requires_grad=True) for p in ps]
    for p, t in zip(ps, ts):
        t.grad = torch.tensor(p.grad.data.copy())
    assert clip_grad_value_(ps, 0.7) is None
    torch.nn.utils.clip_grad_value_(ts, 0.7)
    for p, t in zip(ps, ts):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


def test_clip_grad_value():
    ps = _params(scale=3.0)
    arrays = [p.grad.data for p in ps]
    before = _all_grads(ps)
    clip_grad_value_(ps, 1.0)
    np.testing.assert_array_equal(_all_grads(ps), np.clip(before, -1, 1))
    assert all(p.grad.data is a for p, a in zip(ps, arrays))  # in place
    q = nabla.Tensor(np.zeros(2, np.float32), requires_grad=True)
    q.grad = nabla.Tensor._make(np.broadcast_to(np.float32(5.0), (2,)), None)
    clip_grad_value_(q, 2.0)
    np.testing.assert_array_equal(q.grad.data, [2.0, 2.0])


def test_parameters_to_vector_round_trip():
    ps = _params()
    v = parameters_to_vector(ps)
    assert v.shape == (18,) and v.requires_grad
    np.testing.assert_array_equal(v.data, np.concatenate([p.data.ravel() for p in ps]))
    new = nabla.Tensor(np.arange(18, dtype=np.float32))
    vector_to_parameters(new, ps)
    np.testing.assert_array_equal(ps[0].data, np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(ps[1].data, np.arange(12, 17))
    assert ps[2].data == 17
    with pytest.raises(ValueError, match="vec has 5 elements, the parameters have 18"):
        vector_to_parameters(nabla.Tensor(np.zeros(5, np.float32)), ps)
    with pytest.raises(TypeError, match="expected vec to be a Tensor"):
        vector_to_parameters(np.zeros(18), ps)
