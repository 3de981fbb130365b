"""GAN and DCGAN: the registry's facts, shapes and ranges of generate / discriminate / sample, reproducible
samples, the conditional variant's use of labels and its one-line errors, DCGAN's initialisation."""
import numpy as np
import pytest

import nabla as nb
from nabla.models import GAN, build_model, get_model_entry

SMALL = {"gan": {"hidden": 16, "latent": 8}, "dcgan": {"width": 8, "latent": 8}}


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_registry_entry_states_task_data_normalisation_and_training_defaults(name):
    e = get_model_entry(name)
    assert e.task == "gan" and e.default_dataset == "mnist" and e.normalize == (0.5, 0.5)
    t = e.training
    assert (t["optimizer"], t["lr"], tuple(t["betas"]), t["batch_size"], t["scheduler"]) == \
        ("adam", 2e-4, (0.5, 0.999), 64, "none")
    assert t["epochs"] >= 10 and t["time_budget"] <= 3000   # a default run ends inside 60 minutes here
    assert e.options["conditional"] is False
    assert e.parse_option("conditional", "true") == ("conditional", True)
    assert e.options["latent"] == (100 if name == "gan" else 64)


@pytest.mark.parametrize("name", ["gan", "dcgan"])
@pytest.mark.parametrize("conditional", [False, True])
def test_shapes_ranges_and_interface(name, conditional):
    nb.manual_seed(0)
    m = build_model(name, (1, 28, 28), 10, conditional=conditional, **SMALL[name])
    assert isinstance(m, GAN) and m.family == "gan" and m.conditional is conditional
    assert m.in_shape == (1, 28, 28) and m.num_classes == 10 and m.latent_dim == 8
    assert not hasattr(m, "inpaint")          # a GAN has no encoder: the CLI says it cannot inpaint
    labels = np.arange(6) % 10 if conditional else None
    z = m.noise(6, generator=0)
    assert z.shape == (6, 8) and z.dtype == np.float32
    x = m.generate(z, labels)
    assert x.shape == (6, 1, 28, 28) and x.dtype == np.float32
    assert np.abs(x.data).max() <= 1.0
    logits = m.discriminate(x, labels)
    assert logits.shape == (6,)
    logits.sum().backward()                    # gradients reach both networks
    assert all(p.grad is not None for p in m.parameters())
    m.train()
    s = m.sample(5, labels=3 if conditional else None, generator=1)
    assert s.shape == (5, 1, 28, 28) and s.dtype == np.float32 and 0.0 <= s.min() and s.max() <= 1.0
    assert all(mod.training for mod in m.modules())         # sample restored the modes


def test_dcgan_is_section_6_5s_dcgan_lite_with_dcgan_init():
    nb.manual_seed(0)
    m = build_model("dcgan", (1, 28, 28), 10)
    g, d = m.generator, m.discriminator
    assert g.fc.weight.shape == (6272, 64) and g.bn0.num_features == 6272
    assert g.up1.weight.shape == (128, 64, 4, 4) and g.up1.stride == (2, 2) and g.up1.padding == (1, 1)
    assert g.up2.weight.shape == (64, 1, 4, 4) and g.up1.bias is None and g.up2.bias is not None
    assert d.conv1.weight.shape == (64, 1, 4, 4) and d.conv2.weight.shape == (128, 64, 4, 4)
    assert d.fc.weight.shape == (1, 6272) and d.act.negative_slope == 0.2
    for w in (g.up1.weight, g.up2.weight, d.conv1.weight, d.conv2.weight):
        assert abs(w.data.std() - 0.02) < 0.004 and abs(w.data.mean()) < 0.004
    for bn in (g.bn0, g.bn1, d.bn2):
        assert abs(bn.weight.data.mean() - 1) < 0.01 and 0.01 < bn.weight.data.std() < 0.03
    # a batch of 64 through G: 64 x 1 x 28 x 28, and sides that are not multiples of 4 are refused
    assert m.generate(m.noise(64, 0)).shape == (64, 1, 28, 28)
    with pytest.raises(ValueError, match="multiples of 4"):
        build_model("dcgan", (1, 30, 30), 10)


