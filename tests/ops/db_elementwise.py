"""OpInfo entries for nabla/ops/elementwise.py."""
import numpy as np

import nabla as nb
from .opinfo import OpInfo, Sample, randn, positive, UNARY_SHAPES


def _torch():
    import torch
    return torch


def unary(rng, make=randn, **kwargs):
    # np.asarray: arithmetic on a 0-d array gives a NumPy scalar, which would not become a tensor
    return [Sample((np.asarray(make(rng, *s), dtype=np.float64),), dict(kwargs), name=str(s)) for s in UNARY_SHAPES]


def avoid(x, points, gap=0.05):
    """Move the values of x that lie within ``gap`` of a kink to 2 gaps away, so that finite
    differences never straddle it."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        near = np.abs(x - p) < gap
        x[near] = p + 2 * gap * np.where(x[near] >= p, 1.0, -1.0)
    return x


def away_from_zero(rng, *shape):
    return avoid(randn(rng, *shape), [0.0])


def near_zero(rng, *shape):
    """Values above -1, for log1p."""
    return rng.uniform(-0.6, 2.0, shape)


def clamp_samples(rng):
    out = []
    for s in UNARY_SHAPES:
        x = avoid(rng.uniform(-1.5, 1.5, s), [-0.5, 0.5])
        out.append(Sample((x,), {"min": -0.5, "max": 0.5}, name=f"both{s}"))
    x = avoid(rng.uniform(-1.5, 1.5, (3, 4)), [-0.5, 0.5])
    out += [Sample((x,), {"min": -0.5}, name="min-only"), Sample((x,), {"max": 0.5}, name="max-only"),
            Sample((x,), {"min": 0.5, "max": -0.5}, name="min>max")]
    return out


def clamp_tensor_samples(rng):
    x = rng.uniform(-1.5, 1.5, (3, 4))
    lo = avoid(rng.uniform(-1.0, 0.0, (4,)), [])
    hi = rng.uniform(0.2, 1.0, (3, 1))
    x = avoid(x, list(lo) + list(hi.ravel()))
    return [Sample((x, lo, hi), name="bcast-bounds")]


def nondiff(rng, scale=3.0):
    # x.5 halves are exactly representable, so round's halves-to-even rule is exercised
    halves = np.array([-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 3.7])
    return [Sample((randn(rng, 3, 4) * scale,), name="randn"), Sample((halves,), name="halves"),
            Sample((np.asarray(randn(rng, *()) * scale),), name="0d")]


OPS = [
    OpInfo("exp", nb.exp, lambda x: x.exp(), unary),
    OpInfo("exp_method", lambda x: x.exp(), lambda x: x.exp(), lambda r: unary(r)[:1]),
    OpInfo("expm1", nb.expm1, lambda x: _torch().expm1(x), unary),
    OpInfo("log", nb.log, lambda x: x.log(), lambda r: unary(r, positive)),
    OpInfo("log2", nb.log2, lambda x: x.log2(), lambda r: unary(r, positive)),
    OpInfo("log10", nb.log10, lambda x: x.log10(), lambda r: unary(r, positive)),
    OpInfo("log1p", nb.log1p, lambda x: x.log1p(), lambda r: unary(r, near_zero)),
    OpInfo("sqrt", nb.sqrt, lambda x: x.sqrt(), lambda r: unary(r, positive)),
    OpInfo("rsqrt", nb.rsqrt, lambda x: x.rsqrt(), lambda r: unary(r, positive)),
    OpInfo("square", nb.square, lambda x: x.square(), unary),
    OpInfo("reciprocal", nb.reciprocal, lambda x: x.reciprocal(), lambda r: unary(r, positive)),
    OpInfo("sin", nb.sin, lambda x: x.sin(), unary),
    OpInfo("cos", nb.cos, lambda x: x.cos(), unary),
    OpInfo("tan", nb.tan, lambda x: x.tan(), lambda r: unary(r, lambda g, *s: g.uniform(-1.2, 1.2, s))),
    OpInfo("erf", nb.erf, lambda x: x.erf(), lambda r: unary(r, lambda g, *s: 2 * randn(g, *s))),
    OpInfo("erfc", nb.erfc, lambda x: x.erfc(), lambda r: unary(r, lambda g, *s: 2 * randn(g, *s))),
    OpInfo("abs", nb.abs, lambda x: x.abs(), lambda r: unary(r, away_from_zero)),
    OpInfo("__abs__", lambda x: abs(x), lambda x: abs(x), lambda r: unary(r, away_from_zero)[:1]),
    OpInfo("clamp", nb.clamp, lambda x, **k: _torch().clamp(x, **k), clamp_samples),
    OpInfo("clip_method", lambda x, **k: x.clip(**k), lambda x, **k: x.clip(**k), lambda r: clamp_samples(r)[:1]),
    OpInfo("clamp_tensor_bounds", lambda x, lo, hi: nb.clamp(x, lo, hi),
           lambda x, lo, hi: _torch().clamp(x, lo, hi), clamp_tensor_samples),
    OpInfo("clone", nb.clone, lambda x: x.clone(), unary),
    OpInfo("sign", nb.sign, lambda x: x.sign(), nondiff, gradcheck=False),
    OpInfo("floor", nb.floor, lambda x: x.floor(), nondiff, gradcheck=False),
    OpInfo("ceil", nb.ceil, lambda x: x.ceil(), nondiff, gradcheck=False),
    OpInfo("trunc", nb.trunc, lambda x: x.trunc(), nondiff, gradcheck=False),
    OpInfo("round", nb.round, lambda x: x.round(), nondiff, gradcheck=False),
    OpInfo("round_decimals", lambda x: nb.round(x, decimals=2), lambda x: x.round(decimals=2),
           lambda r: [Sample((randn(r, 3, 4) * 3,))], gradcheck=False),
]
