"""OpInfo entries for nabla/ops/activation.py."""
import numpy as np

import nabla as nb
from .opinfo import OpInfo, Sample, randn, UNARY_SHAPES
from .db_elementwise import avoid, unary


def _F():
    import torch.nn.functional as F
    return F


def kinked(rng, *shape):
    """randn values at least 0.05 away from the kink at 0 (ReLU-like functions)."""
    return avoid(2 * randn(rng, *shape), [0.0])


def wide(rng, *shape):
    return np.asarray(3 * randn(rng, *shape))


def each(*kwargs_list, make=randn):
    """The unary shapes, once per keyword set."""
    def samples(rng):
        return [Sample((np.asarray(make(rng, *s)),), dict(k), name=f"{s}{k}")
                for k in kwargs_list for s in UNARY_SHAPES]
    return samples


def softmax_samples(rng):
    out = [Sample((wide(rng, 3, 4),), {"dim": d}, name=f"(3, 4)dim{d}") for d in (0, 1, -1)]
    out += [Sample((wide(rng, 2, 3, 4),), {"dim": 1}, name="3d-dim1"),
            Sample((wide(rng, 5),), {"dim": 0}, name="1d"),
            Sample((wide(rng, 2, 1),), {"dim": 1}, name="size1-dim"),
            Sample((wide(rng, *()),), {"dim": 0}, name="0d"),
            Sample((wide(rng, 2, 4) * 300,), {"dim": -1}, name="large")]
    return out


def softplus_samples(rng):
    x = wide(rng, 3, 4)
    return [Sample((wide(rng, *s),), name=str(s)) for s in UNARY_SHAPES] + [
        Sample((x,), {"beta": 2.0}, name="beta2"),
        Sample((avoid(x, [1.0]),), {"beta": 1.0, "threshold": 1.0}, name="threshold1"),
        Sample((avoid(x, [0.25]),), {"beta": 4.0, "threshold": 1.0}, name="beta4-threshold1"),
        Sample((x,), {"beta": 0.5}, name="beta0.5")]


OPS = [
    OpInfo("tanh", nb.tanh, lambda x: x.tanh(), lambda r: unary(r, wide)),
    OpInfo("tanh_method", lambda x: x.tanh(), lambda x: x.tanh(), lambda r: unary(r)[:1]),
    OpInfo("sigmoid", nb.sigmoid, lambda x: x.sigmoid(), lambda r: unary(r, wide)),
    OpInfo("sigmoid_method", lambda x: x.sigmoid(), lambda x: x.sigmoid(), lambda r: unary(r)[:1]),
    OpInfo("logsigmoid", nb.logsigmoid, lambda x: _F().logsigmoid(x), lambda r: unary(r, wide)),
    OpInfo("relu", nb.relu, lambda x: x.relu(), lambda r: unary(r, kinked)),
    OpInfo("relu_method", lambda x: x.relu(), lambda x: x.relu(), lambda r: unary(r, kinked)[:1]),
    OpInfo("leaky_relu", nb.leaky_relu, lambda x, **k: _F().leaky_relu(x, **k),
           each({}, {"negative_slope": 0.2}, {"negative_slope": 1.5}, {"negative_slope": -0.3}, make=kinked)),
    OpInfo("elu", nb.elu, lambda x, **k: _F().elu(x, **k), each({}, {"alpha": 0.5}, {"alpha": 2.0}, make=kinked)),
    OpInfo("gelu", nb.gelu, lambda x, **k: _F().gelu(x, **k),
           each({}, {"approximate": "tanh"}, make=wide)),
    OpInfo("softplus", nb.softplus, lambda x, **k: _F().softplus(x, **k), softplus_samples),
    OpInfo("silu", nb.silu, lambda x: _F().silu(x), lambda r: unary(r, wide)),
    OpInfo("softmax", nb.softmax, lambda x, dim: x.softmax(dim), softmax_samples),
    OpInfo("softmax_method", lambda x, dim: x.softmax(dim), lambda x, dim: x.softmax(dim),
           lambda r: softmax_samples(r)[:2]),
    OpInfo("log_softmax", nb.log_softmax, lambda x, dim: x.log_softmax(dim), softmax_samples),
    OpInfo("log_softmax_method", lambda x, dim: x.log_softmax(dim), lambda x, dim: x.log_softmax(dim),
           lambda r: softmax_samples(r)[:2]),
    OpInfo("softmax_dtype64", lambda x, dim: nb.softmax(x, dim, dtype=nb.float64),
           lambda x, dim: x.softmax(dim, dtype=__import__("torch").float64),
           lambda r: softmax_samples(r)[:1], output_dtypes_match=True),
    OpInfo("log_softmax_dtype64", lambda x, dim: nb.log_softmax(x, dim, dtype=nb.float64),
           lambda x, dim: x.log_softmax(dim, dtype=__import__("torch").float64),
           lambda r: softmax_samples(r)[:1]),
]
