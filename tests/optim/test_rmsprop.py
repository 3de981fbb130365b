import numpy as np
import pytest

import nabla
from nabla import optim
from tests.optim._reference import check_against_reference


@pytest.mark.parametrize("h", [dict(lr=0.01), dict(lr=0.01, alpha=0.9, momentum=0.9),
                               dict(lr=0.01, centered=True), dict(lr=0.01, centered=True, momentum=0.5),
                               dict(lr=0.01, weight_decay=0.1, maximize=True, eps=1e-4)])
def test_matches_the_equations(h):
    check_against_reference(optim.RMSprop, "rmsprop", **h)


def test_state_keys_follow_options():
    p = nabla.Tensor(np.zeros(3, np.float32), requires_grad=True)
    for kwargs, keys in [({}, {"step", "square_avg"}), (dict(momentum=0.9), {"step", "square_avg", "momentum_buffer"}),
                         (dict(centered=True), {"step", "square_avg", "grad_avg"})]:
        opt = optim.RMSprop([p], **kwargs)
        p.grad = nabla.Tensor(np.ones(3, np.float32))
        opt.step()
        assert set(opt.state[p]) == keys
