"""The step contract: a Trainer drives any Step; budgets in epochs, steps and seconds; evaluation cadence;
before_optimizer_step once per optimizer (a toy two-optimizer step, as a GAN's); exact resume mid-epoch."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla import nn, optim
from nabla.data import DataLoader, TensorDataset
from nabla.train import Callback, Step, Trainer, WarmupCosine
from nabla.train.steps.language_model import LanguageModelStep, RandomWindows, StreamBatches, TokenStream


def regression_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    return TensorDataset(nb.tensor(x), nb.tensor(y))


class TwoOptimizerStep(Step):
    """A toy adversarial-style step: model A, then model B, each with its own optimizer."""

    def __init__(self):
        nb.manual_seed(0)
        self.a, self.b = nn.Linear(3, 1), nn.Linear(3, 1)
        self.opt_a = optim.SGD(self.a.parameters(), lr=0.05)
        self.opt_b = optim.SGD(self.b.parameters(), lr=0.05)
        super().__init__({"a": self.a, "b": self.b}, {"a": self.opt_a, "b": self.opt_b})

    def train_step(self, batch):
        x, y = batch
        logs = {}
        for name, model, opt in (("a", self.a, self.opt_a), ("b", self.b, self.opt_b)):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x), y)
            loss.backward()
            self.optimizer_step(opt)
            logs[f"loss_{name}"] = float(loss.item())
        logs["loss"] = logs["loss_a"] + logs["loss_b"]
        return logs

    def evaluate(self, loader):
        with nb.no_grad():
            x, y = next(iter(loader))
            return {"loss": float(nn.functional.mse_loss(self.a(x), y).item())}


class CountHook(Callback):
    def __init__(self):
        self.calls, self.norms = [], []

    def on_before_optimizer_step(self, trainer, parameters):
        self.calls.append(trainer.global_step)
        self.norms.append(float(sum((p.grad.data ** 2).sum() for p in parameters)))


def test_two_optimizer_step_calls_the_hook_once_per_optimizer_and_clips():
    step, hook = TwoOptimizerStep(), CountHook()
    loader = DataLoader(regression_data(), batch_size=16, shuffle=True, seed=0)
    trainer = Trainer(step, callbacks=[hook], clip_grad_norm=1e-3, progress=False)
    hist = trainer.fit(loader, DataLoader(regression_data(), batch_size=64), max_steps=6, eval_every=3)
    assert hook.calls == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]         # twice per step: once per optimizer
    assert hist["step"] == [3, 6] and "val_loss" in hist and "loss_a" in hist
    assert trainer.global_step == 6 and len(trainer.step_history["loss"]) == 6
    for p in step.a.parameters():                                     # clipped after the hook saw them
        assert float((p.grad.data ** 2).sum()) ** 0.5 <= 1e-3 + 1e-6
    state = step.state_dict()
    assert set(state) == {"models", "optimizers"} and set(state["models"]) == {"a", "b"}


def test_budgets_epochs_steps_and_time():
    data = regression_data()
    for budget, expect_steps in (({"epochs": 2}, 8), ({"max_steps": 5}, 5), ({"epochs": 3, "max_steps": 7}, 7)):
        step = TwoOptimizerStep()
        t = Trainer(step, progress=False)
        t.fit(DataLoader(data, batch_size=16), **budget)
        assert t.global_step == expect_steps, budget
    t = Trainer(TwoOptimizerStep(), progress=False)
    t.fit(DataLoader(data, batch_size=16), time_budget=1e-9)           # spent after the first step
    assert t.global_step == 1
    with pytest.raises(ValueError, match="epochs must be a positive number"):
        Trainer(TwoOptimizerStep(), progress=False).fit(DataLoader(data, batch_size=16), epochs=0)


def test_budget_schedule_follows_the_share_of_the_budget():
    step = TwoOptimizerStep()
    seen = []

    class Rates(Callback):
        def on_before_optimizer_step(self, trainer, parameters):
            seen.append(step.opt_a.param_groups[0]["lr"])
    t = Trainer(step, scheduler=WarmupCosine(warmup=2, min_ratio=0.1), schedule_interval="step",
                callbacks=[Rates()], progress=False)
    t.fit(DataLoader(regression_data(), batch_size=16), max_steps=10)
    rates = seen[::2]
    assert rates[0] == pytest.approx(0.025) and rates[1] == pytest.approx(0.05)   # warm-up
    assert rates[-1] == pytest.approx(0.05 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.9))))
    assert step.opt_a.param_groups[0]["lr"] == 0.05                                # base restored


def _lm(seed=0):
    from nabla.models import CharRNNLM
    nb.manual_seed(seed)
    model = CharRNNLM(12, "lstm", embed_dim=8, hidden_size=16)
    return model, optim.Adam(model.parameters(), lr=1e-2)


@pytest.mark.parametrize("stateful", [True, False])
def test_language_model_resume_mid_epoch_is_bit_exact(tmp_path, stateful):
    text = np.random.default_rng(0).integers(0, 12, 4000)

    def make():
        model, opt = _lm()
        model.stateful = stateful
        loader = StreamBatches(text, 4, 16, seed=3) if stateful else RandomWindows(text, 4, 16, seed=3)
        t = Trainer(LanguageModelStep(model, opt), scheduler=WarmupCosine(3, 0.1), schedule_interval="step",
                    clip_grad_norm=1.0, progress=False)
        return model, t, loader
    model_a, t_a, loader_a = make()
    t_a.fit(loader_a, TokenStream(text[:300], 16), max_steps=50, eval_every=20)
    class StopAt30(Callback):  # an interruption: the run was planned for 50 steps
        def on_batch_end(self, trainer, batch, loss):
            trainer.stop_training = trainer.global_step >= 30
    model_b, t_b, loader_b = make()
    t_b.callbacks.append(StopAt30())
    t_b.fit(loader_b, TokenStream(text[:300], 16), max_steps=50, eval_every=20)  # stops inside epoch 0
    assert 0 < t_b.batch_in_epoch < len(loader_b)
    path = t_b.save_checkpoint(tmp_path / "mid.safetensors")
    nb.manual_seed(99)
    model_c, t_c, loader_c = make()
    t_c.resume(path)
    t_c.fit(loader_c, TokenStream(text[:300], 16), max_steps=50, eval_every=20)
    for (k, a), (_, c) in zip(model_a.state_dict().items(), model_c.state_dict().items()):
        np.testing.assert_array_equal(a.data, c.data, err_msg=k)
    assert t_c.global_step == 50 and t_c.history["step"][-1] == 50


def test_classic_trainer_form_still_works():
    nb.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    x = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    t = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), progress=False)
    hist = t.fit(DataLoader(TensorDataset(nb.tensor(x), nb.tensor(y)), batch_size=8), epochs=3)
    assert hist["epoch"] == [1, 2, 3] and "accuracy" in hist
