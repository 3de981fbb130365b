"""nabla's DCGAN against the same architecture in PyTorch, weights copied from torch: the generator's and the
discriminator's forward values, parameter and input gradients in training mode (batch statistics, running
estimates) and in eval mode, unconditional and conditional (one-hot label maps); then whole GANStep training
steps (D's Adam step, then G's non-saturating one) against the PyTorch DCGAN example's loop on the same noise."""
import numpy as np
import pytest

import nabla as nb
from nabla.models import build_model
from nabla.train.steps import GANStep

torch = pytest.importorskip("torch")
tnn = torch.nn
F = torch.nn.functional


class TorchGenerator(tnn.Module):
    """DCGAN-lite's G with nabla's parameter names."""

    def __init__(self, in_features, width, channels=1, side=28):
        super().__init__()
        self.base = (2 * width, side // 4, side // 4)
        n = 2 * width * (side // 4) ** 2
        self.fc = tnn.Linear(in_features, n, bias=False)
        self.bn0 = tnn.BatchNorm1d(n)
        self.up1 = tnn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(width)
        self.up2 = tnn.ConvTranspose2d(width, channels, 4, 2, 1)

    def forward(self, z):
        x = F.relu(self.bn0(self.fc(z))).view(z.shape[0], *self.base)
        return torch.tanh(self.up2(F.relu(self.bn1(self.up1(x)))))


class TorchDiscriminator(tnn.Module):
    """DCGAN-lite's D with nabla's parameter names; ``condition`` (N, K) enters as K constant channels."""

    def __init__(self, width, channels=1, side=28, num_conditions=0):
        super().__init__()
        self.conv1 = tnn.Conv2d(channels + num_conditions, width, 4, 2, 1)
        self.conv2 = tnn.Conv2d(width, 2 * width, 4, 2, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(2 * width)
        self.fc = tnn.Linear(2 * width * (side // 4) ** 2, 1)

    def forward(self, x, condition=None):
        if condition is not None:
            x = torch.cat([x, condition[:, :, None, None].expand(-1, -1, *x.shape[2:])], dim=1)
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.bn2(self.conv2(x)), 0.2)
        return self.fc(x.flatten(1)).view(-1)


def _pair(conditional, width=8, latent=16, dtype="float64"):
    """A nabla dcgan and torch's G and D holding the same (nabla-initialised) weights."""
    nb.manual_seed(0)
    model = build_model("dcgan", (1, 28, 28), 10, conditional=conditional, width=width, latent=latent)
    k = 10 if conditional else 0
    tg, td = TorchGenerator(latent + k, width), TorchDiscriminator(width, num_conditions=k)
    model.to(np.dtype(dtype))
    for bn in (model.generator.bn0, model.generator.bn1, model.discriminator.bn2):   # a non-zero shift too
        bn.bias.data[...] = np.random.default_rng(1).normal(0, 0.1, bn.bias.shape)
    for tm, nm in ((tg, model.generator), (td, model.discriminator)):
        tm.to(getattr(torch, dtype))
        tm.load_state_dict({name: torch.from_numpy(np.array(v.data)) for name, v in nm.state_dict().items()})
    return model, tg, td


def _close(a, b, dtype, what):
    atol, rtol = (1e-4, 1e-3) if dtype == "float32" else (1e-10, 1e-8)
    np.testing.assert_allclose(np.asarray(a), b.detach().numpy(), atol=atol, rtol=rtol, err_msg=what)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("conditional", [False, True])
def test_generator_and_discriminator_match_torch(conditional, dtype):
    model, tg, td = _pair(conditional, dtype=dtype)
    rng = np.random.default_rng(2)
    n = 6
    labels = rng.integers(0, 10, n) if conditional else None
    onehot = torch.from_numpy(np.eye(10, dtype=dtype)[labels]) if conditional else None
    for mode in ("train", "eval", "train"):   # training twice: running estimates tracked between
        model.train(mode == "train")
        tg.train(mode == "train")
        td.train(mode == "train")
        z = rng.standard_normal((n, 16)).astype(dtype)
        x = rng.uniform(-1, 1, (n, 1, 28, 28)).astype(dtype)
        zn, zt = nb.tensor(z, requires_grad=True), torch.tensor(z, requires_grad=True)
        xn, xt = nb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        gn, gt = model.generate(zn, labels), (tg(torch.cat([zt, onehot], 1)) if conditional else tg(zt))
        dn, dt_ = model.discriminate(xn, labels), td(xt, onehot)
        _close(gn.data, gt, dtype, f"G forward ({mode})")
        _close(dn.data, dt_, dtype, f"D forward ({mode})")
        wg = rng.standard_normal(gn.shape).astype(dtype)
        wd = rng.standard_normal(dn.shape).astype(dtype)
        ((gn * nb.tensor(wg)).sum() + (dn * nb.tensor(wd)).sum()).backward()
        ((gt * torch.tensor(wg)).sum() + (dt_ * torch.tensor(wd)).sum()).backward()
        _close(zn.grad.data, zt.grad, dtype, "dL/dz")
        _close(xn.grad.data, xt.grad, dtype, "dL/dx")
        for nm, tm in ((model.generator, tg), (model.discriminator, td)):
            tparams = dict(tm.named_parameters())
            for name, p in nm.named_parameters():
                _close(p.grad.data, tparams[name].grad, dtype, f"grad {name} ({mode})")
                tparams[name].grad = None
                p.grad = None
            tbuffers = dict(tm.named_buffers())
            for name, b in nm.named_buffers():
                _close(b.data, tbuffers[name], dtype, f"buffer {name} ({mode})")


@pytest.mark.parametrize("conditional", [False, True])
def test_gan_steps_match_the_pytorch_dcgan_loop(conditional):
    """Three GANStep steps == the PyTorch DCGAN example's loop (netD on real and fake.detach(), optimizerD;
    netD(fake) with target 1, optimizerG) with Adam(2e-4, (0.5, 0.999)), on the same noise and labels."""
    model, tg, td = _pair(conditional)
    opts = dict(lr=2e-4, betas=(0.5, 0.999))
    step = GANStep(model, nb.optim.Adam(model.discriminator.parameters(), **opts),
                   nb.optim.Adam(model.generator.parameters(), **opts), seed=3)
    od, og = torch.optim.Adam(td.parameters(), **opts), torch.optim.Adam(tg.parameters(), **opts)
    noise = np.random.default_rng(3)       # the step's generator, replayed: z, then the fake labels
    data = np.random.default_rng(4)
    n = 8
    for _ in range(3):
        x = data.uniform(-1, 1, (n, 1, 28, 28)).astype(np.float32)
        y = data.integers(0, 10, n)
        logs = step.train_step((x.astype(np.float64), y))
        z = torch.from_numpy(noise.standard_normal((n, 16), dtype=np.float32).astype(np.float64))
        fake_y = noise.integers(0, 10, n) if conditional else None
        real_c = torch.from_numpy(np.eye(10)[y]) if conditional else None
        fake_c = torch.from_numpy(np.eye(10)[fake_y]) if conditional else None
        fake = tg(torch.cat([z, fake_c], 1) if conditional else z)
        td.zero_grad()
        real_logits, fake_logits = td(torch.from_numpy(x.astype(np.float64)), real_c), td(fake.detach(), fake_c)
        d_loss = F.binary_cross_entropy_with_logits(real_logits, torch.ones(n, dtype=torch.float64)) + \
            F.binary_cross_entropy_with_logits(fake_logits, torch.zeros(n, dtype=torch.float64))
        d_loss.backward()
        od.step()
        tg.zero_grad()
        g_loss = F.binary_cross_entropy_with_logits(td(fake, fake_c), torch.ones(n, dtype=torch.float64))
        g_loss.backward()
        og.step()
        assert logs["d_loss"] == pytest.approx(d_loss.item(), rel=1e-9)
        assert logs["g_loss"] == pytest.approx(g_loss.item(), rel=1e-9)
        assert logs["d_real"] == pytest.approx(torch.sigmoid(real_logits).mean().item(), rel=1e-9)
        assert logs["d_fake"] == pytest.approx(torch.sigmoid(fake_logits).mean().item(), rel=1e-9)
    for nm, tm in ((model.generator, tg), (model.discriminator, td)):
        tstate = tm.state_dict()
        for name, v in nm.state_dict().items():
            np.testing.assert_allclose(np.asarray(v.data), tstate[name].numpy(), atol=1e-9, rtol=1e-7, err_msg=name)
