"""OpInfo entries for nabla.nn.functional's own ops: linear, normalisation, embedding, dropout, losses.

Weights and other non-differentiated arrays are passed positionally and excluded with ``grad=``, so that
the same call works on nabla tensors and on torch tensors.
"""
import numpy as np

import nabla as nb
import nabla.nn.functional as F
from tests.ops.opinfo import OpInfo, Sample, randn, positive


def _tf():
    import torch.nn.functional as tf
    return tf


def _torch():
    import torch
    return torch


def _seeded(fn, seed=0):
    """Dropout draws a mask per call; reseed so that every evaluation of gradcheck sees the same mask."""
    def f(*args, **kwargs):
        nb.manual_seed(seed)
        return fn(*args, **kwargs)
    return f


def linear_samples(rng):
    return [Sample((randn(rng, 3, 4), randn(rng, 5, 4), randn(rng, 5)), name="2d"),
            Sample((randn(rng, 2, 3, 4), randn(rng, 2, 4), randn(rng, 2)), name="3d"),
            Sample((randn(rng, 4), randn(rng, 3, 4), randn(rng, 3)), name="1d"),
            Sample((randn(rng, 1, 4), randn(rng, 1, 4), randn(rng, 1)), name="size1")]


def labels(rng, n, c, *extra):
    return rng.integers(0, c, (n,) + extra).astype(np.int64)


def ce_samples(rng):
    t = labels(rng, 5, 4)
    t_ign = t.copy()
    t_ign[[1, 3]] = -100
    return [Sample((randn(rng, 5, 4), t), name="mean"),
            Sample((randn(rng, 5, 4), t), dict(reduction="sum"), name="sum"),
            Sample((randn(rng, 5, 4), t), dict(reduction="none"), name="none"),
            Sample((randn(rng, 5, 4), t_ign), name="ignore_index"),
            Sample((randn(rng, 5, 4), t), dict(ignore_index=7), name="ignore_index_unused"),
            Sample((randn(rng, 2, 3, 2, 2), labels(rng, 2, 3, 2, 2)), name="spatial"),
            Sample((randn(rng, 2, 3, 2), labels(rng, 2, 3, 2)), dict(reduction="none"), name="spatial_none"),
            Sample((randn(rng, 4), np.array(2)), name="unbatched"),
            Sample((randn(rng, 5, 4), t), dict(label_smoothing=0.2), name="smoothing"),
            Sample((randn(rng, 5, 4), t_ign), dict(label_smoothing=0.1, reduction="none"), name="smoothing_none")]


def ce_weighted_samples(rng):
    t = labels(rng, 6, 3)
    t_ign = t.copy()
    t_ign[0] = -100
    w = positive(rng, 3)
    return [Sample((randn(rng, 6, 3), t, w), dict(reduction=r), grad=(0,), name=r) for r in ("mean", "sum", "none")] + [
        Sample((randn(rng, 6, 3), t_ign, w), grad=(0,), name="ignore"),
        Sample((randn(rng, 6, 3), t_ign, w), dict(label_smoothing=0.3), grad=(0,), name="smoothing"),
        Sample((randn(rng, 2, 3, 4), labels(rng, 2, 3, 4), w), grad=(0,), name="spatial")]


def ce_prob_samples(rng):
    def probs(*shape):
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=1, keepdims=True)
    return [Sample((randn(rng, 4, 3), probs(4, 3)), name="mean"),
            Sample((randn(rng, 4, 3), probs(4, 3)), dict(reduction="none", label_smoothing=0.2), name="none_smooth"),
            Sample((randn(rng, 2, 3, 2), probs(2, 3, 2)), dict(reduction="sum"), name="spatial")]


def nll_samples(rng):
    t = labels(rng, 5, 4)
    t[2] = -100
    w = positive(rng, 4)
    return [Sample((randn(rng, 5, 4), t), dict(reduction=r), name=r) for r in ("mean", "sum", "none")] + [
        Sample((randn(rng, 5, 4), t, w), grad=(0,), name="weight"),
        Sample((randn(rng, 5, 4), t, w), dict(reduction="none"), grad=(0,), name="weight_none"),
        Sample((randn(rng, 2, 4, 3), labels(rng, 2, 4, 3)), name="spatial")]


def prob(rng, *shape):
    return rng.uniform(0.05, 0.95, shape)


def pair_samples(rng, make_target=randn, reductions=("mean", "sum", "none")):
    return [Sample((randn(rng, 3, 4), make_target(rng, 3, 4)), dict(reduction=r), name=r) for r in reductions] + [
        Sample((randn(rng, 5), make_target(rng, 5)), name="1d"), Sample((randn(rng), make_target(rng)), name="0d")]


