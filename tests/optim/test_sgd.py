import numpy as np
import pytest

import nabla
from nabla import optim
from tests.optim._reference import check_against_reference


@pytest.mark.parametrize("h", [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.1, momentum=0.9, dampening=0.5),
                               dict(lr=0.1, momentum=0.9, nesterov=True), dict(lr=0.1, weight_decay=0.2),
                               dict(lr=0.05, momentum=0.8, weight_decay=0.1, maximize=True)])
def test_matches_the_equations(h):
    check_against_reference(optim.SGD, "sgd", **h)


def test_first_momentum_step_is_a_plain_step():
    p = nabla.Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9, dampening=0.5)
    p.grad = nabla.Tensor(np.array([1.0, -2.0, 4.0], np.float32))
    opt.step()  # buffer starts as the gradient itself, undampened (PyTorch's rule)
    np.testing.assert_allclose(p.data, [-0.5, 1.0, -2.0])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"], [1.0, -2.0, 4.0])
    opt.step()  # b = 0.9 b + 0.5 g = 1.4 g
    np.testing.assert_allclose(p.data, [-0.5 - 0.7, 1.0 + 1.4, -2.0 - 2.8], rtol=1e-6)


def test_no_state_without_momentum():
    p = nabla.Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = nabla.Tensor(np.ones(3, np.float32))
    opt.step()
    assert opt.state_dict()["state"] == {}


def test_batch_stochastic_minibatch_are_one_update():
    """The docstring's claim: full-batch GD is SGD whose batch is the whole set; mini-batches average."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((8, 3)).astype(np.float32)
    y = rng.standard_normal((8, 1)).astype(np.float32)

    def fit(batch_size, steps):
        w = nabla.Tensor(np.zeros((3, 1), np.float32), requires_grad=True)
        opt = optim.SGD([w], lr=0.1)
        for s in range(steps):
            i = (s * batch_size) % 8
            xb, yb = nabla.Tensor(X[i:i + batch_size]), nabla.Tensor(y[i:i + batch_size])
            opt.zero_grad()
            r = xb @ w - yb
            (r * r).mean().backward()
            opt.step()
        return w.data

    full = fit(8, 1)
    expected = -0.1 * (2 * X.T @ (X @ np.zeros((3, 1), np.float32) - y) / 8)
    np.testing.assert_allclose(full, expected, rtol=1e-5)
    # one step on each half (mini-batch 4) differs from the full step, but both move toward the fit
    halves = fit(4, 2)
    assert not np.allclose(halves, full)
    assert np.linalg.norm(X @ halves - y) < np.linalg.norm(y)
