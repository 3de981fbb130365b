"""gd-convex, linear-stack and autodiff-cost: their quick tables, and one hand-checkable piece of each (the
closed-form optimum, the folded matrix, the gradient against finite differences)."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.experiments import autodiff_cost, gd_convex, linear_stack
from nabla.experiments.base import evaluate_numbers, get_experiment


@pytest.fixture(scope="module")
def quick():
    """Each experiment's quick numbers, and their Result, computed once."""
    out = {}
    for name in ("gd-convex", "linear-stack", "autodiff-cost"):
        numbers = get_experiment(name).run(quick=True, download=False, echo=None)
        out[name] = (numbers, evaluate_numbers(get_experiment(name), numbers))
    return out


# ------------------------------------------------------------------ gd-convex
def test_closed_form_is_the_least_squares_solution():
    rng = np.random.default_rng(0)
    X = np.hstack([rng.normal(size=(50, 2)), np.ones((50, 1))])
    w = np.array([1.5, -2.0, 0.5])
    w_star = gd_convex.closed_form(X, X @ w)
    assert np.allclose(w_star, w)                                  # noiseless: the true weights
    y = X @ w + rng.normal(size=50)
    w_star = gd_convex.closed_form(X, y)
    assert np.allclose(X.T @ (X @ w_star - y), 0, atol=1e-10)     # the normal equations hold


def test_batch_descent_converges_to_the_closed_form():
    x = np.linspace(-1, 1, 40)
    X = np.stack([x, np.ones_like(x)], 1)
    y = 3 * x - 0.5 + 0.1 * np.sin(7 * x)
    w_star = gd_convex.closed_form(X, y)
    d = gd_convex.descend(X, y, w_star, batch_size=len(X), lr=0.3, epochs=200)
    assert d[0] == pytest.approx(1.0) and d[-1] < 1e-8 and gd_convex.falls_at_every_epoch(d)
    assert not gd_convex.falls_at_every_epoch([1.0, 0.5, 0.6, 0.1])


def test_gd_convex_quick_table(quick):
    numbers, result = quick["gd-convex"]
    rows = {r["method"]: r for r in numbers["table"]}
    assert set(rows) == {"batch GD (B = n)", "SGD (B = 1)", "mini-batch (B = 32)", "SGD (B = 1), lr / (1 + epoch)"}
    batch = rows["batch GD (B = n)"]
    assert batch["updates"] == batch["epochs"]
    assert rows["SGD (B = 1)"]["updates"] == numbers["n_train"] * batch["epochs"]
    assert abs(numbers["w_star"][0] - 2.5) < 0.1 and abs(numbers["w_star"][1] + 1.0) < 0.1   # the data's w and b
    assert all(len(c) == numbers["epochs"] + 1 for c in numbers["curves"].values())
    assert set(result.data["claims"]) == set(gd_convex.claims(numbers)) and result.verdict


# ------------------------------------------------------------------ linear-stack
def test_collapsed_matrix_is_the_product_of_the_layers():
    nb.manual_seed(3)
    model = nn.Sequential(nn.Linear(3, 5, dtype=np.float64), nn.Linear(5, 4, dtype=np.float64),
                          nn.Linear(4, 2, dtype=np.float64))
    A, c = linear_stack.collapse(model)
    W = [m.weight.data for m in model.children()]
    b = [m.bias.data for m in model.children()]
    assert np.allclose(A, W[2] @ W[1] @ W[0])
    assert np.allclose(c, W[2] @ (W[1] @ b[0] + b[1]) + b[2])
    x = np.random.default_rng(0).normal(size=(7, 3))
    assert np.allclose(linear_stack.predict(model, x), x @ A.T + c, atol=1e-12)


def test_linear_stack_quick_table(quick):
    numbers, result = quick["linear-stack"]
    rows = {r["model"]: r for r in numbers["table"]}
    assert set(rows) == {"deep linear (4 layers, identity)", "linear regression (1 layer)", "deep ReLU (4 layers)",
                         "least squares (closed form)"}
    assert rows["deep linear (4 layers, identity)"]["parameters"] == rows["deep ReLU (4 layers)"]["parameters"]
    # no affine map beats least squares on the training points
    ls = rows["least squares (closed form)"]["train MSE"]
    assert all(rows[k]["train MSE"] >= ls - 1e-9 for k in ("deep linear (4 layers, identity)",
                                                           "linear regression (1 layer)"))
    assert numbers["collapse_error"] < 1e-10                      # float64: the fold is exact up to rounding
    assert np.asarray(numbers["collapsed"]["A"]).shape == (1, 1) and result.verdict


# ------------------------------------------------------------------ autodiff-cost
def test_gradient_matches_finite_differences_and_jvps():
    loss, arrays = autodiff_cost.make_problem(hidden=4, seed=1)
    value, g = autodiff_cost.reverse_gradient(loss, arrays)
    n = sum(a.size for a in arrays)
    assert g.shape == (n,) == (10 * 4 + 1,) and np.isfinite(value)
    coords = np.arange(n)
    assert np.allclose(autodiff_cost.central_difference(loss, arrays, coords), g, rtol=1e-6, atol=1e-9)
    assert np.allclose(autodiff_cost.scalar_mode(loss, arrays, coords), g, rtol=1e-10, atol=1e-12)


def test_unflat_walks_every_coordinate_once():
    arrays = [np.zeros((2, 3)), np.zeros(3), np.zeros((3, 1)), np.zeros(1)]
    seen = [(k, tuple(int(i) for i in idx)) for k, idx in (autodiff_cost._unflat(arrays, i) for i in range(13))]
    assert seen[0] == (0, (0, 0)) and seen[5] == (0, (1, 2)) and seen[6] == (1, (0,)) and seen[12] == (3, (0,))
    assert len(set(seen)) == 13


def test_autodiff_cost_quick_table(quick):
    numbers, result = quick["autodiff-cost"]
    rows = numbers["table"]
    ns = [r["n parameters"] for r in rows]
    assert ns == sorted(ns) and ns[0] == 11 and ns[-1] == 1001
    for r in rows:
        assert r["n parameters"] == 10 * r["hidden"] + 1
        assert not r["extrapolated"] and r["coordinates timed"] == r["n parameters"]
        assert r["max rel. error vs finite differences"] < 1e-6 and r["max rel. error vs scalar mode"] < 1e-10
        assert r["finite differences / forward"] > 1 and r["reverse / forward"] > 0
    assert set(numbers["exponents"]) >= {"reverse / forward", "gradient / forward", "finite differences / forward",
                                         "scalar mode / forward"}
    assert result.verdict and set(result.data["claims"]) == set(autodiff_cost.claims(numbers))


def test_autodiff_cost_slope_is_the_power():
    rows = [{"n parameters": n, "extrapolated": n > 1000, "t": 3.0 * n ** 1.0 + (1e6 if n > 1000 else 0)}
            for n in (10, 100, 1000, 10000)]
    assert autodiff_cost.slope(rows, "t", measured_only=True) == pytest.approx(1.0)
