"""PixelCNN: no mask leak through the whole model (d logit_i / d x_j = 0 for j >= i), the exact log-likelihood,
the cropped per-pixel forward of sampling equal to the full one, seeded samples, inpainting that keeps the
given pixels, the 256-level option end to end, the registry's facts."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla.models import build_model, get_model_entry
from nabla.models.pixelcnn import PixelCNN


def _model(shape=(1, 8, 8), hidden=8, blocks=2, levels=2, seed=0):
    nb.manual_seed(seed)
    return PixelCNN(shape, hidden=hidden, blocks=blocks, levels=levels)


def _binary(n, shape=(1, 8, 8), seed=0):
    return (np.random.default_rng(seed).random((n,) + shape) < 0.4).astype(np.float32)


def _raster(h, w):
    return np.arange(h * w).reshape(h, w)


def _top(h, w, rows):
    """keep_mask: the first ``rows`` rows given."""
    return np.repeat(np.arange(h)[:, None] < rows, w, axis=1)


@pytest.mark.parametrize("levels", [2, 256])
def test_no_mask_leak_the_logits_of_pixel_i_depend_on_earlier_pixels_only(levels):
    """THE MASK-LEAK TEST: backward of one pixel's logit(s) gives zero gradient on every input pixel j >= i in
    raster order and a nonzero one on some j < i (so that a leak, or a dead network, fails)."""
    model = _model((1, 10, 10), hidden=8, blocks=3, levels=levels)
    x = np.random.default_rng(1).random((1, 1, 10, 10)).astype(np.float32)     # continuous: all paths alive
    order = _raster(10, 10)
    for row, col in [(0, 0), (0, 1), (1, 0), (4, 4), (4, 9), (9, 0), (9, 9), (6, 3)]:
        xt = nb.tensor(x, requires_grad=True)
        logits = model(xt)
        (logits[0, :, row, col].sum() if levels == 256 else logits[0, 0, row, col]).backward()
        g = np.abs(xt.grad.data[0, 0])
        i = order[row, col]
        assert (g[order >= i] == 0).all(), (row, col)
        if i > 0:
            assert (g[order < i] != 0).any(), (row, col)
        if i >= 12:   # the receptive field reaches the pixel just before and the ones above
            assert g[row, col - 1 if col else 0] != 0 or col == 0
            assert g[row - 1, col] != 0 if row else True


def test_the_default_model_has_no_leak_either():
    """The registered defaults (hidden 32, 6 blocks) on a 28x28 digit: a last-row pixel and a middle one."""
    model = build_model("pixelcnn", (1, 28, 28), 10)
    x = np.random.default_rng(2).random((1, 1, 28, 28)).astype(np.float32)
    order = _raster(28, 28)
    for row, col in [(14, 14), (27, 3)]:
        xt = nb.tensor(x, requires_grad=True)
        model(xt)[0, 0, row, col].backward()
        g = np.abs(xt.grad.data[0, 0])
        assert (g[order >= order[row, col]] == 0).all() and (g[order < order[row, col]] != 0).any()


def test_log_prob_is_the_sum_of_the_per_pixel_bernoulli_log_likelihoods():
    model = _model()
    x = _binary(5)
    logits = model(x).data.astype(np.float64)
    p = 1 / (1 + np.exp(-logits))
    direct = (x * np.log(p) + (1 - x) * np.log(1 - p)).reshape(5, -1).sum(axis=1)
    lp = model.log_prob(x)
    assert lp.shape == (5,) and lp.dtype == np.float32
    np.testing.assert_allclose(lp.data, direct, rtol=1e-5)
    np.testing.assert_allclose(model.nll(nb.tensor(x)).data, -direct, rtol=1e-5)
    np.testing.assert_allclose(model.bits_per_dim(model.nll(x)), -direct / (64 * math.log(2)), rtol=1e-5)


def test_log_prob_of_256_levels_is_the_sum_of_the_per_pixel_softmax_log_likelihoods():
    model = _model(levels=256)
    levels = np.random.default_rng(3).integers(0, 256, (4, 1, 8, 8))
    x = (levels / 255).astype(np.float32)
    logits = model(x).data.astype(np.float64)
    assert logits.shape == (4, 256, 8, 8)
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
        - logits.max(1, keepdims=True)
    direct = np.take_along_axis(logp, levels, axis=1).reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(model.log_prob(x).data, direct, rtol=1e-5)


def test_log_prob_refuses_images_the_model_cannot_score():
    with pytest.raises(ValueError, match="PixelCNN: levels=2 models binary images"):
        _model().log_prob(np.full((1, 1, 8, 8), 0.5, np.float32))
    with pytest.raises(ValueError, match="PixelCNN: levels=256 expects grey / 255 in"):
        _model(levels=256).log_prob(np.full((1, 1, 8, 8), 2.0, np.float32))


def test_the_cropped_forward_of_one_pixel_equals_the_full_forward():
    """Sampling runs each layer on the rows and columns the pixel's cone needs (rows r - k .. r, columns
    c - k .. c + k for the reach k left after it), not on the whole image."""
    model = _model((1, 16, 15), hidden=6, blocks=2)
    assert model.reach == (5, 5)
    x = np.random.default_rng(4).random((3, 1, 16, 15)).astype(np.float32)
    full = model(x).data
    for row, col in [(0, 0), (0, 14), (5, 7), (15, 0), (15, 14), (9, 6), (12, 3), (8, 11)]:
        np.testing.assert_allclose(model.pixel_logits(x, row, col), full[:, :, row, col], rtol=1e-5, atol=1e-6)
    default = build_model("pixelcnn", (1, 28, 28), 10)
    x = (np.random.default_rng(6).random((2, 1, 28, 28)) < 0.3).astype(np.float32)
    full = default(x).data
    for row, col in [(27, 27), (20, 13), (10, 0), (12, 25)]:
        np.testing.assert_allclose(default.pixel_logits(x, row, col), full[:, :, row, col], rtol=1e-5, atol=1e-5)
    model256 = _model((1, 12, 12), hidden=4, blocks=1, levels=256)
    x = np.random.default_rng(5).random((2, 1, 12, 12)).astype(np.float32)
    np.testing.assert_allclose(model256.pixel_logits(x, 9, 6)[:, :, 0], model256(x).data[:, :, 9, 6], rtol=1e-5,
                               atol=1e-6)


def _reference_sample(model, n, seed):
    """The textbook sampler: the whole image through the model at every pixel position, the same draws."""
    rng = np.random.default_rng(seed)
    _, h, w = model.in_shape
    x = np.zeros((n,) + model.in_shape, np.float32)
    with nb.no_grad():
        for row in range(h):
            for col in range(w):
                p = 1 / (1 + np.exp(-model(x).data[:, :, row, col].astype(np.float64)))
                x[:, :, row, col] = rng.random(p.shape) < p
    return x


def test_samples_are_binary_reproducible_and_equal_to_the_uncropped_sampler():
    model = _model((1, 12, 12), hidden=6, blocks=2)
    model.train()
    a = model.sample(4, generator=7)
    assert a.shape == (4, 1, 12, 12) and a.dtype == np.float32 and set(np.unique(a)) <= {0.0, 1.0}
    assert model.training                                         # the mode is restored
    np.testing.assert_array_equal(model.sample(4, generator=np.random.default_rng(7)), a)
    assert (model.sample(4, generator=8) != a).any()
    model.eval()
    np.testing.assert_array_equal(a, _reference_sample(model, 4, 7))
    with pytest.raises(ValueError, match="PixelCNN.*unconditional"):
        model.sample(2, labels=np.zeros(2, int))


def test_samples_follow_the_conditionals():
    """An output layer that says 'on' (or, 256 levels, 'level 200') everywhere gives exactly that image."""
    for bias, expected in [(30.0, 1.0), (-30.0, 0.0)]:
        model = _model()
        model.output[3].weight.data[...] = 0
        model.output[3].bias.data[...] = bias
        assert (model.sample(3, generator=0) == expected).all()
    model = _model(levels=256)
    model.output[3].weight.data[...] = 0
    model.output[3].bias.data[...] = -30.0
    model.output[3].bias.data[200] = 30.0
    np.testing.assert_array_equal(model.sample(2, generator=0), np.float32(200 / 255))


@pytest.mark.parametrize("keep", ["top", "left", "random"])
def test_inpaint_keeps_the_given_pixels_exactly_and_samples_the_rest(keep):
    model = _model()
    images = _binary(2, seed=9)
    mask = {"top": _top(8, 8, 4), "left": _top(8, 8, 4).T,
            "random": np.random.default_rng(1).random((8, 8)) < 0.5}[keep]
    out = model.inpaint(images, mask, num_completions=5, generator=3)
    assert out.shape == (2, 5, 1, 8, 8) and out.dtype == np.float32
    np.testing.assert_array_equal(out[:, :, :, mask], np.repeat(images[:, None], 5, axis=1)[:, :, :, mask])
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert any((out[i, 0] != out[i, k]).any() for i in range(2) for k in range(1, 5))   # completions differ
    np.testing.assert_array_equal(model.inpaint(images, mask, 5, generator=3), out)
    np.testing.assert_array_equal(model.inpaint(images, np.ones((8, 8), bool), 2)[:, 1], images)


def test_inpaint_of_the_bottom_given_the_top_conditions_on_the_top():
    """Kept top rows: each missing pixel is drawn from the same conditional the full model gives it (a model
    whose logits copy the pixel above, so the completion continues the given rows)."""
    model = _model((1, 6, 6), hidden=1, blocks=0)
    model.input_conv.weight.data[...] = 0
    model.input_conv.weight.data[0, 0, 2, 3] = 1.0            # the pixel directly above
    model.input_conv.bias.data[...] = 0
    for conv in (model.output[1], model.output[3]):
        conv.weight.data[...] = 1.0
        conv.bias.data[...] = 0
    model.output[3].weight.data[...] = 60.0
    model.output[3].bias.data[...] = -30.0                    # logit +30 where the pixel above is 1, -30 else
    images = np.zeros((1, 1, 6, 6), np.float32)
    images[0, 0, 2, [1, 4]] = 1.0
    top = _top(6, 6, 3)
    out = model.inpaint(images, top, 2, generator=0)
    np.testing.assert_array_equal(out[0, :, 0, 3:], np.repeat(images[0, 0, 2:3], 3, axis=0)[None].repeat(2, 0))


def test_inpaint_binarizes_grey_images_for_a_bernoulli_model_and_checks_shapes():
    model = _model()
    grey = np.random.default_rng(2).random((1, 1, 8, 8)).astype(np.float32)
    out = model.inpaint(grey, np.ones((8, 8), bool), 1)
    np.testing.assert_array_equal(out[0, 0], (grey[0] >= 0.5))
    with pytest.raises(ValueError, match="keep_mask"):
        model.inpaint(grey, np.ones((4, 4), bool), 1)
    with pytest.raises(ValueError, match="images of shape"):
        model.inpaint(grey[0], np.ones((8, 8), bool), 1)


def test_256_levels_end_to_end():
    model = _model(levels=256)
    x = (np.random.default_rng(6).integers(0, 256, (3, 1, 8, 8)) / 255).astype(np.float32)
    loss = model.nll(x).mean()
    assert 8 * 8 * math.log(256) * 0.5 < loss.item() < 8 * 8 * math.log(256) * 2    # about uniform at the start
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    s = model.sample(2, generator=1)
    assert s.shape == (2, 1, 8, 8) and np.allclose(s * 255, np.rint(s * 255), atol=1e-4) and s.max() <= 1
    out = model.inpaint(x, _top(8, 8, 4), 2, generator=0)
    np.testing.assert_array_equal(out[:, :, :, :4], np.repeat(x[:, None, :, :4], 2, axis=1))


def test_several_channels_are_modelled_per_pixel():
    model = _model((3, 6, 6), hidden=4, blocks=1, levels=256)
    x = np.random.default_rng(7).random((2, 3, 6, 6)).astype(np.float32)
    assert model(x).shape == (2, 256, 3, 6, 6) and model.log_prob(x).shape == (2,)
    assert model.sample(2, generator=0).shape == (2, 3, 6, 6)
    binary = _model((2, 6, 6), hidden=4, blocks=1)
    assert binary(np.zeros((1, 2, 6, 6), np.float32)).shape == (1, 2, 6, 6)


def test_registry_entry_and_interface():
    entry = get_model_entry("pixelcnn")
    assert entry.task == "autoregressive" and entry.default_dataset == "binarized-mnist"
    assert entry.options == {"hidden": 32, "blocks": 6, "levels": 2}
    assert entry.training["optimizer"] == "adam" and entry.training["lr"] == 1e-3
    model = build_model("pixelcnn", (1, 28, 28), 10)
    assert model.num_parameters() == 58_177 and model.reach == (9, 9)
    assert model.in_shape == (1, 28, 28) and model.num_classes == 10
    assert model.conditional is False and model.family == "autoregressive"
    with pytest.raises(ValueError, match="levels"):
        build_model("pixelcnn", (1, 28, 28), 10, levels=3)
    with pytest.raises(ValueError, match="PixelCNN: levels"):
        PixelCNN(levels=16)
