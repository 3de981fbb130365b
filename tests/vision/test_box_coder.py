"""BoxCoder (encode/decode round trip, hand values, the exp clip, gradients) and AnchorGenerator."""
import math

import numpy as np
import pytest

import nabla as nb
from nabla.autograd import gradcheck
from nabla.vision import AnchorGenerator, BoxCoder
from nabla.vision.anchors import generate_anchors


def _boxes(rng, n):
    xy = rng.uniform(0, 50, (n, 2))
    return np.concatenate([xy, xy + rng.uniform(2, 30, (n, 2))], axis=1)


@pytest.mark.parametrize("weights", [(10.0, 10.0, 5.0, 5.0), (1.0, 1.0, 1.0, 1.0), (2.0, 3.0, 0.5, 4.0)])
def test_encode_decode_round_trip(weights):
    rng = np.random.default_rng(0)
    gt, anchors = _boxes(rng, 30), _boxes(rng, 30)
    coder = BoxCoder(weights)
    codes = coder.encode_single(gt, anchors)
    assert codes.shape == (30, 4)
    np.testing.assert_allclose(coder.decode_single(codes, anchors).data, gt, rtol=1e-10, atol=1e-10)
    # float32 in, float32 out
    c32 = coder.encode_single(gt.astype(np.float32), anchors.astype(np.float32))
    assert c32.dtype == np.float32
    np.testing.assert_allclose(coder.decode_single(c32, anchors.astype(np.float32)).data, gt, rtol=1e-4, atol=1e-3)


def test_encode_hand_values_use_exclusive_widths():
    anchor = np.array([[0.0, 0, 10, 20]])   # centre (5, 10), size 10 x 20
    gt = np.array([[2.0, 4, 22, 24]])       # centre (12, 14), size 20 x 20
    codes = BoxCoder((10, 10, 5, 5)).encode_single(gt, anchor).data
    np.testing.assert_allclose(codes, [[10 * 7 / 10, 10 * 4 / 20, 5 * math.log(2), 0]])
    assert BoxCoder().weights == (10.0, 10.0, 5.0, 5.0)


def test_decode_several_boxes_per_reference_and_the_exp_clip():
    coder = BoxCoder((1, 1, 1, 1))
    ref = np.array([[0.0, 0, 4, 2], [10, 10, 12, 12]])
    codes = np.zeros((2, 8))
    codes[:, 4:6] = 0.5             # second box of each row: moved by half its size
    codes[1, 2] = 100.0             # huge dw: clipped at log(1000 / 16)
    out = coder.decode_single(codes, ref).data
    assert out.shape == (2, 8)
    np.testing.assert_allclose(out[0], [0, 0, 4, 2, 2, 1, 6, 3])
    w = 2 * 1000 / 16
    np.testing.assert_allclose(out[1, :4], [11 - w / 2, 10, 11 + w / 2, 12])
    assert np.isfinite(out).all()
    # the list forms: per-image codes tuple, decoded (sum N, k, 4)
    enc = coder.encode([ref[:1], ref[1:]], [ref[:1], ref[1:]])
    assert len(enc) == 2 and enc[0].shape == (1, 4)
    assert coder.decode(codes, [ref[:1], ref[1:]]).shape == (2, 2, 4)


def test_box_coder_gradients():
    rng = np.random.default_rng(1)
    gt = nb.tensor(_boxes(rng, 4), requires_grad=True)
    anchors = nb.tensor(_boxes(rng, 4), requires_grad=True)
    codes = nb.tensor(rng.standard_normal((4, 8)) * 0.3, requires_grad=True)
    coder = BoxCoder()
    assert gradcheck(coder.encode_single, (gt, anchors))
    assert gradcheck(coder.decode_single, (codes, anchors))


def test_box_coder_errors():
    with pytest.raises(ValueError, match="BoxCoder: weights must be 4 numbers"):
        BoxCoder((1, 1, 1))
    with pytest.raises(ValueError, match=r"BoxCoder.decode_single: expected rel_codes of shape \(N, 4k\)"):
        BoxCoder().decode_single(np.zeros((2, 5)), np.zeros((2, 4)))


# ------------------------------------------------------------------------------------ anchors
def test_cell_anchors_follow_torchvisions_rounding():
    # ratios 0.5, 1, 2 (h / w) and sizes 32, 64: w = size / sqrt(r), h = size * sqrt(r), halves rounded
    a = generate_anchors((32, 64), (0.5, 1.0, 2.0)).data
    expected = []
    for r in (0.5, 1.0, 2.0):
        for s in (32, 64):
            w, h = s / math.sqrt(r), s * math.sqrt(r)
            expected.append(np.round(np.array([-w, -h, w, h]) / 2))
    np.testing.assert_array_equal(a, expected)
    assert a[0].tolist() == [-23.0, -11.0, 23.0, 11.0]
    assert generate_anchors((5,), (1.0,)).data.tolist() == [[-2.0, -2.0, 2.0, 2.0]]  # 2.5 rounds half to even


def test_anchor_generator_grid_order_and_strides():
    gen = AnchorGenerator(sizes=((8,), (16, 32)), aspect_ratios=((1.0,), (0.5, 1.0)))
    assert gen.num_anchors_per_location() == [1, 4]
    images = nb.zeros(2, 1, 32, 32)
    maps = [nb.zeros(2, 4, 4, 4), nb.zeros(2, 4, 2, 2)]
    out = gen(images, maps)
    assert len(out) == 2 and out[0].shape == (4 * 4 * 1 + 2 * 2 * 4, 4)
    a = out[0].data
    # first map: stride 8, position (y, x) = (0, 1) is the second anchor, shifted by x = 8
    np.testing.assert_array_equal(a[0], [-4, -4, 4, 4])
    np.testing.assert_array_equal(a[1], [4, -4, 12, 4])
    np.testing.assert_array_equal(a[4], [-4, 4, 4, 12])    # row 1 starts at index 4
    # second map: stride 16, four cell anchors per position
    second = a[16:].reshape(2, 2, 4, 4)
    np.testing.assert_array_equal(second[1, 0] - second[0, 0], np.tile([0, 16, 0, 16], (4, 1)))
    np.testing.assert_array_equal(second[0, 1] - second[0, 0], np.tile([16, 0, 16, 0], (4, 1)))
    assert out[0].dtype == np.float32 and not out[0].requires_grad
    # an (H, W) image size for one image
    assert len(gen((32, 32), maps)) == 1


@pytest.mark.parametrize("beta", [0.0, 1 / 9, 1.0])
def test_smooth_l1_on_box_codes_gradcheck(beta):
    """The detection box loss: smooth L1 between decoded-space codes, beta 1/9 as the RPN, 1 as the head."""
    rng = np.random.default_rng(5)
    pred = nb.tensor(rng.standard_normal((6, 4)), requires_grad=True)
    target = nb.tensor(rng.standard_normal((6, 4)))
    assert gradcheck(lambda p: nb.nn.functional.smooth_l1_loss(p, target, reduction="sum", beta=beta), (pred,))
