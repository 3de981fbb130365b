import numpy as np
import pytest

import nabla
from nabla import optim
from tests.optim._reference import check_against_reference


@pytest.mark.parametrize("h", [dict(lr=0.1), dict(lr=0.1, lr_decay=0.05), dict(lr=0.1, weight_decay=0.1),
                               dict(lr=0.1, initial_accumulator_value=0.3, eps=1e-6, maximize=True)])
def test_matches_the_equations(h):
    check_against_reference(optim.Adagrad, "adagrad", **h)


def test_state_is_created_eagerly_as_pytorch():
    p = nabla.Tensor(np.zeros(3, np.float32), requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    sd = opt.state_dict()["state"]
    assert sd[0]["step"] == 0.0 and np.all(sd[0]["sum"] == 0.25) and sd[0]["sum"].dtype == np.float32
    q = nabla.Tensor(np.zeros(2, np.float32), requires_grad=True)
    opt.add_param_group({"params": [q], "initial_accumulator_value": 1.0})
    assert np.all(opt.state[q]["sum"] == 1.0)


def test_first_step_is_lr_times_sign():
    p = nabla.Tensor(np.zeros(3, np.float64), requires_grad=True)
    opt = optim.Adagrad([p], lr=0.5)
    p.grad = nabla.Tensor(np.array([3.0, -0.2, 1e-3]))
    opt.step()
    np.testing.assert_allclose(p.data, [-0.5, 0.5, -0.5], rtol=1e-6)
