"""OpInfo entries for nabla/ops/reduce.py."""
import numpy as np

import nabla as nb
from nabla.ops.reduce import norm
from .opinfo import OpInfo, Sample, randn, positive


def _torch(name):
    """torch.<name>, looked up when called (torch is optional outside the conformance tests)."""
    return lambda *a, **k: getattr(__import__("torch"), name)(*a, **k)


# (shape, kwargs): every axis, one axis, a negative axis, a tuple, keepdim, size-1 and 0-d.
DIMS = [
    ((3, 4), {}),
    ((3, 4), {"dim": 1}),
    ((2, 3, 4), {"dim": -1, "keepdim": True}),
    ((2, 3, 4), {"dim": (0, 2)}),
    ((2, 3, 4), {"dim": (0, -1), "keepdim": True}),
    ((3, 1), {"dim": 1}),
    ((1,), {}),
    ((), {}),
    ((), {"dim": 0}),
]
ONE_DIM = [((3, 4), {"dim": 1}), ((2, 3, 4), {"dim": 0, "keepdim": True}), ((2, 3, 4), {"dim": -1}),
           ((4, 1), {"dim": 1}), ((5,), {"dim": 0})]


def reduce_samples(make=randn, dims=DIMS):
    def samples(rng):
        return [Sample((make(rng, *shape),), dict(kw), name=f"{shape}-{kw}") for shape, kw in dims]
    return samples


def prod_samples(rng):
    out = reduce_samples(positive, [d for d in DIMS if not isinstance(d[1].get("dim"), tuple)])(rng)
    with_zero = randn(rng, 3, 4)
    with_zero[1, 2] = 0.0
    two_zeros = randn(rng, 3, 4)
    two_zeros[0, 1] = two_zeros[0, 3] = 0.0
    one_zero = randn(rng, 2, 3)
    one_zero[1, 0] = 0.0
    out += [Sample((randn(rng, 3, 4),), {"dim": 0}, name="signed"),
            Sample((with_zero,), {"dim": 1}, name="one-zero-dim"),
            Sample((with_zero,), {"dim": 0, "keepdim": True}, name="one-zero-dim0"),
            Sample((two_zeros,), {"dim": 1}, name="two-zeros-dim"),
            Sample((one_zero,), {}, name="one-zero-all"),
            Sample((two_zeros,), {}, name="two-zeros-all")]
    return out


def prod_tuple_samples(rng):
    x = randn(rng, 2, 3, 4)
    x[1, 0, 2] = 0.0
    return [Sample((randn(rng, 2, 3, 4), (0, 2)), name="tuple"), Sample((x, (1, 2)), name="tuple-zero")]


def max_dim_samples(rng):
    return [Sample((randn(rng, *shape), kw["dim"]), {"keepdim": kw.get("keepdim", False)}, name=f"{shape}-{kw}")
            for shape, kw in ONE_DIM]


def var_samples(rng):
    return [Sample((randn(rng, 3, 4),), {}, name="all"),
            Sample((randn(rng, 3, 4),), {"dim": 1}, name="dim1"),
            Sample((randn(rng, 2, 3, 4),), {"dim": (0, 2), "keepdim": True}, name="tuple-keepdim"),
            Sample((randn(rng, 3, 4),), {"dim": 0, "correction": 0}, name="correction0"),
            Sample((randn(rng, 3, 4),), {"dim": 1, "correction": 2}, name="correction2"),
            Sample((randn(rng, 3, 4),), {"dim": 1, "unbiased": False}, name="unbiased-false"),
            Sample((randn(rng, 3, 4),), {"dim": -1, "unbiased": True, "keepdim": True}, name="unbiased-true")]


def lse_samples(rng):
    return reduce_samples(dims=[d for d in DIMS if "dim" in d[1]])(rng) + [
        Sample((randn(rng, 3, 4) * 1e4,), {"dim": 1}, name="large"),
        Sample((randn(rng, 3, 4) * 1e4 - 3e4,), {"dim": (0, 1)}, name="large-negative")]


NORM_P = [2, "fro", 1, 3, 1.5, 0.5, float("inf"), -float("inf"), -1.5]


def norm_samples(rng):
    out = [Sample((randn(rng, 3, 4),), {"p": p}, name=f"p={p}") for p in NORM_P]
    out += [Sample((randn(rng, 3, 4),), {"p": p, "dim": 1}, name=f"p={p}-dim1") for p in NORM_P]
    out += [Sample((randn(rng, 2, 3, 4),), {"dim": (0, 2), "keepdim": True}, name="tuple-keepdim"),
            Sample((randn(rng, 2, 3, 4),), {"p": 3, "dim": -1, "keepdim": True}, name="p3-keepdim"),
            Sample((randn(rng, 1),), {}, name="size1"), Sample((randn(rng),), {"dim": 0}, name="0d")]
    return out


