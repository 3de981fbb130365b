"""Loss modules: stability, PyTorch semantics worth pinning down, bad input.
(gradcheck of the functional forms is in test_functional.py, driven by db_nn.py.)"""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd import gradcheck


def test_cross_entropy_large_logits_stay_finite():
    x = nb.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], requires_grad=True)
    t = nb.tensor(np.array([0, 2]))
    loss = nn.CrossEntropyLoss()(x, t)
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(np.log(2) / 2, rel=1e-5)
    loss.backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, [[0, 0, 0], [0, 0.25, -0.25]], atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_rows_out_of_exp_range_match_the_max_shifted_formula(dtype):
    """The forward takes exp(z) unshifted and redoes rows whose sum overflows or underflows with the
    max shift: rows of ordinary, huge (overflow), very negative (underflow), masked (-inf) and mixed
    logits all give the stable log-softmax's loss and gradient."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((6, 40))
    z[1] += 95.0 if dtype == np.float32 else 720.0     # exp overflows
    z[2] -= 120.0 if dtype == np.float32 else 760.0    # exp underflows to 0
    z[3, ::2] = -np.inf                                # masked classes
    z[4, 0] = 89.0                                     # one entry past float32's exp range
    z[5] *= 60.0                                       # wide spread
    t = np.array([0, 5, 7, 1, 0, 3])
    x = nb.tensor(z.astype(dtype), requires_grad=True)
    loss = nn.CrossEntropyLoss(reduction="none")(x, nb.tensor(t))
    zs = z - z.max(1, keepdims=True)
    logp = zs - np.log(np.exp(zs).sum(1, keepdims=True))
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(loss.data, -logp[np.arange(6), t], rtol=rtol, atol=rtol)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(logp) - np.eye(40)[t], rtol=rtol, atol=rtol)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    rng = np.random.default_rng(0)
    x = nb.Tensor(rng.standard_normal((4, 5)), requires_grad=True)
    t = np.array([0, 4, 2, 2])
    nn.CrossEntropyLoss(reduction="sum")(x, nb.tensor(t)).backward()
    p = np.exp(x.data) / np.exp(x.data).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.data, p - np.eye(5)[t], atol=1e-12)


def test_cross_entropy_weighted_mean_divides_by_weight_sum():
    x = nb.Tensor(np.zeros((3, 2)))
    w = nb.tensor([1.0, 3.0])
    t = nb.tensor(np.array([0, 1, -100]))
    loss = nn.CrossEntropyLoss(weight=w)(x, t)
    assert loss.item() == pytest.approx(np.log(2))  # (1 + 3) log 2 / (1 + 3)


def test_bce_with_logits_stable_for_magnitude_100():
    x = nb.tensor([100.0, -100.0, 100.0, -100.0], dtype=nb.float64, requires_grad=True)
    y = nb.tensor([1.0, 0.0, 0.0, 1.0], dtype=nb.float64)
    loss = nn.BCEWithLogitsLoss(reduction="none")(x, y)
    np.testing.assert_allclose(loss.data, [0, 0, 100, 100], atol=1e-12)
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.data, [0, 0, 1, -1], atol=1e-12)
    gradcheck(lambda z: nn.BCEWithLogitsLoss()(z, y), (x,))


def test_bce_clamps_log():
    x = nb.tensor([0.0, 1.0], requires_grad=True)
    loss = nn.BCELoss(reduction="none")(x, nb.tensor([1.0, 0.0]))
    np.testing.assert_allclose(loss.data, [100, 100])
    loss.sum().backward()
    assert np.isfinite(x.grad.data).all()


def test_kl_div_batchmean_is_kl_divergence():
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    q = np.array([[0.4, 0.6], [0.1, 0.9]])
    loss = nn.KLDivLoss(reduction="batchmean")(nb.tensor(np.log(q)), nb.tensor(p))
    assert loss.item() == pytest.approx((p * np.log(p / q)).sum() / 2)


# ---------------------------------------------------------------------- bad input
def test_cross_entropy_index_out_of_range():
    with pytest.raises(IndexError, match=r"CrossEntropyLoss: target class index 10 is out of range for 10 classes"):
        nn.CrossEntropyLoss()(nb.randn(3, 10), nb.tensor(np.array([1, 10, 2])))
    with pytest.raises(IndexError, match=r"out of range for 4 classes"):
        nn.CrossEntropyLoss()(nb.randn(2, 4), nb.tensor(np.array([-3, 1])))
    with pytest.raises(IndexError, match=r"NLLLoss: target class index 5"):
        nn.NLLLoss()(nb.randn(2, 4), nb.tensor(np.array([5, 1])))


def test_cross_entropy_shape_and_dtype_errors():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: expected target of shape \(4,\) for input of shape "
                                         r"\(4, 3\), got \(5,\)"):
        nn.CrossEntropyLoss()(nb.randn(4, 3), nb.tensor(np.zeros(5, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"weight of shape \(2,\)"):
        nn.CrossEntropyLoss(weight=nb.ones(2))(nb.randn(4, 3), nb.tensor(np.zeros(4, dtype=np.int64)))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("cls", [nn.MSELoss, nn.L1Loss, nn.SmoothL1Loss, nn.HuberLoss, nn.BCELoss,
                                 nn.BCEWithLogitsLoss, nn.KLDivLoss])
def test_mismatched_shapes_raise(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}: input of shape \(4, 1\) and target of shape \(4,\) differ"):
        cls()(nb.rand(4, 1), nb.rand(4))


def test_bce_input_out_of_range():
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.BCELoss()(nb.tensor([1.5]), nb.tensor([1.0]))


def test_losses_keep_dtype_and_modules_hold_weight_buffer():
    x = nb.randn(3, 4)
    assert nn.MSELoss()(x, nb.randn(3, 4)).dtype == np.float32
    assert nn.CrossEntropyLoss()(x, nb.tensor(np.array([0, 1, 2]))).dtype == np.float32
    crit = nn.CrossEntropyLoss(weight=nb.ones(4))
    assert list(crit.state_dict()) == ["weight"]
    assert repr(nn.MSELoss(reduction="sum")) == "MSELoss(reduction='sum')"


# ---------------------------------------------------------------------------------------------- Dice loss
def _dice_numpy(x, t, weight=None, ignore_index=-100, smooth=1.0):
    """Per-class soft Dice loss, written out: softmax, one-hot, sums over the batch and the pixels."""
    e = np.exp(x - x.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    valid = t != ignore_index
    out = []
    for c in range(x.shape[1]):
        pc, yc = p[:, c][valid], (t[valid] == c).astype(float)
        out.append(1 - (2 * (pc * yc).sum() + smooth) / (pc.sum() + yc.sum() + smooth))
    w = np.ones(x.shape[1]) if weight is None else np.asarray(weight)
    return np.array(out) * w, w


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_dice_loss_is_the_written_out_formula(reduction):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 3, 5))
    t = rng.integers(0, 4, (2, 3, 5))
    t[0, 1] = 255
    w = [0.0, 1.0, 2.0, 0.5]
    per_class, weights = _dice_numpy(x, t, w, ignore_index=255, smooth=0.5)
    expected = {"mean": per_class.sum() / weights.sum(), "sum": per_class.sum(), "none": per_class}[reduction]
    got = nn.DiceLoss(weight=w, ignore_index=255, smooth=0.5, reduction=reduction)(nb.tensor(x), t)
    np.testing.assert_allclose(got.data, expected, rtol=1e-10)
    plain = nb.nn.functional.dice_loss(nb.tensor(x), np.where(t == 255, 0, t))
    assert plain.item() == pytest.approx(_dice_numpy(x, np.where(t == 255, 0, t))[0].mean())


def test_dice_loss_gradcheck_and_ignored_pixels_get_no_gradient():
    rng = np.random.default_rng(1)
    x = nb.tensor(rng.standard_normal((2, 3, 2, 3)), requires_grad=True)
    t = rng.integers(0, 3, (2, 2, 3))
    t[1, 0, 2] = -100
    assert gradcheck(lambda a: nb.nn.functional.dice_loss(a, t, weight=[1.0, 2.0, 0.5]), (x,))
    nb.nn.functional.dice_loss(x, t).backward()
    assert (x.grad.data[1, :, 0, 2] == 0).all() and np.abs(x.grad.data).sum() > 0
    moved = x.data.copy()
    moved[1, :, 0, 2] += 5.0   # what the model says at an ignored pixel changes nothing
    assert nb.nn.functional.dice_loss(nb.tensor(moved), t).item() == pytest.approx(
        nb.nn.functional.dice_loss(x.detach(), t).item())


def test_dice_loss_is_near_zero_for_a_confident_right_answer_and_checks_its_input():
    t = np.array([[[0, 1], [2, 1]]])
    x = nb.tensor(np.moveaxis(np.eye(3)[t], -1, 1) * 30.0)
    assert nn.DiceLoss()(x, t).item() < 1e-6
    with pytest.raises(IndexError, match=r"DiceLoss: target class index 3 is out of range for 3 classes"):
        nn.DiceLoss()(x, np.array([[[0, 3], [2, 1]]]))
    with pytest.raises(ValueError, match=r"DiceLoss: weight of shape \(2,\)"):
        nn.DiceLoss(weight=[1.0, 1.0])(x, t)
    with pytest.raises(ValueError, match="smooth must be non-negative"):
        nb.nn.functional.dice_loss(x, t, smooth=-1.0)
