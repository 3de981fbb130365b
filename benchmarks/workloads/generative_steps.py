"""Generative training steps (issue 15, "Speed"): nabla's registered ``vae``, ``dcgan`` and ``pixelcnn`` (registry
defaults, MNIST shapes) against the same architectures written in PyTorch under the same parameter names, one
training step on a fixed batch.  Both sides read the same images, the same noise and **nabla's own initial
weights** (``nabla.manual_seed(0)``, then ``build_model``) from one ``.npz`` that the workload's ``config()``
writes (the PyTorch worker never imports nabla); the smoke test checks that both first losses agree.

- ``vae_train_b128``: the 784-400-20 VAE (Bernoulli decoder), 128 ``binarized-mnist`` training images (seed 0,
  epoch 0, images 0..127); loss = mean over the images of (sum over the pixels of BCE-with-logits + the analytic
  KL), as ``VAEStep``; backward; Adam 1e-3.  The reparameterisation's eps is the same array on both sides: each
  step draws it from a fresh ``np.random.default_rng(EPS_SEED)`` (nabla: ``model(x, generator=EPS_SEED)``;
  PyTorch: ``torch.from_numpy`` of the same draw), so both pay the same draw and see the same numbers.
- ``vae_train_b128_numpy_floor``: that step written by hand in plain NumPy (float32; forward, gradients derived
  on paper, Adam with nabla's in-place kernel), against PyTorch's ``vae_train_b128`` -- the floor for any NumPy
  framework.  The issue's alternative goal for a step dominated by matrix products is nabla within 1.10x of this
  floor: ``python -m benchmarks.numpy_floor vae_train_b128`` times nabla, the floor and PyTorch in alternating
  processes and prints all three ratios.
- ``dcgan_train_b64``: one GAN step as ``GANStep`` does it, 64 MNIST training images (0..63) in [-1, 1] and a
  fixed z (64 x 64, seed 1): fake = G(z); (a) D: BCE(D(x), 1) + BCE(D(fake.detach()), 0), backward, Adam(2e-4,
  betas (0.5, 0.999)); (b) G, non-saturating: BCE(D(fake), 1) through the updated D with D's parameters frozen
  (no weight gradients for D), backward, G's Adam.  The step returns (L_D, L_G): both are compared.
- ``pixelcnn_train_b32``: PixelCNN (hidden 32, 6 residual mask-B blocks), 32 ``binarized-mnist`` training
  images; loss = mean over the images of the summed BCE-with-logits (``AutoregressiveStep``); Adam 1e-3.  PyTorch
  side: ``conv2d(x, weight * mask, bias)`` with the full kernel (the way pytorch-generative writes it); nabla's
  ``MaskedConv2d`` drops the kernel's all-zero rows below the centre, which is part of what is measured.
"""
from __future__ import annotations

import os
import tempfile

import numpy as np

from . import Workload, framework, register, training_step
from ._scenes import load_params

FORMAT = 1          # bump when the data file's contents change
SEED = 0            # nabla.manual_seed before build_model: the initial weights
EPS_SEED = 2        # the VAE's reparameterisation noise, drawn afresh (the same) each step
Z_SEED = 1          # the GAN's fixed z
VAE_BATCH, GAN_BATCH, PIXELCNN_BATCH = 128, 64, 32
LATENT_VAE = 20


# ------------------------------------------------------------------------------------------ shared data
def _write_config(name: str, model: str, batch: int, images: str, **extra) -> dict:
    """The workload's config: writes the batch (``images``: "binarized" -> binarized-mnist, "pm1" -> MNIST grey
    levels mapped to [-1, 1]), the GAN's z and nabla's initial parameters to one .npz, rewritten at each call
    (a changed model never meets a stale file).  A missing MNIST is reported in the config, and both set-ups
    raise ImportError with the message (the harness skips the workload, the smoke test skips it)."""
    from nabla.data.datasets import DatasetNotFoundError
    try:
        x = _images(images, batch)
    except DatasetNotFoundError as e:
        return {"missing": str(e)}
    import nabla
    from nabla.models import build_model
    nabla.manual_seed(SEED)
    net = build_model(model, (1, 28, 28), 10)
    arrays = {"images": x, **{f"param:{k}": np.array(p.data) for k, p in net.named_parameters()}}
    if model == "dcgan":
        arrays["z"] = net.noise(batch, Z_SEED)
    folder = os.path.join(tempfile.gettempdir(), "nabla-bench-generative")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{name}-v{FORMAT}.npz")
    tmp = f"{path}.{os.getpid()}.tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)  # a worker never reads a half-written file
    return {"model": model, "batch": batch, "data": path, **extra}


