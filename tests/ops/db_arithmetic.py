"""OpInfo entries for nabla/ops/arithmetic.py."""
import numpy as np

import nabla as nb
from .opinfo import OpInfo, Sample, randn, positive, BINARY_SHAPES, UNARY_SHAPES


def binary(rng, make_b=randn):
    return [Sample((randn(rng, *a), make_b(rng, *b)), name=f"{a}x{b}") for a, b in BINARY_SHAPES]


def with_scalar(rng):
    return [Sample((randn(rng, 3, 4), 2.5), name="tensor-scalar"), Sample((randn(rng, 3), 3), name="tensor-int")]


def unary(rng, make=randn):
    return [Sample((make(rng, *s),), name=str(s)) for s in UNARY_SHAPES]


def separated(rng, *shape):
    """Values at least 0.1 apart from each other's pair, so max/min are differentiable."""
    return randn(rng, *shape)


OPS = [
    OpInfo("add", lambda a, b: a + b, lambda a, b: a + b, binary),
    OpInfo("add_scalar", lambda a, b: a + b, lambda a, b: a + b, with_scalar),
    OpInfo("radd_scalar", lambda a, b: b + a, lambda a, b: b + a, with_scalar),
    OpInfo("add_alpha", lambda a, b: nb.add(a, b, alpha=0.5), lambda a, b: a.add(b, alpha=0.5), binary),
    OpInfo("sub", lambda a, b: a - b, lambda a, b: a - b, binary),
    OpInfo("rsub_scalar", lambda a, b: b - a, lambda a, b: b - a, with_scalar),
    OpInfo("mul", lambda a, b: a * b, lambda a, b: a * b, binary),
    OpInfo("mul_scalar", lambda a, b: a * b, lambda a, b: a * b, with_scalar),
    OpInfo("div", lambda a, b: a / b, lambda a, b: a / b, lambda r: binary(r, positive)),
    OpInfo("rdiv_scalar", lambda a, b: b / a, lambda a, b: b / a,
           lambda r: [Sample((positive(r, 3, 4), 2.5))]),
    OpInfo("neg", lambda a: -a, lambda a: -a, unary),
    OpInfo("pow_tensor", lambda a, b: a ** b, lambda a, b: a ** b,
           lambda r: [Sample((positive(r, *a), randn(r, *b)), name=f"{a}x{b}") for a, b in BINARY_SHAPES]),
    OpInfo("pow_scalar", lambda a, c: a ** c, lambda a, c: a ** c,
           lambda r: [Sample((positive(r, 3, 4), c), name=str(c)) for c in (2, 3, 0.5, -1.5, 0, 1)]),
    OpInfo("rpow_scalar", lambda a: 2.0 ** a, lambda a: 2.0 ** a, unary),
    OpInfo("maximum", nb.maximum, lambda a, b: a.maximum(b) if a.shape == b.shape else __import__("torch").maximum(a, b),
           binary),
    OpInfo("minimum", nb.minimum, lambda a, b: __import__("torch").minimum(a, b), binary),
    OpInfo("where", lambda c, a, b: nb.where(c, a, b), lambda c, a, b: __import__("torch").where(c, a, b),
           lambda r: [Sample((r.standard_normal((3, 4)) > 0, randn(r, 3, 4), randn(r, 4)), name="bcast"),
                      Sample((r.standard_normal((2, 1)) > 0, randn(r, 1, 3), randn(r, 2, 3)))]),
    OpInfo("remainder", lambda a, b: a % b, lambda a, b: a % b,
           lambda r: [Sample((randn(r, 3, 4) * 3, positive(r, 3, 4)))], gradgrad=True),
    OpInfo("to_float64_and_back", lambda a: a.to(np.float64).to(np.float32) * 1.0,
           lambda a: a.to(__import__("torch").float64).to(__import__("torch").float32) * 1.0, unary,
           gradcheck=False, output_dtypes_match=False),
]
