import numpy as np
import pytest

import nabla
from nabla.data import transforms as T


def _batch(n=6, c=1, h=5, w=7, seed=0):
    return np.random.default_rng(seed).random((n, c, h, w)).astype(np.float32)


def test_to_tensor_scales_and_adds_channel():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)
    t = T.ToTensor()(x)
    assert isinstance(t, nabla.Tensor) and t.shape == (1, 1, 2, 2) and t.dtype == np.float32
    np.testing.assert_allclose(t.numpy()[0, 0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    hwc = np.zeros((2, 4, 5, 3), np.uint8)
    assert T.ToTensor(channels_last=True)(hwc).shape == (2, 3, 4, 5)


def test_normalize_per_channel():
    x = _batch(c=3)
    out = T.Normalize((0.1, 0.2, 0.3), (0.5, 1.0, 2.0))(x)
    ref = (x - np.array([0.1, 0.2, 0.3]).reshape(1, 3, 1, 1)) / np.array([0.5, 1, 2]).reshape(1, 3, 1, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
    assert out.dtype == np.float32
    t = T.Normalize(0.5, 0.25)(nabla.tensor(x[:, 0]))
    assert isinstance(t, nabla.Tensor) and t.shape == (6, 5, 7)
    with pytest.raises(ValueError, match="channel"):
        T.Normalize((0.1, 0.2), (1, 1))(x)
    with pytest.raises(ValueError, match="zero"):
        T.Normalize(0, 0)


def test_random_crop_windows_of_padded_input():
    x = _batch()
    out = T.RandomCrop((5, 7), padding=2, generator=0)(x)
    assert out.shape == x.shape
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for i in range(len(x)):  # each output is some 5x7 window of its own padded image
        assert any(np.array_equal(out[i], padded[i, :, a:a + 5, b:b + 7]) for a in range(5) for b in range(5))
    assert T.RandomCrop(3, generator=0)(x[:, 0]).shape == (6, 3, 3)  # (N, H, W)
    np.testing.assert_array_equal(T.RandomCrop((5, 7))(x), x)  # no padding, full size: identity
    with pytest.raises(ValueError, match="larger"):
        T.RandomCrop(9)(x)


def test_random_crop_offsets_vary_and_are_seeded():
    x = np.tile(np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4), (64, 1, 1, 1))
    a = T.RandomCrop(2, generator=7)(x)
    b = T.RandomCrop(2, generator=7)(x)
    np.testing.assert_array_equal(a, b)
    assert len({float(v) for v in a[:, 0, 0, 0]}) > 3


def test_horizontal_and_vertical_flip():
    x = _batch()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(1.0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(0.0)(x), x)
    np.testing.assert_array_equal(T.RandomVerticalFlip(1.0)(x), x[..., ::-1, :])
    out = T.RandomHorizontalFlip(0.5, generator=1)(np.concatenate([x] * 5))
    flipped = [np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, np.concatenate([x] * 5))]
    same = [np.array_equal(o, xi) for o, xi in zip(out, np.concatenate([x] * 5))]
    assert all(f or s for f, s in zip(flipped, same)) and any(flipped) and any(same)


def _shift(img, dy, dx):
    out = np.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        img[..., max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_random_affine_translate_is_an_exact_shift():
    x = _batch(n=10, h=8, w=8) + 1  # no zeros, so the fill shows
    out = T.RandomAffine(translate=(0.25, 0.25), generator=0)(x)
    shifts = []
    for o, xi in zip(out, x):
        match = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if np.array_equal(o, _shift(xi, dy, dx))]
        assert match, "each output must be its input shifted by whole pixels"
        shifts.append(match[0])
    assert len(set(shifts)) > 1


def test_random_affine_rotation_90_is_rot90():
    x = _batch(n=2, h=5, w=5)
    out = T.RandomAffine(degrees=(90, 90))(x)
    np.testing.assert_array_equal(out, np.rot90(x, k=1, axes=(-2, -1)))  # counter-clockwise
    assert T.RandomAffine(degrees=15, scale=(0.9, 1.1), generator=0)(x[:, 0]).shape == (2, 5, 5)


def test_compose_determinism_and_global_seed():
    pipe = T.Compose([T.RandomCrop(5, padding=1), T.RandomHorizontalFlip(), T.RandomAffine(10, (0.1, 0.1)),
                      T.Normalize(0.5, 0.5)])
    x = _batch(h=5, w=5)
    nabla.manual_seed(0)
    a = pipe(x)
    nabla.manual_seed(0)
    b = pipe(x)
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    t = pipe(nabla.tensor(x))
    assert isinstance(t, nabla.Tensor)
    assert T.Flatten()(x).shape == (6, 25) and T.Lambda(lambda z: z * 2)(x).shape == x.shape


def test_transform_errors():
    with pytest.raises(ValueError, match="batch of images"):
        T.RandomCrop(2)(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="p must be"):
        T.RandomHorizontalFlip(2)
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(2, 0))