def _images(kind: str, batch: int) -> np.ndarray:
    if kind == "binarized":
        from nabla.data.datasets import BinarizedMNIST
        x, _ = BinarizedMNIST(train=True, seed=0, epoch=0).get_batch(np.arange(batch))
        return x.astype(np.float32)
    from nabla.data.datasets import MNIST
    grey = MNIST(train=True).data.data[:batch].reshape(batch, 1, 28, 28).astype(np.float32) / 255.0
    return (grey - 0.5) / 0.5


def _load(cfg: dict, key: str = "images") -> np.ndarray:
    """An array of the data file, cut to the smoke test's batch where it sets one."""
    if "missing" in cfg:
        raise ImportError(cfg["missing"])
    b = cfg.get("smoke_batch", cfg["batch"])
    with np.load(cfg["data"]) as f:
        return np.ascontiguousarray(f[key][:b])


def _check(cfg: dict) -> None:
    if "missing" in cfg:
        raise ImportError(cfg["missing"])


# ------------------------------------------------------------------------------------------ VAE
def torch_vae(torch, hidden=400, latent=LATENT_VAE, in_shape=(1, 28, 28)):
    """nabla's ``VAE`` in PyTorch, the same parameter names (the PyTorch example's network)."""
    nn = torch.nn
    d = int(np.prod(in_shape))

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(d, hidden), nn.ReLU())
            self.fc_mu, self.fc_logvar = nn.Linear(hidden, latent), nn.Linear(hidden, latent)
            self.decoder = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, d),
                                         nn.Unflatten(1, in_shape))

        def forward(self, x, eps):
            h = self.encoder(x)
            mu, logvar = self.fc_mu(h), self.fc_logvar(h)
            z = mu + (0.5 * logvar).exp() * eps
            return self.decoder(z), mu, logvar

    return VAE()


def _eps(batch: int) -> np.ndarray:
    return np.random.default_rng(EPS_SEED).standard_normal((batch, LATENT_VAE), dtype=np.float32)


def _nabla_model(cfg, name: str):
    """``(model, x, Adam)`` for the registry's ``name`` with the run's shared weights and batch, in train mode."""
    nb = framework("nabla", "nn", "optim")
    from nabla.models import build_model
    model = build_model(name, (1, 28, 28), 10)
    load_params(nb, model, cfg)
    model.train()
    return model, nb.tensor(_load(cfg)), nb.optim.Adam(model.parameters(), lr=cfg["lr"])


def _vae_nabla(cfg):
    from nabla.models.vae import elbo_terms
    model, x, opt = _nabla_model(cfg, "vae")

    def loss():
        rec, kl = elbo_terms(model, x, generator=EPS_SEED)   # as VAEStep.train_step, eps from a fixed seed
        return (rec + kl).mean()
    return training_step(opt, loss)


def _vae_torch(cfg):
    torch = framework("torch")
    F = torch.nn.functional
    x = torch.from_numpy(_load(cfg))
    n = x.shape[0]
    model = torch_vae(torch)
    load_params(torch, model, cfg)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])

    def loss():
        eps = torch.from_numpy(_eps(n))
        logits, mu, logvar = model(x, eps)
        rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = 0.5 * (mu * mu + logvar.exp() - logvar - 1.0).sum()
        return (rec + kl) / n
    return training_step(opt, loss)


