"""The VAEs: shapes and registry facts; the analytic KL against Monte Carlo; the Bernoulli NLL against its
formula; loss gradients against central differences; on a briefly trained VAE the IWAE bound below the
-ELBO and equal to it in expectation at k=1; sampling, inpainting and the latent walk."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla.autograd.numerical import gradcheck
from nabla.models import ConvVAE, VAE, build_model, get_model_entry
from nabla.models.vae import bernoulli_nll, elbo_terms, gaussian_kl, iwae_nll


def _binary(n, shape=(1, 28, 28), seed=0, p=0.2):
    return (np.random.default_rng(seed).random((n,) + shape) < p).astype(np.float32)


def prototypes(n, seed=0, side=8):
    """A synthetic binary set: n images (1, side, side), each one of four fixed patterns (the same for every
    seed) with 5% of its pixels flipped (a handful of clusters, easy for a small VAE, in a second of training)."""
    patterns = np.random.default_rng(99).random((4, 1, side, side)) < 0.4
    rng = np.random.default_rng(seed)
    images = patterns[rng.integers(0, 4, n)] ^ (rng.random((n, 1, side, side)) < 0.05)
    return images.astype(np.float32)


@pytest.fixture(scope="module")
def trained():
    """A VAE (64 -> 32 -> 2 latents) after 300 Adam steps on ``prototypes``, and held-out images."""
    nb.manual_seed(0)
    model = VAE((1, 8, 8), 10, hidden=32, latent=2)
    opt = nb.optim.Adam(model.parameters(), lr=1e-2)
    data = prototypes(2048)
    for i in range(300):
        x = nb.tensor(data[(i * 64) % 2048:(i * 64) % 2048 + 64])
        rec, kl = elbo_terms(model, x)
        opt.zero_grad()
        (rec + kl).mean().backward()
        opt.step()
    return model, prototypes(64, seed=1)


# ---------------------------------------------------------------------- the models
def test_vae_is_the_784_400_20_network():
    model = build_model("vae", (1, 28, 28), 10)
    assert isinstance(model, VAE) and model.latent_dim == 20 and model.family == "vae" and not model.conditional
    assert model.in_shape == (1, 28, 28) and model.num_classes == 10
    assert model.num_parameters() == (784 * 400 + 400) + 2 * (400 * 20 + 20) + (20 * 400 + 400) + (400 * 784 + 784)
    logits, mu, logvar = model(nb.tensor(_binary(3)))
    assert logits.shape == (3, 1, 28, 28) and mu.shape == logvar.shape == (3, 20)
    assert model.decode(nb.randn(2, 20)).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("in_shape", [(1, 28, 28), (3, 32, 16), (1, 8, 8)])
def test_conv_vae_shapes(in_shape):
    model = build_model("conv-vae", in_shape, 10, latent=8, width=4, hidden=16)
    assert isinstance(model, ConvVAE) and model.latent_dim == 8
    logits, mu, logvar = model(nb.tensor(_binary(2, in_shape)))
    assert logits.shape == (2,) + in_shape and mu.shape == (2, 8)


def test_registry_facts():
    for name in ("vae", "conv-vae"):
        entry = get_model_entry(name)
        assert entry.task == "vae" and entry.default_dataset == "binarized-mnist"
        assert entry.training["optimizer"] == "adam" and entry.training["lr"] == 1e-3
        assert entry.training["batch_size"] == 128 and entry.training["scheduler"] == "none"
    assert get_model_entry("vae").options == {"hidden": 400, "latent": 20}
    assert get_model_entry("conv-vae").options["latent"] == 20


def test_bad_shapes_are_one_line_errors():
    with pytest.raises(ValueError, match=r"ConvVAE: in_shape \(1, 30, 30\) needs H and W divisible by 4"):
        build_model("conv-vae", (1, 30, 30), 10)
    with pytest.raises(ValueError, match=r"VAE: expected images \(N, 1, 28, 28\), got shape \(2, 784\)"):
        build_model("vae", (1, 28, 28), 10).encode(nb.zeros(2, 784))
    with pytest.raises(ValueError, match="latent"):
        VAE((1, 28, 28), 10, latent=0)


# ---------------------------------------------------------------------- the loss terms
def test_gaussian_kl_matches_monte_carlo():
    """E_q[log q(z) - log p(z)] over 200,000 draws per row agrees with the closed form within 5 standard
    errors of the estimate (about 0.01-0.03 nats here)."""
    rng = np.random.default_rng(0)
    mu, logvar = rng.normal(0, 1, (4, 3)), rng.normal(0, 0.7, (4, 3))
    kl = gaussian_kl(nb.tensor(mu), nb.tensor(logvar)).data
    assert kl.shape == (4,)
    eps = rng.standard_normal((200_000, 4, 3))
    z = mu + np.exp(0.5 * logvar) * eps
    log_ratio = (-0.5 * (logvar + eps ** 2) + 0.5 * z ** 2).sum(axis=2)   # log q - log p; the 2 pi terms cancel
    mc, se = log_ratio.mean(axis=0), log_ratio.std(axis=0) / math.sqrt(len(eps))
    assert np.all(np.abs(kl - mc) < 5 * se), (kl, mc, se)
    assert gaussian_kl(nb.zeros(2, 5), nb.zeros(2, 5)).data.tolist() == [0.0, 0.0]


def test_bernoulli_nll_matches_the_formula_and_is_stable():
    rng = np.random.default_rng(1)
    logits, x = rng.normal(0, 3, (5, 1, 4, 4)), rng.random((5, 1, 4, 4))   # grey-level targets too
    s = 1 / (1 + np.exp(-logits))
    direct = -(x * np.log(s) + (1 - x) * np.log(1 - s)).reshape(5, -1).sum(axis=1)
    np.testing.assert_allclose(bernoulli_nll(nb.tensor(logits), nb.tensor(x)).data, direct, rtol=1e-12)
    big = bernoulli_nll(nb.tensor(np.array([[100.0, -100.0, 1e4]])), nb.tensor(np.array([[0.0, 1.0, 1.0]])))
    np.testing.assert_allclose(big.data, [200.0])


@pytest.mark.parametrize("make", [lambda: VAE((1, 3, 3), 10, hidden=4, latent=2),
                                  lambda: ConvVAE((1, 4, 4), 10, latent=2, width=2, hidden=3)],
                         ids=["vae", "conv-vae"])
def test_loss_gradients_match_central_differences(make):
    nb.manual_seed(0)
    model = make().double()
    x = nb.tensor(_binary(3, (1,) + model.in_shape[1:], seed=2).astype(np.float64))

    def loss(*params):
        rec, kl = elbo_terms(model, x, generator=np.random.default_rng(5))   # the same eps every call
        return (rec + kl).mean()
    assert gradcheck(loss, list(model.parameters()), atol=1e-6, rtol=1e-5)


# ---------------------------------------------------------------------- the likelihood bound
def test_training_lowers_the_neg_elbo(trained):
    model, x = trained
    rec, kl = elbo_terms(model, x, generator=0)
    assert float((rec + kl).data.mean()) < 30.0     # 64 pixels: ~44 nats untrained, ~12 at 5% flips + cluster


def test_iwae_bound_lies_below_the_neg_elbo(trained):
    """-ELBO >= IWAE(k=10) >= IWAE(k=200) on average (Burda et al., theorem 1), here by clear margins."""
    model, x = trained
    reps = np.concatenate([x] * 20)                    # 20 draws of the one-sample -ELBO per image
    with nb.no_grad():
        rec, kl = elbo_terms(model, reps, generator=0)
    neg_elbo = float((rec + kl).data.mean())
    k10, k200 = (float(iwae_nll(model, x, k=k, generator=1).mean()) for k in (10, 200))
    assert k200 < k10 < neg_elbo, (k200, k10, neg_elbo)


def test_iwae_with_one_sample_is_the_neg_elbo_in_expectation(trained):
    """k=1 is rec + (log q - log p) at one z: its mean over 200 draws per image equals rec + analytic KL's
    within 5 standard errors."""
    model, x = trained
    reps = np.concatenate([x] * 200)
    one = iwae_nll(model, reps, k=1, generator=2)
    with nb.no_grad():
        rec, kl = elbo_terms(model, reps, generator=3)
    elbo = (rec + kl).data.astype(np.float64)
    se = math.sqrt(one.var() / len(one) + elbo.var() / len(elbo))
    assert abs(one.mean() - elbo.mean()) < 5 * se, (one.mean(), elbo.mean(), se)


def test_iwae_chunking_does_not_change_the_estimate(trained):
    model, x = trained
    whole = iwae_nll(model, x, k=30, batch=64, chunk=30, generator=4)
    pieces = iwae_nll(model, x, k=30, batch=64, chunk=7, generator=4)   # the same draws, in 5 passes
    assert whole.shape == (64,) and whole.dtype == np.float64
    np.testing.assert_allclose(pieces, whole, rtol=1e-5)
    with pytest.raises(ValueError, match="iwae_nll: k, batch and chunk must be positive"):
        iwae_nll(model, x, k=0)


# ---------------------------------------------------------------------- generation
def test_sample_is_reproducible_and_in_range():
    model = build_model("vae", (1, 28, 28), 10)
    a, b = model.sample(6, generator=7), model.sample(6, generator=np.random.default_rng(7))
    assert a.shape == (6, 1, 28, 28) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, model.sample(6, generator=8))
    nb.manual_seed(3)
    c = model.sample(2)
    nb.manual_seed(3)
    np.testing.assert_array_equal(c, model.sample(2))
    with pytest.raises(ValueError, match="VAE is unconditional"):
        model.sample(2, labels=np.arange(2))


@pytest.mark.parametrize("name", ["vae", "conv-vae"])
def test_inpaint_keeps_the_kept_pixels_exactly(name):
    model = build_model(name, (1, 28, 28), 10, latent=4)
    images = np.random.default_rng(0).random((2, 1, 28, 28)).astype(np.float32)
    keep = np.zeros((28, 28), bool)
    keep[:14] = True                                    # the top half given
    out = model.inpaint(images, keep, num_completions=3, generator=0, rounds=4)
    assert out.shape == (2, 3, 1, 28, 28) and 0 <= out.min() and out.max() <= 1
    np.testing.assert_array_equal(out[:, :, :, :14], np.broadcast_to(images[:, None, :, :14], (2, 3, 1, 14, 28)))
    assert not np.allclose(out[:, 0, :, 14:], out[:, 1, :, 14:])      # completions differ
    np.testing.assert_array_equal(out, model.inpaint(images, keep, 3, generator=0, rounds=4))
    with pytest.raises(ValueError, match="keep_mask"):
        model.inpaint(images, keep[:10], 1)


def test_interpolate_walks_between_the_two_means(trained):
    model, x = trained
    walk = model.interpolate(x[0], x[1:2], steps=5)
    assert walk.shape == (5, 1, 8, 8)
    with nb.no_grad():
        mu = model.encode(nb.tensor(x[:2]))[0]
        ends = nb.nn.functional.sigmoid(model.decode(mu)).data
    np.testing.assert_allclose(walk[[0, -1]], ends, rtol=1e-5, atol=1e-6)
    assert np.abs(walk[2] - walk[0]).sum() > 0