def bce_samples(rng):
    return [Sample((prob(rng, 3, 4), prob(rng, 3, 4)), dict(reduction=r), name=r) for r in ("mean", "sum", "none")] + [
        Sample((prob(rng, 3, 4), (rng.uniform(size=(3, 4)) > 0.5) * 1.0, positive(rng, 4)), grad=(0,), name="weight")]


def bce_logits_samples(rng):
    y = (rng.uniform(size=(3, 4)) > 0.5) * 1.0
    return [Sample((randn(rng, 3, 4) * 3, prob(rng, 3, 4)), dict(reduction=r), name=r)
            for r in ("mean", "sum", "none")] + [
        Sample((randn(rng, 3, 4), y, positive(rng, 4)), grad=(0,), name="weight"),
        Sample((randn(rng, 3, 4), y, None, positive(rng, 4)), grad=(0,), name="pos_weight"),
        Sample((randn(rng, 3, 4), prob(rng, 3, 4), positive(rng, 3, 4), positive(rng, 4)), grad=(0, 1),
               name="both")]


def kl_samples(rng):
    def logp(*shape):
        p = rng.uniform(0.1, 1.0, shape)
        return np.log(p / p.sum(axis=-1, keepdims=True))
    return [Sample((logp(3, 4), np.exp(logp(3, 4))), dict(reduction=r), name=r)
            for r in ("mean", "sum", "none", "batchmean")] + [
        Sample((logp(3, 4), logp(3, 4)), dict(reduction="batchmean", log_target=True), name="log_target"),
        Sample((logp(3, 4), np.where(rng.uniform(size=(3, 4)) > 0.5, np.exp(logp(3, 4)), 0.0)), grad=(0,),
               name="zeros_in_target")]


def bn_train_samples(rng):
    return [Sample((randn(rng, 5, 3), positive(rng, 3), randn(rng, 3)), name="NC"),
            Sample((randn(rng, 4, 3, 2), positive(rng, 3), randn(rng, 3)), name="NCL"),
            Sample((randn(rng, 2, 2, 3, 2), positive(rng, 2), randn(rng, 2)), name="NCHW"),
            Sample((randn(rng, 2, 1), positive(rng, 1), randn(rng, 1)), name="two_samples")]


def bn_eval_samples(rng):
    return [Sample((randn(rng, 5, 3), randn(rng, 3), positive(rng, 3), positive(rng, 3), randn(rng, 3)),
                   grad=(0, 3, 4), name="NC"),
            Sample((randn(rng, 2, 3, 2, 2), randn(rng, 3), positive(rng, 3), positive(rng, 3), randn(rng, 3)),
                   grad=(0, 3, 4), name="NCHW")]


def ln_samples(rng):
    return [Sample((randn(rng, 3, 4), (4,), positive(rng, 4), randn(rng, 4)), name="last"),
            Sample((randn(rng, 2, 3, 4), (3, 4), positive(rng, 3, 4), randn(rng, 3, 4)), name="last2"),
            Sample((randn(rng, 2, 5), (5,), None, None), name="no_affine"),
            Sample((randn(rng, 4), (4,), positive(rng, 4), randn(rng, 4)), name="1d")]


def emb_samples(rng):
    idx = np.array([[0, 2, 4], [4, 4, 1]])
    return [Sample((idx, randn(rng, 5, 3)), name="repeated"),
            Sample((np.array(3), randn(rng, 5, 2)), name="0d_index")]


def emb_modified_grad_samples(rng):
    """padding_idx and scale_grad_by_freq change the gradient on purpose (it is no longer the derivative),
    so these are compared with PyTorch only."""
    idx = np.array([[0, 2, 4], [4, 4, 1]])
    return [Sample((idx, randn(rng, 5, 3)), dict(padding_idx=4), name="padding_idx"),
            Sample((idx, randn(rng, 5, 3)), dict(padding_idx=-1, scale_grad_by_freq=True), name="scale_grad_by_freq")]


def _bn_eval(nb_or_torch):
    def f(x, rm, rv, w, b):
        mod = F if nb_or_torch == "nb" else _tf()
        return mod.batch_norm(x, rm, rv, w, b, training=False, eps=1e-3)
    return f


