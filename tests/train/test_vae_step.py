"""VAEStep: the -ELBO falls over a few steps, its terms are logged, evaluation is repeatable and leaves the
training RNG alone, images outside [0, 1] are refused, and a Trainer drives it (checkpoint layout, monitor)."""
import numpy as np
import pytest

import nabla as nb
from nabla.data import DataLoader, TensorDataset
from nabla.models import VAE, build_model
from nabla.train import Trainer
from nabla.train.steps import VAEStep
from nabla.train.tasks.generative import figures_line


def _data(n=256, seed=0):
    """Binary 8x8 images from four fixed patterns with 5% of the pixels flipped, and dummy labels."""
    patterns = np.random.default_rng(99).random((4, 1, 8, 8)) < 0.4
    rng = np.random.default_rng(seed)
    images = patterns[rng.integers(0, 4, n)] ^ (rng.random((n, 1, 8, 8)) < 0.05)
    return images.astype(np.float32), rng.integers(0, 10, n)


def _step(lr=1e-2):
    nb.manual_seed(0)
    model = VAE((1, 8, 8), 10, hidden=32, latent=2)
    return VAEStep(model, nb.optim.Adam(model.parameters(), lr=lr))


def test_train_step_lowers_the_loss_and_logs_its_terms():
    step = _step()
    images, labels = _data(64)
    logs = [step.train_step((images, labels)) for _ in range(40)]
    assert set(logs[0]) == {"loss", "rec", "kl", "batch_size"} and logs[0]["batch_size"] == 64
    assert logs[0]["loss"] == pytest.approx(logs[0]["rec"] + logs[0]["kl"], rel=1e-5)
    assert np.mean([r["loss"] for r in logs[-5:]]) < 0.6 * logs[0]["loss"]
    step.train_step((nb.tensor(images), nb.tensor(labels)))       # Tensors as well as arrays


def test_evaluate_is_repeatable_and_leaves_the_training_rng_alone():
    step = _step()
    images, labels = _data(100)
    loader = [(images[:60], labels[:60]), (images[60:], labels[60:])]
    nb.manual_seed(5)
    before = nb.backend.get_rng_state()
    step.model.train()
    first, second = step.evaluate(loader), step.evaluate(loader)
    assert nb.backend.get_rng_state() == before and step.model.training
    assert first == second and first["images"] == 100
    assert first["neg_elbo"] == pytest.approx(first["rec"] + first["kl"]) and first["loss"] == first["neg_elbo"]
    assert step.monitor == ("val_neg_elbo", "min")


def test_images_outside_zero_one_are_refused():
    step = _step()
    images, labels = _data(8)
    with pytest.raises(ValueError, match=r"VAEStep: images must lie in \[0, 1\].*\[-1, 1\]"):
        step.train_step((images * 2 - 1, labels))


def test_a_trainer_drives_it():
    step = _step()
    images, labels = _data(256)
    train = DataLoader(TensorDataset(nb.tensor(images), nb.tensor(labels)), batch_size=32, shuffle=True)
    valid = DataLoader(TensorDataset(*(nb.tensor(a) for a in _data(64, seed=1))), batch_size=32)
    trainer = Trainer(step, progress=False)
    history = trainer.fit(train, valid, epochs=3)
    assert history["val_neg_elbo"][-1] < history["val_neg_elbo"][0] and "rec" in history and "kl" in history
    state = step.state_dict()
    assert set(state) == {"model", "optimizer"}
    clone = VAEStep(build_model("vae", (1, 8, 8), 10, hidden=32, latent=2), None)
    clone.load_state_dict(state)
    assert clone.evaluate(valid) == step.evaluate(valid)


def test_the_vae_figures_line():
    line = figures_line({"neg_elbo": 99.123, "rec": 73.4, "kl": 25.72, "iwae_nll": 94.31})
    assert line == "neg_elbo=99.1230 rec=73.4000 kl=25.7200 iwae_nll=94.3100"
