"""--l1 LAMBDA: lambda * sign(w) added to each weight's gradient before every optimizer step (weights of 2+
dimensions; biases and norm parameters left alone), for one- and two-optimizer steps, recorded and resumed."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn, optim
from nabla.data.datasets import MNIST5k
from nabla.train import run as runs
from nabla.train import settings as S
from nabla.train.steps.base import Step
from nabla.train.trainer import Trainer, add_l1_subgradient_, l1_weights

LAMBDA = 0.25


def _model_with_gradients():
    nb.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.ReLU(), nn.Linear(3, 2))
    model[0].weight.data[0, 0] = 0.0                       # sign(0) = 0: no push on an exact zero
    x = nb.tensor(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    model(x).pow(2).sum().backward()
    return model


def test_the_subgradient_is_lambda_sign_w_for_weights_and_zero_for_biases_and_norms():
    model = _model_with_gradients()
    params = dict(model.named_parameters())
    before = {k: p.grad.numpy().copy() for k, p in params.items()}
    add_l1_subgradient_(model.parameters(), LAMBDA)
    for k, p in params.items():
        added = p.grad.numpy() - before[k]
        if p.ndim >= 2:
            np.testing.assert_allclose(added, LAMBDA * np.sign(p.data), atol=1e-6)
        else:                                               # biases, batch norm's weight and bias
            assert not added.any(), k
    assert params["0.weight"].grad.numpy()[0, 0] == before["0.weight"][0, 0]     # the exact zero is not pushed
    assert [id(p) for p in l1_weights(model.parameters())] == [id(model[0].weight), id(model[3].weight)]


def test_it_is_the_gradient_of_lambda_times_nn_l1_penalty():
    model = _model_with_gradients()
    add_l1_subgradient_(model.parameters(), LAMBDA)
    ours = [p.grad.numpy().copy() for p in model.parameters()]
    twin = _model_with_gradients()
    for p in twin.parameters():
        p.grad = None
    x = nb.tensor(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    (twin(x).pow(2).sum() + LAMBDA * nn.l1_penalty(l1_weights(twin.parameters()))).backward()
    for a, p in zip(ours, twin.parameters()):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_a_shared_gradient_array_is_not_written_through():
    w = nn.Parameter(nb.tensor(np.ones((2, 2), np.float32)))
    shared = np.zeros((2, 2), np.float32)
    w.grad = nb.from_numpy(shared)
    add_l1_subgradient_([w], 1.0)
    assert not shared.any() and (w.grad.numpy() == 1.0).all()


class _TwoOptimizerStep(Step):
    """A GAN-like step: two models, two optimizers, each stepped after its own backward."""

    def __init__(self, a, b, lr):
        super().__init__({"a": a, "b": b}, {"a": optim.SGD(a.parameters(), lr=lr), "b": optim.SGD(b.parameters(), lr=lr)})

    def train_step(self, batch):
        for name in ("a", "b"):
            opt = self._optimizers[name]
            opt.zero_grad()
            loss = self.models[name](batch).sum()
            self.minimize(loss, opt)
        return {"loss": 0.0}


@pytest.mark.parametrize("l1", [0.0, LAMBDA])
def test_a_two_optimizer_step_gets_the_penalty_for_each_optimizer(l1):
    nb.manual_seed(0)
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    start = {k: p.data.copy() for m in (a, b) for k, p in zip(("aw", "ab") if m is a else ("bw", "bb"),
                                                                   (m.weight, m.bias))}
    step = _TwoOptimizerStep(a, b, lr=0.1)
    Trainer(step, progress=False, l1=l1)
    x = nb.tensor(np.ones((1, 3), np.float32))
    step.train_step(x)
    for m, w, bias in ((a, "aw", "ab"), (b, "bw", "bb")):
        # d(sum(x W^T + b))/dW = 1 for every weight; the penalty adds l1 sign(W); biases only their own gradient
        np.testing.assert_allclose(m.weight.data, start[w] - 0.1 * (1 + l1 * np.sign(start[w])), atol=1e-6)
        np.testing.assert_allclose(m.bias.data, start[bias] - 0.1, atol=1e-6)


def test_clipping_sees_the_penalty_and_a_negative_strength_is_refused():
    w = nn.Parameter(nb.tensor(np.full((3, 3), 2.0, np.float32)))
    w.grad = nb.from_numpy(np.zeros((3, 3), np.float32))
    trainer = Trainer(_TwoOptimizerStep(nn.Linear(1, 1), nn.Linear(1, 1), 0.1), progress=False, l1=1.0,
                      clip_grad_norm=0.3)
    trainer.before_optimizer_step([w])                       # data gradient 0: all of it is the penalty, clipped
    assert np.linalg.norm(w.grad.numpy()) == pytest.approx(0.3, rel=1e-4)
    with pytest.raises(ValueError, match="l1"):
        Trainer(_TwoOptimizerStep(nn.Linear(1, 1), nn.Linear(1, 1), 0.1), progress=False, l1=-1.0)
    with pytest.raises(S.SettingsError, match="l1 must not be negative"):
        S.resolve("classification", {}, None, {"l1": -0.1})
    assert S.resolve("classification", {}, None, {})["l1"] == 0.0


# ---------------------------------------------------------------------- through the run layer
def _need_mnist5k():
    if not MNIST5k.is_present():
        pytest.skip(f"MNIST-5k is not installed here; install it with: {MNIST5k.install_hint()}")


def _run(tmp_path, name, l1, epochs, resume=None):
    request = runs.Request(model="mlp", dataset="mnist-5k", options={} if resume else {"width": "32", "depth": "1"},
                           settings={"epochs": float(epochs), **({"l1": l1} if l1 is not None else {})},
                           out=None if resume else str(tmp_path / name), resume=resume, download=False,
                           progress=False)
    runs.train(request, echo=lambda *a: None)
    state, config = runs.read_checkpoint(tmp_path / name / "last.safetensors")
    return state["model"], config


def _near_zero(weights) -> float:
    w = np.concatenate([v.ravel() for v in weights.values() if v.ndim >= 2])
    return float((np.abs(w) < 1e-3).mean())


def test_a_large_l1_leaves_many_more_near_zero_weights(tmp_path):
    _need_mnist5k()
    plain, config = _run(tmp_path, "plain", None, 2)
    sparse, sparse_config = _run(tmp_path, "l1", 1e-2, 2)
    assert config["settings"]["l1"] == 0.0 and sparse_config["settings"]["l1"] == 1e-2
    assert _near_zero(plain) < 0.1 and _near_zero(sparse) > 0.5         # 3% and 85% here


def test_a_resumed_l1_run_ends_bit_identical_and_keeps_its_lambda(tmp_path):
    _need_mnist5k()
    whole, _ = _run(tmp_path, "whole", 1e-3, 2)
    _run(tmp_path, "halves", 1e-3, 1)
    halves, config = _run(tmp_path, "halves", None, 2, resume=str(tmp_path / "halves" / "last.safetensors"))
    assert config["settings"]["l1"] == 1e-3
    for k in whole:
        np.testing.assert_array_equal(whole[k], halves[k], err_msg=k)
    with pytest.raises(runs.RunError, match="l1"):
        _run(tmp_path, "halves", 0.0, 3, resume=str(tmp_path / "halves" / "last.safetensors"))
