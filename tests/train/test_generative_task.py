"""The generative tasks: the VAE, GAN and PixelCNN through `nabla train` / `nabla eval` / `nabla sample`, their
last lines, epoch-wise binarization reaching the data set, and the checks that keep a user from a wrong run."""
import json
import os

import numpy as np
import pytest

from nabla.models import build_model, get_model_entry
from nabla.train import run as runs
from nabla.train import settings as S
from nabla.train.generative_sampling import free_name, keep_mask, sample_command
from nabla.train.tasks import get_task
from nabla.train.tasks.generative import EpochLoader, figures_line, first


def _train(tmp_path, model, dataset, options, steps=3, limit=40, **settings):
    lines = []
    request = runs.Request(model=model, dataset=dataset, options=options,
                           settings={"max_steps": steps, "batch_size": 8, **settings}, out=str(tmp_path / model),
                           progress=False, eval_limit=limit)
    result = runs.train(request, echo=lines.append)
    return result, lines


def _last_figures(lines):
    return [ln for ln in lines if "=" in ln and not ln.startswith(("checkpoints", "samples"))][-1]


def test_vae_trains_evaluates_and_samples(tmp_path):
    result, lines = _train(tmp_path, "vae", "binarized-mnist-5k", {"hidden": "16", "latent": "4"})
    last = _last_figures(lines)
    assert last.startswith("neg_elbo=") and " rec=" in last and " kl=" in last and " iwae_nll=" in last
    assert " fid=" in last and " coverage=" in last and " inception_score=" in last
    assert abs(result["neg_elbo"] - result["rec"] - result["kl"]) < 1e-3
    assert any("IWAE NLL estimate" in ln and "k=1000" in ln for ln in lines)
    folder = tmp_path / "vae"
    saved = json.loads((folder / "test.json").read_text())
    assert saved["model"] == "vae" and saved["neg_elbo"] == pytest.approx(result["neg_elbo"])
    out = []
    runs.evaluate(str(folder / "last.safetensors"), eval_limit=30, iwae_k=20, echo=out.append)
    assert out[-1].startswith("neg_elbo=") and any("(k=20)" in ln for ln in out)
    pytest.importorskip("PIL", reason="sample grids need Pillow (nabla[vision])")
    assert (folder / "samples.png").exists()
    model, config, _ = runs.rebuild_from_checkpoint(folder / "last.safetensors")
    said = []
    walk = sample_command(model, config, {"interpolate": True, "num_samples": 20, "out": str(tmp_path / "w.png")},
                          said.append)
    assert os.path.exists(walk["out"]) and "2 latent walks of 10 steps" in said[-1]
    sample_command(model, config, {"inpaint": "test:3", "keep": "left", "num_samples": 4,
                                   "out": str(tmp_path / "i.png")}, said.append)
    assert "4 completions" in said[-1]
    with pytest.raises(ValueError, match="not conditional.*only a conditional GAN"):
        sample_command(model, config, {"label": 3}, said.append)


def test_pixelcnn_reports_exact_nll_and_bits_per_dim(tmp_path):
    result, lines = _train(tmp_path, "pixelcnn", "binarized-mnist-5k", {"hidden": "4", "blocks": "1"})
    last = _last_figures(lines)
    assert last.startswith("nll=") and "bits_per_dim=" in last
    assert result["bits_per_dim"] == pytest.approx(result["nll"] / (784 * np.log(2)), rel=1e-6)
    assert any("(exact, 40 images)" in ln for ln in lines)


def test_dcgan_trains_two_optimizers_and_reports_fid_with_its_floor(tmp_path):
    result, lines = _train(tmp_path, "dcgan", "mnist-5k", {}, steps=2, limit=100)
    last = _last_figures(lines)
    for key in ("fid=", "fid_floor=", "coverage=", "class_kl=", "inception_score="):
        assert key in last
    assert result["fid"] > result["fid_floor"] > 0 and 0 <= result["coverage"] <= 10
    assert any(ln.startswith("sample share per class: 0:") for ln in lines)
    history = json.loads((tmp_path / "dcgan" / "history.json").read_text())
    assert {"d_loss", "g_loss", "val_fid"} <= set(history[0] if isinstance(history, list) else history)