class NumpyVAEStep:
    """The ``vae_train_b128`` step by hand in plain NumPy, float32, no framework: forward, the loss, the
    gradients derived on paper, and Adam (nabla's kernel: one scratch array, in-place passes).  Weights are
    (out, in) as nn.Linear's; ``params`` maps nabla's parameter names to arrays (updated in place).

        h1 = relu(x W1^T + b1);  mu = h1 Wm^T + bm;  lv = h1 Wv^T + bv;  s = exp(lv / 2);  z = mu + s eps
        h2 = relu(z Wd1^T + bd1);  l = h2 Wd2^T + bd2
        loss = (sum softplus(l) - x l + 1/2 sum (mu^2 + s^2 - lv - 1)) / N
        dl = (sigmoid(l) - x) / N;  dz = (relu'(h2) * dl Wd2) Wd1;  dmu = dz + mu / N;
        dlv = dz eps s / 2 + (s^2 - 1) / (2 N);  dh1 = relu'(h1) * (dmu Wm + dlv Wv)
    """

    NAMES = ("encoder.1", "fc_mu", "fc_logvar", "decoder.0", "decoder.2")

    def __init__(self, params: dict, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.p = params
        self.lr, self.betas, self.adam_eps, self.t = lr, betas, eps, 0
        self.m = {k: np.zeros_like(v) for k, v in params.items()}
        self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.tmp = {k: np.empty_like(v) for k, v in params.items()}

    def loss_and_grads(self, x: np.ndarray, eps: np.ndarray):
        p = self.p
        n = x.shape[0]
        xf = x.reshape(n, -1)
        w1, b1 = p["encoder.1.weight"], p["encoder.1.bias"]
        wm, bm = p["fc_mu.weight"], p["fc_mu.bias"]
        wv, bv = p["fc_logvar.weight"], p["fc_logvar.bias"]
        wd1, bd1 = p["decoder.0.weight"], p["decoder.0.bias"]
        wd2, bd2 = p["decoder.2.weight"], p["decoder.2.bias"]
        # forward
        h1 = xf @ w1.T
        h1 += b1
        np.maximum(h1, 0, out=h1)
        mu = h1 @ wm.T
        mu += bm
        lv = h1 @ wv.T
        lv += bv
        s = np.exp(0.5 * lv)
        z = s * eps
        z += mu
        h2 = z @ wd1.T
        h2 += bd1
        np.maximum(h2, 0, out=h2)
        logits = h2 @ wd2.T
        logits += bd2
        # loss: softplus(l) - x l = max(l, 0) - x l + log1p(exp(-|l|))
        e = np.abs(logits)
        np.negative(e, out=e)
        np.exp(e, out=e)                                   # exp(-|l|), reused by the sigmoid below
        rec = np.log1p(e).sum(dtype=np.float64) + np.maximum(logits, 0).sum(dtype=np.float64) \
            - np.vdot(xf, logits)
        s2 = s * s
        kl = 0.5 * float((mu * mu + s2 - lv - 1.0).sum(dtype=np.float64))
        loss = (rec + kl) / n
        # backward: dl = (sigmoid(l) - x) / n, sigmoid(l) = 1 / (1 + e) where l >= 0, e / (1 + e) elsewhere
        sig = e + 1.0
        np.divide(np.where(logits >= 0, 1.0, e), sig, out=sig)
        dl = sig
        dl -= xf
        dl *= 1.0 / n
        g = {"decoder.2.weight": dl.T @ h2, "decoder.2.bias": dl.sum(axis=0)}
        dh2 = dl @ wd2
        dh2 *= h2 > 0
        g["decoder.0.weight"], g["decoder.0.bias"] = dh2.T @ z, dh2.sum(axis=0)
        dz = dh2 @ wd1
        dmu = mu * (1.0 / n)
        dmu += dz
        dlv = dz * eps
        dlv *= s
        s2 -= 1.0
        s2 *= 1.0 / n
        dlv += s2
        dlv *= 0.5
        g["fc_mu.weight"], g["fc_mu.bias"] = dmu.T @ h1, dmu.sum(axis=0)
        g["fc_logvar.weight"], g["fc_logvar.bias"] = dlv.T @ h1, dlv.sum(axis=0)
        dh1 = dmu @ wm
        dh1 += dlv @ wv
        dh1 *= h1 > 0
        g["encoder.1.weight"], g["encoder.1.bias"] = dh1.T @ xf, dh1.sum(axis=0)
        return np.float32(loss), g

    def adam(self, grads: dict) -> None:
        """PyTorch's Adam, in nabla's form: the bias corrections folded into two scalars."""
        self.t += 1
        b1, b2 = self.betas
        c2 = (1 - b2 ** self.t) ** 0.5
        step, eps = -self.lr * c2 / (1 - b1 ** self.t), self.adam_eps * c2
        for k, x in self.p.items():
            g, m, v, t = grads[k], self.m[k], self.v[k], self.tmp[k]
            np.subtract(g, m, out=t)
            t *= 1.0 - b1
            m += t
            v *= b2
            np.multiply(g, g, out=t)
            t *= 1.0 - b2
            v += t
            np.sqrt(v, out=t)
            t += eps
            np.divide(m, t, out=t)
            t *= step
            x += t

    def step(self, x, eps):
        loss, grads = self.loss_and_grads(x, eps)
        self.adam(grads)
        return loss


def numpy_vae_params(cfg) -> dict:
    _check(cfg)
    with np.load(cfg["data"]) as f:
        return {k[len("param:"):]: f[k].copy() for k in f.files if k.startswith("param:")}


def _vae_floor(cfg):
    import nabla as nb  # only to hand back the loss in the form the smoke test reads (as mlp's floor)
    x = _load(cfg)
    stepper = NumpyVAEStep(numpy_vae_params(cfg), lr=cfg["lr"])
    n = x.shape[0]

    def step():
        return nb.tensor(stepper.step(x, _eps(n)))
    return step


# ------------------------------------------------------------------------------------------ DCGAN
def torch_dcgan(torch, latent=64, width=64, in_shape=(1, 28, 28)):
    """nabla's DCGAN (``GAN(arch="dcgan")``, unconditional) in PyTorch, the same parameter names."""
    nn = torch.nn
    c, h, w = in_shape
    base = (2 * width, h // 4, w // 4)
    flat = int(np.prod(base))

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(latent, flat, bias=False)
            self.bn0 = nn.BatchNorm1d(flat)
            self.up1 = nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.up2 = nn.ConvTranspose2d(width, c, 4, stride=2, padding=1)
            self.relu, self.tanh = nn.ReLU(), nn.Tanh()

        def forward(self, z):
            x = self.relu(self.bn0(self.fc(z))).reshape(z.shape[0], *base)
            x = self.relu(self.bn1(self.up1(x)))
            return self.tanh(self.up2(x))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(c, width, 4, stride=2, padding=1)
            self.conv2 = nn.Conv2d(width, 2 * width, 4, stride=2, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(2 * width)
            self.fc = nn.Linear(flat, 1)
            self.act = nn.LeakyReLU(0.2)

        def forward(self, x):
            x = self.act(self.conv1(x))
            x = self.act(self.bn2(self.conv2(x)))
            return self.fc(x.reshape(x.shape[0], -1)).reshape(-1)

    class GAN(nn.Module):
        def __init__(self):
            super().__init__()
            self.generator, self.discriminator = Generator(), Discriminator()

    return GAN()


def _gan_step(fw, model, generate, discriminate, x, z, lr):
    """GANStep.train_step's sequence with a fixed z; returns (L_D, L_G) stacked (both compared)."""
    bce = fw.nn.functional.binary_cross_entropy_with_logits
    gen, disc = model.generator, model.discriminator
    d_opt = fw.optim.Adam(disc.parameters(), lr=lr, betas=(0.5, 0.999))
    g_opt = fw.optim.Adam(gen.parameters(), lr=lr, betas=(0.5, 0.999))
    d_params = list(disc.parameters())
    n = x.shape[0]
    ones, zeros = fw.ones(n), fw.zeros(n)

    def step():
        fake = generate(z)
        # (a) the discriminator: real -> 1, detached fake -> 0
        d_opt.zero_grad()
        d_loss = bce(discriminate(x), ones) + bce(discriminate(fake.detach()), zeros)
        d_loss.backward()
        d_opt.step()
        # (b) the generator, non-saturating, through the updated D with D frozen
        g_opt.zero_grad()
        for p in d_params:
            p.requires_grad_(False)
        try:
            g_loss = bce(discriminate(fake), ones)
            g_loss.backward()
        finally:
            for p in d_params:
                p.requires_grad_(True)
        g_opt.step()
        return fw.stack([d_loss.detach(), g_loss.detach()])
    return step


def _dcgan_nabla(cfg):
    nb = framework("nabla", "nn", "optim")
    from nabla.models import build_model
    x, z = nb.tensor(_load(cfg)), nb.tensor(_load(cfg, "z"))
    model = build_model("dcgan", (1, 28, 28), 10)
    load_params(nb, model, cfg)
    model.train()
    return _gan_step(nb, model, model.generate, model.discriminate, x, z, cfg["lr"])


def _dcgan_torch(cfg):
    torch = framework("torch")
    x, z = torch.from_numpy(_load(cfg)), torch.from_numpy(_load(cfg, "z"))
    model = torch_dcgan(torch)
    load_params(torch, model, cfg)
    model.train()
    return _gan_step(torch, model, model.generator, model.discriminator, x, z, cfg["lr"])


# ------------------------------------------------------------------------------------------ PixelCNN
def torch_pixelcnn(torch, hidden=32, blocks=6, channels=1):
    """nabla's ``PixelCNN`` (levels=2) in PyTorch, the same parameter names; masked convolutions as
    ``conv2d(x, weight * mask, bias)`` with the raster mask as a buffer (pytorch-generative's way)."""
    nn, F = torch.nn, torch.nn.functional

    class MaskedConv2d(nn.Conv2d):
        def __init__(self, c_in, c_out, k, mask_type):
            super().__init__(c_in, c_out, k, padding=k // 2)
            mask = torch.zeros(k, k)
            mask[:k // 2] = 1.0
            mask[k // 2, :k // 2 + (mask_type == "B")] = 1.0
            self.register_buffer("mask", mask.expand_as(self.weight).clone(), persistent=False)

        def forward(self, x):
            return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = MaskedConv2d(hidden, hidden, 3, "B")

        def forward(self, x):
            return x + self.conv(F.relu(x))

    class PixelCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_conv = MaskedConv2d(channels, hidden, 7, "A")
            self.blocks = nn.ModuleList([Block() for _ in range(blocks)])
            self.output = nn.Sequential(nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(),
                                        nn.Conv2d(hidden, channels, 1))

        def forward(self, x):
            h = self.input_conv(x)
            for block in self.blocks:
                h = block(h)
            return self.output(h)

    return PixelCNN()


def _pixelcnn_nabla(cfg):
    model, x, opt = _nabla_model(cfg, "pixelcnn")
    return training_step(opt, lambda: model.nll(x).mean())   # as AutoregressiveStep.train_step


def _pixelcnn_torch(cfg):
    torch = framework("torch")
    F = torch.nn.functional
    x = torch.from_numpy(_load(cfg))
    model = torch_pixelcnn(torch)
    load_params(torch, model, cfg)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    return training_step(opt, lambda: F.binary_cross_entropy_with_logits(model(x), x, reduction="sum") / x.shape[0])


# ------------------------------------------------------------------------------------------ registration
def _lr(model: str) -> float:
    from nabla.models.registry import get_model_entry
    return float(get_model_entry(model).training["lr"])


def _vae_config() -> dict:
    """One batch and one set of initial weights for the VAE step and its NumPy floor."""
    return _write_config("vae_train_b128", "vae", VAE_BATCH, "binarized", lr=_lr("vae"))


register(Workload(
    "vae_train_b128", goal=1.2, source="issue 15",
    description="VAE 784-400-20 (Bernoulli decoder) training step, batch 128 of binarized-mnist, fixed eps: "
                "summed BCE-with-logits + analytic KL, mean over images; backward; Adam 1e-3 (or nabla within "
                "1.10x of the plain-NumPy step: python -m benchmarks.numpy_floor vae_train_b128)",
    nabla=_vae_nabla, torch=_vae_torch, smoke={"smoke_batch": 8},
    config=_vae_config))

register(Workload(
    "vae_train_b128_numpy_floor", goal=1.2, source="issue 15, reference",
    description="the vae_train_b128 step written by hand in plain NumPy (float32; gradients derived on paper, "
                "Adam) against PyTorch's vae_train_b128: the floor for any NumPy framework",
    nabla=_vae_floor, torch=_vae_torch, smoke={"smoke_batch": 8},
    config=_vae_config))

register(Workload(
    "dcgan_train_b64", goal=2.5, source="issue 15",
    description="DCGAN-lite (latent 64, width 64) GAN step, batch 64 of MNIST in [-1, 1], fixed z: D step (real + "
                "detached fake, BCE with logits, Adam 2e-4 betas (0.5, 0.999)), then G step (non-saturating, D "
                "frozen) with its Adam",
    nabla=_dcgan_nabla, torch=_dcgan_torch, smoke={"smoke_batch": 4},
    config=lambda: _write_config("dcgan_train_b64", "dcgan", GAN_BATCH, "pm1", lr=_lr("dcgan"))))

register(Workload(
    "pixelcnn_train_b32", goal=2.5, source="issue 15",
    description="PixelCNN (7x7 mask A, 6 residual 3x3 mask-B blocks, hidden 32, two 1x1) training step, batch 32 "
                "of binarized-mnist: mean over images of summed BCE-with-logits; backward; Adam 1e-3",
    nabla=_pixelcnn_nabla, torch=_pixelcnn_torch, smoke={"smoke_batch": 2},
    config=lambda: _write_config("pixelcnn_train_b32", "pixelcnn", PIXELCNN_BATCH, "binarized",
                                 lr=_lr("pixelcnn"))))

__all__ = ["NumpyVAEStep", "torch_vae", "torch_dcgan", "torch_pixelcnn"]
