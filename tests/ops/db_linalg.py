"""OpInfo entries for nabla/ops/linalg.py: matmul in every promotion/broadcast form, dot, outer, einsum."""
import nabla as nb
from .opinfo import OpInfo, Sample, randn


def _torch(name):
    return lambda *a, **k: getattr(__import__("torch"), name)(*a, **k)


MATMUL_SHAPES = [
    ((3, 4), (4, 2)),          # matrix @ matrix
    ((4,), (4,)),              # 1-d @ 1-d: inner product, 0-d result
    ((4,), (4, 2)),            # 1-d @ 2-d: promoted row vector
    ((3, 4), (4,)),            # 2-d @ 1-d: promoted column vector
    ((2, 3, 4), (2, 4, 5)),    # batched
    ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch
    ((4,), (2, 4, 3)),         # 1-d @ batched
    ((2, 3, 4), (4,)),         # batched @ 1-d
    ((1, 4), (4, 1)),          # size-1
]


def matmul_samples(rng):
    return [Sample((randn(rng, *a), randn(rng, *b)), name=f"{a}x{b}") for a, b in MATMUL_SHAPES]


def pair(*shapes):
    return lambda rng: [Sample(tuple(randn(rng, *s) for s in shapes))]


EINSUM = [
    ("ij,jk->ik", (3, 4), (4, 2)),
    ("bij,bjk->bik", (2, 3, 4), (2, 4, 5)),
    ("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2)),   # ellipsis with broadcast batch
    ("...ij,jk", (2, 3, 4), (4, 2)),                   # implicit output with ellipsis
    ("bij,bjk->ik", (1, 3, 4), (5, 4, 2)),              # a broadcast letter summed away
    ("ij,kj->ij", (3, 1), (5, 2)),                      # j broadcast from 1, k summed away
    ("ij,jk", (3, 4), (4, 2)),                          # implicit output
    ("ba,a", (3, 2), (2,)),
    ("ij->ji", (3, 4)),
    ("ij->", (3, 4)),
    ("ijk->j", (2, 3, 4)),
    ("i,i->", (4,), (4,)),
    ("i,j->ij", (3,), (4,)),
    ("ij,ij->ij", (3, 4), (3, 4)),
    ("ij,j->i", (3, 4), (4,)),
    ("ii->i", (3, 3)),                                  # diagonal
    ("ii", (3, 3)),                                     # trace
    ("iij->ji", (3, 3, 2)),
    ("...ii->...i", (2, 3, 3)),
    ("i...->...", (3, 2, 4)),
    ("bn,anm,bm->ba", (2, 3), (4, 3, 5), (2, 5)),      # bilinear, three operands
    ("i,i,i->i", (3,), (3,), (3,)),
    (",ij->ij", (), (2, 3)),                            # a 0-d operand
    ("bhqd,bhkd->bhqk", (2, 2, 3, 4), (2, 2, 5, 4)),    # attention scores
]


def einsum_op(eq):
    return lambda *ops: nb.einsum(eq, *ops)


def torch_einsum_op(eq):
    return lambda *ops: __import__("torch").einsum(eq, *ops)


OPS = [
    OpInfo("matmul", nb.matmul, _torch("matmul"), matmul_samples),
    OpInfo("matmul_operator", lambda a, b: a @ b, lambda a, b: a @ b, matmul_samples),
    OpInfo("dot", nb.dot, _torch("dot"), pair((5,), (5,))),
    OpInfo("outer", nb.outer, _torch("outer"), pair((3,), (4,))),
    OpInfo("mm", nb.mm, _torch("mm"), pair((3, 4), (4, 2))),
    OpInfo("bmm", nb.bmm, _torch("bmm"), pair((2, 3, 4), (2, 4, 5))),
    OpInfo("mv", nb.mv, _torch("mv"), pair((3, 4), (4,))),
] + [
    OpInfo(f"einsum[{eq}]", einsum_op(eq), torch_einsum_op(eq), pair(*shapes)) for eq, *shapes in EINSUM
]