def test_a_gan_refuses_a_per_epoch_schedule_it_could_not_follow():
    task, entry = get_task("gan"), get_model_entry("dcgan")
    settings = S.resolve("gan", entry.training, None, {"scheduler": "cosine"})
    data = task.load("mnist-5k", settings, download=True)
    model = build_model("dcgan", data.in_shape, data.num_classes)
    with pytest.raises(ValueError, match="cosine.*two optimizers"):
        task.make_step(entry, model, S.make_optimizer(settings, model.parameters()), data, settings)


def test_the_loader_redraws_binary_images_each_epoch():
    task, entry = get_task("vae"), get_model_entry("vae")
    settings = S.resolve("vae", entry.training, None, {"batch_size": 16})
    data = task.load("binarized-mnist-5k", settings, download=True)
    model = build_model("vae", data.in_shape, data.num_classes, hidden=8, latent=2)
    step, loader, val = task.make_step(entry, model, S.make_optimizer(settings, model.parameters()), data, settings)
    assert isinstance(loader, EpochLoader) and "binarized afresh each epoch" in data.sizes
    loader.set_epoch(0)
    state = loader.state_dict()
    a = next(iter(loader))[0].data
    loader.load_state_dict(state)
    loader.set_epoch(1)
    b = next(iter(loader))[0].data
    assert set(np.unique(a)) <= {0.0, 1.0} and not np.array_equal(a, b)   # same images, fresh bits
    loader.load_state_dict(state)
    loader.set_epoch(0)
    assert np.array_equal(next(iter(loader))[0].data, a)                  # and the same bits again


def test_a_gan_sees_minus_one_to_one_and_others_zero_to_one():
    task, entry = get_task("gan"), get_model_entry("dcgan")
    settings = S.resolve("gan", entry.training, None, {"batch_size": 64})
    data = task.load("mnist-5k", settings, download=True)
    model = build_model("dcgan", data.in_shape, data.num_classes)
    _, loader, _ = task.make_step(entry, model, S.make_optimizer(settings, model.parameters()), data, settings)
    x = next(iter(loader))[0].data
    assert x.min() == pytest.approx(-1.0) and x.max() == pytest.approx(1.0) and data.config["normalize"] == [0.5, 0.5]


def test_sampling_helpers(tmp_path):
    m = keep_mask((4, 6), "top")
    assert m[:2].all() and not m[2:].any()
    assert keep_mask((4, 6), "right")[:, 3:].all() and not keep_mask((4, 6), "right")[:, :3].any()
    with pytest.raises(ValueError, match="--keep"):
        keep_mask((4, 4), "middle")
    (tmp_path / "samples.png").write_bytes(b"")
    assert free_name(str(tmp_path)).endswith("samples-2.png")
    assert figures_line({"fid": 12.3456, "coverage": 9}) == "fid=12.3456 coverage=9"
    assert len(first(list(range(10)), 3)) == 3 and len(first(list(range(10)), None)) == 10


def test_a_conditional_gan_draws_the_class_asked_for(tmp_path):
    _train(tmp_path, "dcgan", "mnist-5k", {"conditional": "true", "width": "8", "latent": "8"}, steps=1, limit=50)
    model, config, _ = runs.rebuild_from_checkpoint(tmp_path / "dcgan" / "last.safetensors")
    assert model.conditional
    said = []
    with pytest.raises(ValueError, match="--label 10: the model knows classes 0-9"):
        sample_command(model, config, {"label": 10}, said.append)
    pytest.importorskip("PIL", reason="sample grids need Pillow (nabla[vision])")
    out = sample_command(model, config, {"label": 3, "num_samples": 16, "out": str(tmp_path / "threes.png")},
                         said.append)
    assert os.path.exists(out["out"]) and said[-1].startswith("16 samples of class 3")
    with pytest.raises(ValueError, match="cannot complete an image"):
        sample_command(model, config, {"inpaint": "test:0"}, said.append)
    with pytest.raises(ValueError, match="no latent space"):
        sample_command(model, config, {"interpolate": True}, said.append)
