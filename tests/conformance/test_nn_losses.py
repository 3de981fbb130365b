"""nabla.nn loss modules against torch.nn: value and input gradient over reductions and options,
float32 and float64."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn

torch = pytest.importorskip("torch")
tnn = torch.nn

R = ("mean", "sum", "none")


def _idx(rng, n, c, *extra, ignore=0):
    t = rng.integers(0, c, (n,) + extra)
    if ignore:
        t.flat[:ignore] = -100
    return t


def _ignored(t, rng, value):
    """Class indices with about a fifth of them set to ``value`` (VOC's 255 at object borders)."""
    t = t.copy()
    t[rng.random(t.shape) < 0.2] = value
    return t


def _probs(rng, *shape, axis=1):
    p = rng.uniform(0.05, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


def cases():
    """(id, module factory taking the library (nn or torch.nn) and converter, input maker, target maker, target grad)"""
    rng = np.random.default_rng(0)
    w3 = rng.uniform(0.5, 2.0, 3)
    out = []
    for r in R:
        out += [
            (f"MSE-{r}", lambda L, T, r=r: L.MSELoss(reduction=r), lambda g: g.standard_normal((4, 3)),
             lambda g: g.standard_normal((4, 3)), True),
            (f"L1-{r}", lambda L, T, r=r: L.L1Loss(reduction=r), lambda g: g.standard_normal((4, 3)),
             lambda g: g.standard_normal((4, 3)), True),
            (f"SmoothL1-{r}", lambda L, T, r=r: L.SmoothL1Loss(reduction=r, beta=0.5),
             lambda g: g.standard_normal((4, 3)), lambda g: g.standard_normal((4, 3)), True),
            (f"Huber-{r}", lambda L, T, r=r: L.HuberLoss(reduction=r, delta=0.8),
             lambda g: g.standard_normal((4, 3)) * 2, lambda g: g.standard_normal((4, 3)), True),
            (f"CE-{r}", lambda L, T, r=r: L.CrossEntropyLoss(reduction=r), lambda g: g.standard_normal((6, 3)) * 3,
             lambda g: _idx(g, 6, 3), False),
            (f"CE-weight-ignore-smooth-{r}", lambda L, T, r=r: L.CrossEntropyLoss(
                weight=T(w3), ignore_index=-100, label_smoothing=0.15, reduction=r),
             lambda g: g.standard_normal((6, 3)), lambda g: _idx(g, 6, 3, ignore=2), False),
            (f"CE-spatial-weight-{r}", lambda L, T, r=r: L.CrossEntropyLoss(weight=T(w3), reduction=r),
             lambda g: g.standard_normal((2, 3, 2, 2)), lambda g: _idx(g, 2, 3, 2, 2, ignore=1), False),
            (f"CE-segmentation-ignore255-weight-{r}", lambda L, T, r=r: L.CrossEntropyLoss(
                weight=T(w3), ignore_index=255, reduction=r),
             lambda g: g.standard_normal((2, 3, 4, 5)), lambda g: _ignored(_idx(g, 2, 3, 4, 5), g, 255), False),
            (f"CE-probs-{r}", lambda L, T, r=r: L.CrossEntropyLoss(weight=T(w3), label_smoothing=0.1, reduction=r),
             lambda g: g.standard_normal((5, 3)), lambda g: _probs(g, 5, 3), True),
            (f"NLL-{r}", lambda L, T, r=r: L.NLLLoss(weight=T(w3), reduction=r),
             lambda g: np.log(_probs(g, 6, 3)), lambda g: _idx(g, 6, 3, ignore=1), False),
            (f"BCE-{r}", lambda L, T, r=r: L.BCELoss(weight=T(w3), reduction=r),
             lambda g: g.uniform(0.02, 0.98, (4, 3)), lambda g: g.uniform(0, 1, (4, 3)), True),
            (f"BCEWithLogits-{r}", lambda L, T, r=r: L.BCEWithLogitsLoss(reduction=r, pos_weight=T(w3)),
             lambda g: g.standard_normal((4, 3)) * 5, lambda g: (g.uniform(size=(4, 3)) > 0.5) * 1.0, True),
        ]
    for r in R + ("batchmean",):
        out += [
            (f"KLDiv-{r}", lambda L, T, r=r: L.KLDivLoss(reduction=r), lambda g: np.log(_probs(g, 4, 3)),
             lambda g: _probs(g, 4, 3), True),
            (f"KLDiv-logtarget-{r}", lambda L, T, r=r: L.KLDivLoss(reduction=r, log_target=True),
             lambda g: np.log(_probs(g, 4, 3)), lambda g: np.log(_probs(g, 4, 3)), True),
        ]
    out.append(("BCEWithLogits-magnitude-100", lambda L, T: L.BCEWithLogitsLoss(),
                lambda g: np.sign(g.standard_normal((4, 3))) * 100, lambda g: (g.uniform(size=(4, 3)) > 0.5) * 1.0,
                False))
    out.append(("CE-logits-1e4", lambda L, T: L.CrossEntropyLoss(), lambda g: g.standard_normal((4, 5)) * 1e4,
                lambda g: _idx(g, 4, 5), False))
    return out


CASES = cases()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_loss_matches_torch(case, dtype):
    name, make, make_x, make_t, target_grad = case
    rng = np.random.default_rng(3)
    x = make_x(rng).astype(dtype)
    t = make_t(rng)
    t = t.astype(dtype) if t.dtype.kind == "f" else t.astype(np.int64)
    tdt = getattr(torch, dtype)
    n_loss = make(nn, lambda a: nb.tensor(a.astype(dtype)))
    t_loss = make(tnn, lambda a: torch.tensor(a, dtype=tdt))
    tg = target_grad and t.dtype.kind == "f"
    xn, xt = nb.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tn, tt = nb.tensor(t, requires_grad=tg), torch.tensor(t, requires_grad=tg)
    yn, yt = n_loss(xn, tn), t_loss(xt, tt)
    atol, rtol = (1e-5, 1e-4) if dtype == "float32" else (1e-10, 1e-8)
    if "1e4" in name:
        atol, rtol = 1e-3, 1e-4
    assert yn.shape == tuple(yt.shape) and yn.dtype == np.dtype(dtype)
    np.testing.assert_allclose(yn.data, yt.detach().numpy(), atol=atol, rtol=rtol, err_msg=f"{name} value")
    u = rng.standard_normal(yn.shape).astype(dtype)
    (yn * nb.tensor(u)).sum().backward()
    (yt * torch.tensor(u)).sum().backward()
    np.testing.assert_allclose(xn.grad.data, xt.grad.numpy(), atol=atol * 10, rtol=rtol * 10,
                               err_msg=f"{name} input gradient")
    if tg:
        np.testing.assert_allclose(tn.grad.data, tt.grad.numpy(), atol=atol * 10, rtol=rtol * 10,
                                   err_msg=f"{name} target gradient")
