
import numpy as np
import pytest

import nabla
from nabla import optim
from tests.optim._reference import check_against_reference


@pytest.mark.parametrize("h", [dict(lr=0.01), dict(lr=0.01, betas=(0.5, 0.9)), dict(lr=0.01, weight_decay=0.1),
                               dict(lr=0.01, amsgrad=True), dict(lr=0.01, maximize=True, eps=1e-3)])
def test_adam_matches_the_equations(h):
    check_against_reference(optim.Adam, "adam", **h)


@pytest.mark.parametrize("h", [dict(lr=0.01), dict(lr=0.01, weight_decay=0.5, amsgrad=True)])
def test_adamw_matches_the_equations(h):
    check_against_reference(optim.AdamW, "adamw", **h)


def test_adam_decoupled_flag_is_adamw():
    rng = np.random.default_rng(0)
    a = nabla.Tensor(rng.standard_normal(5), requires_grad=True)
    b = nabla.Tensor(a.data.copy(), requires_grad=True)
    o1 = optim.Adam([a], lr=0.1, weight_decay=0.1, decoupled_weight_decay=True)
    o2 = optim.AdamW([b], lr=0.1, weight_decay=0.1)
    for _ in range(5):
        g = rng.standard_normal(5)
        a.grad, b.grad = nabla.Tensor(g), nabla.Tensor(g)
        o1.step()
        o2.step()
    np.testing.assert_array_equal(a.data, b.data)


def test_adamw_decays_weights_with_zero_gradient():
    p = nabla.Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = nabla.Tensor(np.zeros(2, np.float32))
    opt.step()
    np.testing.assert_allclose(p.data, 0.95)  # 1 * (1 - lr * wd); Adam's own step is 0


def test_betas_become_a_tuple_of_floats():
    p = nabla.Tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adam([p], betas=[0.8, 0.99])
    assert opt.param_groups[0]["betas"] == (0.8, 0.99)


def test_update_is_cheap_and_allocates_little():
    """784-512-512-10 MLP sized parameters: an Adam step is a few passes over memory, no big temporaries."""
    import tracemalloc
    rng = np.random.default_rng(0)
    shapes = [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]
    params = [nabla.Tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    for p in params:
        p.grad = nabla.Tensor(rng.standard_normal(p.shape).astype(np.float32))
    opt = optim.Adam(params, lr=1e-3, weight_decay=1e-4)
    opt.step()  # state and scratch buffers allocated here
    tracemalloc.start()
    opt.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024, f"an Adam step allocated {peak} bytes"