OPS = [
    OpInfo("linear", F.linear, lambda x, w, b: _tf().linear(x, w, b), linear_samples),
    OpInfo("linear_nobias", lambda x, w, b: F.linear(x, w), lambda x, w, b: _tf().linear(x, w), linear_samples),
    OpInfo("batch_norm_train", lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
           lambda x, w, b: _tf().batch_norm(x, None, None, w, b, training=True), bn_train_samples,
           atol=1e-4, conf_atol32=2e-4),
    OpInfo("batch_norm_train_noaffine", lambda x, w, b: F.batch_norm(x, None, None, training=True),
           lambda x, w, b: _tf().batch_norm(x, None, None, training=True),
           lambda r: [Sample(s.args, grad=(0,), name=s.name) for s in bn_train_samples(r)], atol=1e-4,
           conf_atol32=2e-4),
    OpInfo("batch_norm_eval", _bn_eval("nb"), _bn_eval("torch"), bn_eval_samples),
    OpInfo("layer_norm", lambda x, s, w, b: F.layer_norm(x, s, w, b),
           lambda x, s, w, b: _tf().layer_norm(x, s, w, b), ln_samples, atol=1e-4, conf_atol32=2e-4),
    OpInfo("embedding", lambda i, w, **k: F.embedding(i, w, **k), lambda i, w, **k: _tf().embedding(i, w, **k),
           emb_samples),
    OpInfo("embedding_modified_grad", lambda i, w, **k: F.embedding(i, w, **k),
           lambda i, w, **k: _tf().embedding(i, w, **k), emb_modified_grad_samples, gradcheck=False),
    OpInfo("dropout", _seeded(lambda x: F.dropout(x, 0.4)), None,
           lambda r: [Sample((randn(r, 4, 5),), name="2d"), Sample((randn(r, 2, 3, 2, 2),), name="4d")]),
    OpInfo("dropout2d", _seeded(lambda x: F.dropout2d(x, 0.4)), None,
           lambda r: [Sample((randn(r, 3, 4, 2, 2),), name="4d")]),
    OpInfo("cross_entropy", lambda x, t, **k: F.cross_entropy(x, t, **k),
           lambda x, t, **k: _tf().cross_entropy(x, t, **k), ce_samples),
    OpInfo("cross_entropy_weight", lambda x, t, w, **k: F.cross_entropy(x, t, w, **k),
           lambda x, t, w, **k: _tf().cross_entropy(x, t, w, **k), ce_weighted_samples),
    OpInfo("cross_entropy_probs", lambda x, p, **k: F.cross_entropy(x, p, **k),
           lambda x, p, **k: _tf().cross_entropy(x, p, **k), ce_prob_samples),
    OpInfo("nll_loss", lambda x, t, w=None, **k: F.nll_loss(x, t, w, **k),
           lambda x, t, w=None, **k: _tf().nll_loss(x, t, w, **k), nll_samples),
    OpInfo("mse_loss", lambda x, y, **k: F.mse_loss(x, y, **k), lambda x, y, **k: _tf().mse_loss(x, y, **k),
           pair_samples),
    OpInfo("l1_loss", lambda x, y, **k: F.l1_loss(x, y, **k), lambda x, y, **k: _tf().l1_loss(x, y, **k),
           pair_samples),
    OpInfo("smooth_l1_loss", lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.7, **k),
           lambda x, y, **k: _tf().smooth_l1_loss(x, y, beta=0.7, **k), pair_samples),
    OpInfo("smooth_l1_loss_beta0", lambda x, y, **k: F.smooth_l1_loss(x, y, beta=0.0, **k),
           lambda x, y, **k: _tf().smooth_l1_loss(x, y, beta=0.0, **k), pair_samples),
    OpInfo("huber_loss", lambda x, y, **k: F.huber_loss(x, y, delta=0.6, **k),
           lambda x, y, **k: _tf().huber_loss(x, y, delta=0.6, **k), pair_samples),
    OpInfo("binary_cross_entropy", lambda x, y, w=None, **k: F.binary_cross_entropy(x, y, w, **k),
           lambda x, y, w=None, **k: _tf().binary_cross_entropy(x, y, w, **k), bce_samples),
    OpInfo("binary_cross_entropy_with_logits",
           lambda x, y, w=None, pw=None, **k: F.binary_cross_entropy_with_logits(x, y, w, pos_weight=pw, **k),
           lambda x, y, w=None, pw=None, **k: _tf().binary_cross_entropy_with_logits(x, y, w, pos_weight=pw, **k),
           bce_logits_samples),
    OpInfo("kl_div", lambda x, t, **k: F.kl_div(x, t, **k), lambda x, t, **k: _tf().kl_div(x, t, **k), kl_samples),
]

