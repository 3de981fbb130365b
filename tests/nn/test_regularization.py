"""l1_penalty / l2_penalty: values and gradients (objective = loss + lambda * penalty)."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd import gradcheck


def test_values_and_gradients():
    w1 = nb.tensor([[1.0, -2.0], [0.5, 0.0]], requires_grad=True)
    w2 = nb.tensor([3.0, -1.0], requires_grad=True)
    assert nn.l1_penalty([w1, w2]).item() == pytest.approx(7.5)
    assert nn.l2_penalty([w1, w2]).item() == pytest.approx(1 + 4 + 0.25 + 9 + 1)  # no factor 1/2
    nn.l2_penalty([w1, w2]).backward()
    np.testing.assert_allclose(w1.grad.data, 2 * w1.data)
    w1.grad = w2.grad = None
    nn.l1_penalty([w1, w2]).backward()
    np.testing.assert_allclose(w1.grad.data, [[1, -1], [1, 0]])  # sign, 0 at 0
    np.testing.assert_allclose(w2.grad.data, [1, -1])


def test_gradcheck_penalties():
    rng = np.random.default_rng(0)
    a = nb.Tensor(rng.standard_normal((3, 2)), requires_grad=True)
    b = nb.Tensor(rng.standard_normal(4), requires_grad=True)
    gradcheck(lambda x, y: nn.l2_penalty([x, y]), (a, b))
    gradcheck(lambda x, y: nn.l1_penalty([x, y]), (a, b))


def test_objective_with_module():
    nb.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = nb.randn(8, 3), nb.randn(8, 1)
    lam = 0.1
    objective = nn.MSELoss()(model(x), y) + lam * nn.l2_penalty(model)
    objective.backward()
    g_with = model.weight.grad.data.copy()
    model.zero_grad()
    nn.MSELoss()(model(x), y).backward()
    np.testing.assert_allclose(g_with - model.weight.grad.data, 2 * lam * model.weight.data, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="no parameters"):
        nn.l1_penalty([])
