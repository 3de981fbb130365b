"""GANStep: discriminator then generator, each through the Trainer's before_optimizer_step; neither step
touches the other network; exact resume; the evaluation's fixed-seed samples; a toy GAN learns."""
import numpy as np
import pytest

import nabla as nb
from nabla.models import build_model
from nabla.train import Trainer
from nabla.train.checkpoint import load_checkpoint, save_checkpoint
from nabla.train.steps import GANStep
from nabla.train.trainer import TrainingDiverged


def _adam(params, lr=2e-4):
    return nb.optim.Adam(params, lr=lr, betas=(0.5, 0.999))


def _gan(name="dcgan", seed=0, step_seed=0, **options):
    nb.manual_seed(seed)
    small = {"dcgan": {"width": 4, "latent": 8}, "gan": {"hidden": 8, "latent": 8}}[name]
    m = build_model(name, (1, 28, 28), 10, **{**small, **options})
    return m, GANStep(m, _adam(m.discriminator.parameters()), _adam(m.generator.parameters()), seed=step_seed)


def _batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, n)


def _snapshot(module):
    return {k: v.data.copy() for k, v in module.named_parameters()}


def _changed(before, module):
    return {k for k, v in module.named_parameters() if not np.array_equal(before[k], v.data)}


class Spy:
    """A callback that records, at each before_optimizer_step, which parameters it got and the state of both
    networks (parameters and which have gradients)."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def on_before_optimizer_step(self, trainer, parameters):
        g, d = self.model.generator, self.model.discriminator
        self.calls.append({"ids": {id(p) for p in parameters}, "g": _snapshot(g), "d": _snapshot(d),
                           "g_grads": [p.grad is not None for p in g.parameters()],
                           "d_grads": [p.grad is not None for p in d.parameters()]})


@pytest.mark.parametrize("conditional", [False, True])
def test_discriminator_then_generator_each_through_before_optimizer_step(conditional):
    model, step = _gan(conditional=conditional)
    spy = Spy(model)
    Trainer(step, callbacks=[spy], progress=False)       # sets step.trainer
    g, d = model.generator, model.discriminator
    g0, d0 = _snapshot(g), _snapshot(d)
    logs = step.train_step(_batch())
    assert len(spy.calls) == 2                            # once per optimizer
    first, second = spy.calls
    assert first["ids"] == {id(p) for p in d.parameters()} and second["ids"] == {id(p) for p in g.parameters()}
    # (a) D's gradients only; D's step changes D, not G
    assert all(first["d_grads"]) and not any(first["g_grads"])
    assert all(np.array_equal(first["g"][k], second["g"][k]) for k in g0)               # G untouched by (a)
    assert all(not np.array_equal(first["d"][k], second["d"][k]) for k in d0)           # every D parameter moved
    # (b) G's gradients only, none left in D from this pass; G's step changes G, not D
    assert all(second["g_grads"]) and not any(second["d_grads"])
    assert _changed(second["d"], d) == set()
    assert _changed(second["g"], g) == set(g0)
    assert all(p.requires_grad for p in model.parameters())       # D unfrozen again
    assert set(logs) == {"loss", "d_loss", "g_loss", "d_real", "d_fake", "batch_size"}
    assert logs["loss"] == pytest.approx(logs["d_loss"] + logs["g_loss"]) and logs["batch_size"] == 8
    assert 0 < logs["d_real"] < 1 and 0 < logs["d_fake"] < 1
    step.train_step(_batch(seed=1))
    assert len(spy.calls) == 4


def test_optimizers_are_both_and_the_first_is_the_discriminators():
    model, step = _gan()
    assert step.optimizers() == [step.d_optimizer, step.g_optimizer]
    assert step.monitor == ("val_g_loss", "min")
    assert GANStep(model, step.d_optimizer, step.g_optimizer, fid=lambda s: {"fid": 1.0}).monitor == ("val_fid", "min")


def test_a_nan_loss_stops_before_the_weights_change():
    model, step = _gan()
    Trainer(step, progress=False)
    before = _snapshot(model)
    images, labels = _batch()
    images[0, 0, 0, 0] = np.nan
    with pytest.raises(TrainingDiverged), np.errstate(invalid="ignore"):
        step.train_step((images, labels))
    assert _changed(before, model) == set()
    assert all(p.requires_grad for p in model.parameters())


def test_conditional_step_needs_the_batch_labels():
    model, step = _gan(conditional=True)
    with pytest.raises(ValueError, match="needs labels"):
        step.train_step(_batch()[0])


@pytest.mark.parametrize("name", ["dcgan", "gan"])
def test_resume_is_bit_identical(name, tmp_path):
    """Two steps straight == one step, a checkpoint, fresh objects loading it, one more step."""
    b1, b2 = _batch(seed=1), _batch(seed=2)
    model, step = _gan(name)
    step.train_step(b1)
    step.train_step(b2)
    straight = {k: np.array(v.data) for k, v in model.state_dict().items()}

    model, step = _gan(name)
    step.train_step(b1)
    state = dict(step.state_dict(), rng=nb.get_rng_state())    # the global generator: the MLP's dropout
    save_checkpoint(tmp_path / "ck.safetensors", state)
    model2, step2 = _gan(name, seed=5, step_seed=9)             # other weights and noise until loaded
    loaded = load_checkpoint(tmp_path / "ck.safetensors")
    assert set(loaded) >= {"model", "optimizers", "noise_rng"} and set(loaded["optimizers"]) == {
        "discriminator", "generator"}
    step2.load_state_dict(loaded)
    nb.set_rng_state(loaded["rng"])
    step2.train_step(b2)
    resumed = model2.state_dict()
    assert set(resumed) == set(straight)
    for k in straight:
        np.testing.assert_array_equal(resumed[k].data, straight[k], err_msg=k)


def test_evaluate_reports_losses_and_scores_fixed_seed_samples():
    model, step = _gan(conditional=True)
    seen = []

    def fid(samples):
        seen.append(samples)
        return {"fid": float(samples.mean()) * 100, "coverage": 10, "shares": np.ones(10)}

    step = GANStep(model, step.d_optimizer, step.g_optimizer, fid=fid, eval_samples=30)
    val = [_batch(8, seed=3), _batch(5, seed=4)]
    rng_state = step.rng.bit_generator.state
    r1 = step.evaluate(val)
    r2 = step.evaluate(val)
    assert r1 == r2                                       # fixed noise: evaluations compare
    assert step.rng.bit_generator.state == rng_state       # the training noise is untouched
    assert set(r1) == {"loss", "d_loss", "g_loss", "d_real", "d_fake", "fid", "coverage"}   # numbers only
    assert r1["loss"] == pytest.approx(r1["d_loss"] + r1["g_loss"])
    assert len(seen) == 2 and seen[0].shape == (30, 1, 28, 28) and seen[0].dtype == np.float32
    assert 0 <= seen[0].min() and seen[0].max() <= 1
    np.testing.assert_array_equal(seen[0], seen[1])
    np.testing.assert_array_equal(step.eval_labels(12), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    assert all(m.training for m in model.modules())       # modes restored
    step.train_step(_batch())
    step.evaluate(val)
    assert not np.array_equal(seen[2], seen[0])           # the model changed, the noise did not
    assert GANStep(model, step.d_optimizer, step.g_optimizer).evaluate(None) == {}
    evaluator = GANStep(model, None, None)                # nabla eval's step: no optimizers
    assert evaluator.optimizers() == [] and evaluator.state_dict()["optimizers"] == {}
    evaluator.load_state_dict(step.state_dict())


def test_trainer_runs_the_step_and_logs_both_losses_and_val_fid(tmp_path):
    model, step = _gan()
    step = GANStep(model, step.d_optimizer, step.g_optimizer, fid=lambda s: {"fid": float(s.std())},
                   eval_samples=16)
    trainer = Trainer(step, progress=False)
    history = trainer.fit([_batch(seed=i) for i in range(3)], val_data=[_batch(seed=9)], epochs=2)
    assert trainer.global_step == 6
    assert {"loss", "d_loss", "g_loss", "d_real", "d_fake", "val_fid", "val_g_loss", "lr"} <= set(history)
    assert len(history["val_fid"]) == 2
    trainer.save_checkpoint(tmp_path / "last.safetensors")
    state = load_checkpoint(tmp_path / "last.safetensors")
    assert set(state["model"]) == set(model.state_dict())


def test_a_toy_gan_learns_the_data_mean():
    """2-D points N((0.5, -0.3), 0.05^2) as 1x1x2 "images": the generated mean, far off at the start,
    comes within 0.15 of the data's in 400 steps, and the discriminator is not left winning."""
    nb.manual_seed(0)
    model = build_model("gan", (1, 1, 2), 10, hidden=32, latent=4, dropout=0.0)
    step = GANStep(model, _adam(model.discriminator.parameters(), 2e-3), _adam(model.generator.parameters(), 2e-3))
    mu = np.array([0.5, -0.3], np.float32)

    def error():
        return np.abs(model.sample(2000, generator=0).reshape(-1, 2).mean(0) * 2 - 1 - mu).max()

    start = error()
    rng = np.random.default_rng(100)
    logs = [step.train_step(((mu + 0.05 * rng.standard_normal((64, 2))).astype(np.float32).reshape(64, 1, 1, 2),
                             None)) for _ in range(400)]
    end = error()
    assert start > 0.3 and end < 0.15 and end < start / 3, (start, end)
    d_real = np.mean([r["d_real"] for r in logs[-50:]])
    d_fake = np.mean([r["d_fake"] for r in logs[-50:]])
    assert 0.3 < d_fake < 0.7 and 0.3 < d_real < 0.7, (d_real, d_fake)