def test_mlp_gan_has_the_standard_widths():
    m = build_model("gan", (1, 28, 28), 10)
    widths = [(l.in_features, l.out_features) for l in m.generator.modules() if isinstance(l, nb.nn.Linear)]
    assert widths == [(100, 256), (256, 512), (512, 1024), (1024, 784)]
    widths = [(l.in_features, l.out_features) for l in m.discriminator.modules() if isinstance(l, nb.nn.Linear)]
    assert widths == [(784, 512), (512, 256), (256, 1)]


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_samples_are_reproducible_from_a_seed_and_independent_of_the_batching(name):
    nb.manual_seed(0)
    m = build_model(name, (1, 28, 28), 10, **SMALL[name])
    m.generate(m.noise(16, 5))     # a training-mode pass moves batch norm's running statistics
    a = m.sample(10, generator=7)
    b = m.sample(10, generator=np.random.default_rng(7))
    c = m.sample(10, generator=7, batch_size=3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a, c, atol=1e-6)
    assert not np.array_equal(a, m.sample(10, generator=8))
    np.testing.assert_allclose(a, (m.eval().generate(m.noise(10, 7)).data + 1) / 2, atol=1e-6)


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_conditional_model_uses_its_labels(name):
    nb.manual_seed(0)
    m = build_model(name, (1, 28, 28), 10, conditional=True, **SMALL[name]).eval()
    z = m.noise(4, 0)
    x3, x7 = m.generate(z, [3] * 4).data, m.generate(z, np.full(4, 7)).data
    assert np.abs(x3 - x7).max() > 1e-4                      # the same z, another class: another image
    x = nb.tensor(x3)
    assert np.abs(m.discriminate(x, np.full(4, 3)).data - m.discriminate(x, np.full(4, 7)).data).max() > 1e-6
    s3, s7 = m.sample(4, labels=3, generator=0), m.sample(4, labels=[7] * 4, generator=0)
    assert np.abs(s3 - s7).max() > 1e-4
    np.testing.assert_array_equal(s3, m.sample(4, labels=np.full(4, 3), generator=0))


def test_labels_errors_are_one_line_and_name_the_model():
    cond = build_model("dcgan", (1, 28, 28), 10, conditional=True, **SMALL["dcgan"])
    plain = build_model("gan", (1, 28, 28), 10, **SMALL["gan"])
    z = plain.noise(3, 0)
    for call in (lambda: cond.sample(3), lambda: cond.generate(z), lambda: cond.discriminate(np.zeros((3, 1, 28, 28)))):
        with pytest.raises(ValueError, match=r"^dcgan: this conditional model needs labels") as e:
            call()
        assert "\n" not in str(e.value)
    for call in (lambda: plain.sample(3, labels=[1, 2, 3]), lambda: plain.generate(z, [1, 2, 3])):
        with pytest.raises(ValueError, match=r"^gan: labels given to an unconditional model") as e:
            call()
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 10\)"):
        cond.sample(2, labels=[0, 10])
    with pytest.raises(ValueError, match="labels must be 3 class indices"):
        cond.sample(3, labels=[1, 2])
    with pytest.raises(ValueError, match=r"z must have shape \(N, 8\)"):
        plain.generate(np.zeros((2, 5), np.float32))


def test_one_checkpoint_holds_both_networks_and_rebuilds():
    nb.manual_seed(0)
    m = build_model("dcgan", (1, 28, 28), 10, conditional=True, width=8)
    keys = set(m.state_dict())
    assert {k.split(".")[0] for k in keys} == {"generator", "discriminator"}
    assert "discriminator.conv1.weight" in keys and m.discriminator.conv1.weight.shape[1] == 11  # 1 + 10 label maps
    entry = get_model_entry("dcgan")
    again = entry.rebuild({"in_shape": [1, 28, 28], "num_classes": 10,
                           "options": {"conditional": True, "width": 8, "latent": 64}}, m.state_dict())
    np.testing.assert_array_equal(again.sample(3, labels=[1, 2, 3], generator=0),
                                  m.sample(3, labels=[1, 2, 3], generator=0))
