"""FCN-32s/16s/8s, U-Net and SegNet: logits at the input's size, the registry's facts, each family's defining
structure (FCN's skips and bilinear upsamplers, U-Net's concatenated skips, SegNet's unpooling indices)."""
import sys

import numpy as np
import pytest

import nabla as nb
from nabla.models import build_model, get_model_entry
from nabla.models.fcn import FCN
from nabla.nn import init

SMALL = {"fcn32s": {"widths": "4,4,8,8,8", "fc_width": 8}, "fcn16s": {"widths": "4,4,8,8,8", "fc_width": 8},
         "fcn8s": {"widths": "4,4,8,8,8", "fc_width": 8}, "unet": {"width": 4, "depth": 3},
         "segnet": {"widths": "4,8,8"}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_logits_have_the_images_size_and_one_channel_per_mask_class(name):
    entry = get_model_entry(name)
    assert entry.task == "segmentation" and entry.default_dataset == "mnist-scenes"
    assert entry.training["optimizer"] == "adam" and entry.training["batch_size"] == 32
    model = build_model(name, (1, 64, 64), 11, **SMALL[name])
    x = nb.tensor(np.random.default_rng(0).random((2, 1, 64, 64), dtype=np.float32))
    y = model(x)
    assert y.shape == (2, 11, 64, 64) and y.dtype == np.float32 and model.num_classes == 11
    y.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_default_models_build_with_their_documented_sizes():
    sizes = {name: build_model(name, (1, 64, 64), 11).num_parameters() for name in SMALL}
    assert sizes["unet"] == 482_619
    assert sizes["fcn8s"] < sizes["fcn16s"] < sizes["fcn32s"]   # the x32 upsampler's kernel is the largest
    assert sizes["segnet"] < sizes["unet"]


def test_fcn_is_one_network_parameterised_by_its_skips():
    nets = {k: FCN(11, 1, skips=k, widths="4,4,8,8,8", fc_width=8) for k in (0, 1, 2)}
    assert [n.stride for n in nets.values()] == [32, 16, 8]
    keys = {k: set(n.state_dict()) for k, n in nets.items()}
    assert keys[0] < keys[1] < keys[2]                       # each finer net adds layers, changes none
    assert {k.split(".")[0] for k in keys[2] - keys[0]} == {"score_pool", "upscore2"}
    for k, net in nets.items():
        assert net.upscore.weight.shape == (11, 1, 2 * net.stride, 2 * net.stride)
        np.testing.assert_allclose(net.upscore.weight.data[:, 0], np.broadcast_to(
            init.bilinear_kernel((2 * net.stride,) * 2), (11, 2 * net.stride, 2 * net.stride)), rtol=1e-6)
        assert all((m.weight.data == 0).all() for m in net.score_pool)   # skips start at 0 (the paper's init)
    with pytest.raises(ValueError, match="skips must be 0"):
        FCN(11, 1, skips=3)


def test_fcn32s_predicts_on_a_2x2_grid_of_a_64x64_scene():
    net = FCN(3, 1, skips=0, widths="4,4,8,8,8", fc_width=8)
    net.eval()
    scores = []
    net.score_fr.register_forward_hook(lambda m, i, o: scores.append(o))
    y = net(nb.tensor(np.random.default_rng(1).random((1, 1, 64, 64), dtype=np.float32)))
    assert scores[0].shape == (1, 3, 2, 2) and y.shape == (1, 3, 64, 64)
    ref = nb.interpolate(scores[0], scale_factor=32, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(y.data[..., 16:48, 16:48], ref.data[..., 16:48, 16:48], rtol=1e-4, atol=1e-5)


def test_unet_widths_double_per_level_and_skips_are_concatenated():
    net = build_model("unet", (1, 32, 32), 5, width=3, depth=2)
    assert [b[0].conv.out_channels for b in net.down] == [3, 6] and net.bottom[0].conv.out_channels == 12
    assert [b[0].conv.in_channels for b in net.up_conv] == [12, 6]   # skip + up-convolution, side by side
    assert [u.kernel_size for u in net.up] == [(2, 2), (2, 2)]
    assert net(nb.zeros(1, 1, 32, 32)).shape == (1, 5, 32, 32)
    with pytest.raises(ValueError, match=r"UNet: input of size 30x32 must have sides divisible by 4"):
        net(nb.zeros(1, 1, 30, 32))


def test_segnet_decoder_unpools_with_its_own_encoders_indices(monkeypatch):
    segnet_module = sys.modules["nabla.models.segnet"]   # nabla.models.segnet is also the builder function
    pooled, unpooled = [], []
    real_pool, real_unpool = segnet_module.F.max_pool2d, segnet_module.F.max_unpool2d

    def pool(*a, **k):
        out = real_pool(*a, **k)
        pooled.append(out[1].data)
        return out

    def unpool(x, indices, *a, **k):
        unpooled.append(indices.data)
        return real_unpool(x, indices, *a, **k)

    monkeypatch.setattr(segnet_module.F, "max_pool2d", pool)
    monkeypatch.setattr(segnet_module.F, "max_unpool2d", unpool)
    net = build_model("segnet", (1, 32, 32), 4, widths="4,8,8", convs=1)
    assert net(nb.tensor(np.random.default_rng(2).random((2, 1, 32, 32), dtype=np.float32))).shape == (2, 4, 32, 32)
    assert len(pooled) == len(unpooled) == 3
    for encoder, decoder in zip(pooled, reversed(unpooled)):   # the deepest encoder feeds the first decoder
        assert decoder is encoder


@pytest.mark.parametrize("name, options, match", [
    ("fcn8s", {"widths": "4,4,8"}, "needs 5 positive integers"),
    ("segnet", {"widths": "4,x"}, "comma-separated integers"),
    ("unet", {"width": 0}, "width and depth must be positive"),
])
def test_bad_options_are_one_line_errors(name, options, match):
    with pytest.raises(ValueError, match=match):
        build_model(name, (1, 64, 64), 11, **options)
