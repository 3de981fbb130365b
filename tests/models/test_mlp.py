import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.models import MLP, SoftmaxRegression, LinearRegression, build_model, get_model_entry, model_names


def test_mlp_structure_follows_options():
    m = MLP(784, 10, depth=3, width=32, activation="tanh", dropout=0.5, batch_norm=True)
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["Flatten"] + ["Linear", "BatchNorm1d", "Tanh", "Dropout"] * 3 + ["Linear"]
    assert m.num_parameters() == (784 * 32 + 32) + 2 * (32 * 32 + 32) + 3 * 64 + (32 * 10 + 10)
    out = m(nb.randn(5, 1, 28, 28))
    assert out.shape == (5, 10)


def test_mlp_default_is_the_784_512_512_10_network():
    m = build_model("mlp", (1, 28, 28), 10)
    assert m.num_parameters() == 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10


def test_mlp_rejects_bad_options():
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        MLP(4, 2, activation="swish")
    with pytest.raises(ValueError, match="dropout"):
        MLP(4, 2, dropout=1.5)


def test_regression_models_and_registry():
    assert {"linear-regression", "softmax-regression", "mlp"} <= set(model_names())
    lin = build_model("linear-regression", (1,), 1)
    assert isinstance(lin, LinearRegression) and lin(nb.randn(7, 1)).shape == (7, 1)
    soft = build_model("softmax-regression", (1, 8, 8), 10)
    assert isinstance(soft, SoftmaxRegression) and soft(nb.randn(3, 1, 8, 8)).shape == (3, 10)
    assert get_model_entry("linear-regression").task == "regression"
    with pytest.raises(KeyError, match="valid names"):
        get_model_entry("nope")
    with pytest.raises(TypeError, match="has no option"):
        build_model("mlp", (4,), 2, colour="red")


def test_softmax_regression_learns_digits_like_blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 2, (3, 6))
    y = rng.integers(0, 3, 300)
    x = nb.tensor((centers[y] + rng.normal(0, 0.5, (300, 6))).astype(np.float32))
    model = SoftmaxRegression(6, 3)
    opt = nb.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(100):
        opt.zero_grad()
        loss = loss_fn(model(x), nb.tensor(y))
        loss.backward()
        opt.step()
    assert (model(x).argmax(1).numpy() == y).mean() > 0.95