def norm_zero_samples(rng):
    """Rows that are all zero (the gradient there is PyTorch's subgradient 0) and single zeros."""
    x = randn(rng, 3, 4)
    x[1] = 0.0
    x[2, 1] = 0.0
    return [Sample((x,), {"p": p, "dim": 1}, name=f"zero-row-p={p}") for p in (2, 1, 3, 1.5, float("inf"))] + \
        [Sample((np.zeros((2, 3)),), {"p": p}, name=f"all-zero-p={p}") for p in (2, "fro", 3)]


def cumsum_samples(rng):
    return [Sample((randn(rng, 3, 4), d), name=f"dim{d}") for d in (0, 1, -1)] + [
        Sample((randn(rng, 2, 3, 4), 1), name="3d"), Sample((randn(rng, 5), 0), name="1d"),
        Sample((randn(rng), 0), name="0d")]


def arg_samples(rng):
    return [Sample((randn(rng, 3, 4),), {}, name="flat"), Sample((randn(rng, 3, 4),), {"dim": 1}, name="dim1"),
            Sample((randn(rng, 2, 3, 4),), {"dim": -1, "keepdim": True}, name="keepdim"),
            Sample((randn(rng, 3, 4),), {"keepdim": True}, name="flat-keepdim")]


OPS = [
    OpInfo("sum", nb.sum, _torch("sum"), reduce_samples()),
    OpInfo("sum_method", lambda x, **k: x.sum(**k), lambda x, **k: x.sum(**k), reduce_samples()),
    OpInfo("sum_dtype", lambda x: nb.sum(x, 1, dtype=nb.float64),
           lambda x: __import__("torch").sum(x, 1, dtype=__import__("torch").float64),
           lambda r: [Sample((randn(r, 3, 4),))]),
    OpInfo("sum_empty_tuple", lambda x: nb.sum(x, ()), lambda x: __import__("torch").sum(x, ()),
           lambda r: [Sample((randn(r, 3, 4),))]),
    OpInfo("mean", nb.mean, _torch("mean"), reduce_samples()),
    OpInfo("mean_method", lambda x, **k: x.mean(**k), lambda x, **k: x.mean(**k), reduce_samples()),
    OpInfo("prod", nb.prod, _torch("prod"), prod_samples),
    OpInfo("prod_tuple_dim", nb.prod, None, prod_tuple_samples),
    OpInfo("amax", nb.amax, _torch("amax"), reduce_samples()),
    OpInfo("amin", nb.amin, _torch("amin"), reduce_samples()),
    OpInfo("max_all", nb.max, _torch("max"), reduce_samples(dims=[d for d in DIMS if not d[1]])),
    OpInfo("min_all", nb.min, _torch("min"), reduce_samples(dims=[d for d in DIMS if not d[1]])),
    OpInfo("max_dim", nb.max, _torch("max"), max_dim_samples),
    OpInfo("min_dim", nb.min, _torch("min"), max_dim_samples),
    OpInfo("max_dim_values_method", lambda x, d, **k: x.max(d, **k).values,
           lambda x, d, **k: x.max(d, **k).values, max_dim_samples),
    OpInfo("max_binary", nb.max, _torch("max"), lambda r: [Sample((randn(r, 3, 4), randn(r, 4)))]),
    OpInfo("var", nb.var, _torch("var"), var_samples),
    OpInfo("std", nb.std, _torch("std"), var_samples),
    OpInfo("var_method", lambda x, **k: x.var(**k), lambda x, **k: x.var(**k), var_samples),
    OpInfo("std_mean", nb.std_mean, _torch("std_mean"), var_samples),
    OpInfo("var_mean", nb.var_mean, _torch("var_mean"), var_samples),
    OpInfo("logsumexp", nb.logsumexp, _torch("logsumexp"), lse_samples),
    OpInfo("norm", norm, _torch("norm"), norm_samples),
    OpInfo("norm_method", lambda x, **k: x.norm(**k), lambda x, **k: x.norm(**k), norm_samples, gradgrad=False),
    OpInfo("norm_at_zero", norm, _torch("norm"), norm_zero_samples, gradcheck=False),
    OpInfo("cumsum", nb.cumsum, _torch("cumsum"), cumsum_samples),
    OpInfo("cumsum_method", lambda x, d: x.cumsum(d), lambda x, d: x.cumsum(d), cumsum_samples, gradgrad=False),
    OpInfo("argmax", nb.argmax, _torch("argmax"), arg_samples, gradcheck=False),
    OpInfo("argmin", nb.argmin, _torch("argmin"), arg_samples, gradcheck=False),
]
