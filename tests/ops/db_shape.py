"""OpInfo entries for nabla/ops/shape.py.

Shape ops are linear, so their own second derivative is zero; the ``*_sq`` entries square the
output, which makes gradgradcheck go through the op's backward (and the backward of that backward:
slicing <-> scattering into zeros, take <-> accumulate)."""
import nabla as nb
from .opinfo import OpInfo, Sample, randn


def _torch():
    import torch
    return torch


def _F():
    import torch.nn.functional as F
    return F


def sq(f):
    """f followed by squaring each output (a nonlinearity for gradgradcheck)."""
    def g(*args, **kwargs):
        out = f(*args, **kwargs)
        return tuple(o ** 2 for o in out) if isinstance(out, (tuple, list)) else out ** 2
    return g


def one(*shapes, **kwargs):
    """Samples with one random input per shape and fixed keyword arguments."""
    return lambda rng: [Sample((randn(rng, *s),), dict(kwargs), name=f"{s}") for s in shapes]


def cases(*cs):
    """cases((shape, kwargs, name), ...) as samples of one input."""
    return lambda rng: [Sample((randn(rng, *s),), dict(kw), name=n) for s, kw, n in cs]


def _pad_cases(mode):
    return cases(((2, 5), dict(pad=(2, 1), mode=mode), "2d-last"),
                 ((1, 2, 5), dict(pad=(1, 3), mode=mode), "3d-last"),
                 ((1, 2, 3, 4), dict(pad=(1, 2, 2, 0), mode=mode), "4d-last2"),
                 ((1, 1, 2, 3, 3), dict(pad=(1, 1, 2, 0, 1, 1), mode=mode), "5d-last3"))


def _many(shapes_list):
    return lambda rng: [Sample(tuple(randn(rng, *s) for s in shapes), dict(kw), name=name)
                        for shapes, kw, name in shapes_list]


OPS = [
    OpInfo("reshape", lambda x, shape: nb.reshape(x, shape), lambda x, shape: x.reshape(shape),
           cases(((3, 4), dict(shape=(2, 6)), "2d"), ((3, 4), dict(shape=(-1,)), "flat"),
                 ((), dict(shape=(1, 1)), "0d"), ((2, 1, 3), dict(shape=(3, 2)), "size1"))),
    OpInfo("view_method", lambda x: x.view(4, -1), lambda x: x.view(4, -1), one((2, 6), (4, 1))),
    OpInfo("permute", lambda x: x.permute(2, 0, 1), lambda x: x.permute(2, 0, 1), one((2, 3, 4), (1, 3, 1))),
    OpInfo("transpose", lambda x, d0, d1: nb.transpose(x, d0, d1), lambda x, d0, d1: x.transpose(d0, d1),
           cases(((2, 3, 4), dict(d0=0, d1=2), "0-2"), ((3, 4), dict(d0=-1, d1=0), "neg"))),
    OpInfo("T", lambda x: x.T, lambda x: x.permute(*range(x.ndim - 1, -1, -1)), one((3, 4), (2, 3, 4), (3,))),
    OpInfo("mT", lambda x: x.mT, lambda x: x.mT, one((3, 4), (2, 3, 4))),
    OpInfo("expand", lambda x: x.expand(2, -1, 4), lambda x: x.expand(2, -1, 4), one((3, 1), (1, 3, 4), (3, 4))),
    OpInfo("broadcast_to", lambda x: nb.broadcast_to(x, (2, 3, 4)), lambda x: _torch().broadcast_to(x, (2, 3, 4)),
           one((4,), (3, 1), ())),
    OpInfo("flatten", lambda x, **k: nb.flatten(x, **k), lambda x, **k: _torch().flatten(x, **k),
           cases(((2, 3, 4), {}, "all"), ((2, 3, 4), dict(start_dim=1), "from1"),
                 ((2, 3, 4, 1), dict(start_dim=1, end_dim=2), "middle"), ((), {}, "0d"), ((3,), {}, "1d"))),
    OpInfo("flatten_method", lambda x: x.flatten(1), lambda x: x.flatten(1), one((2, 3, 2))),
    OpInfo("unflatten", lambda x, dim, sizes: nb.unflatten(x, dim, sizes),
           lambda x, dim, sizes: x.unflatten(dim, sizes),
           cases(((2, 12), dict(dim=1, sizes=(3, 4)), "3x4"), ((6, 2), dict(dim=0, sizes=(-1, 2)), "minus1"),
                 ((2, 6), dict(dim=-1, sizes=(6, 1)), "size1"))),
    OpInfo("squeeze", lambda x, **k: nb.squeeze(x, **k), lambda x, **k: _torch().squeeze(x, **k),
           cases(((1, 3, 1, 2), {}, "all"), ((1, 3, 1, 2), dict(dim=2), "dim"),
                 ((1, 3, 1, 2), dict(dim=(0, -2)), "tuple"), ((2, 3), dict(dim=0), "noop"), ((), {}, "0d"),
                 ((1,), dict(dim=0), "to0d"))),
    OpInfo("unsqueeze", lambda x, dim: nb.unsqueeze(x, dim), lambda x, dim: _torch().unsqueeze(x, dim),
           cases(((2, 3), dict(dim=0), "front"), ((2, 3), dict(dim=-1), "back"), ((2, 3), dict(dim=1), "mid"),
                 ((), dict(dim=0), "0d"))),
    OpInfo("cat", lambda *xs, dim=0: nb.cat(list(xs), dim), lambda *xs, dim=0: _torch().cat(list(xs), dim),
           _many([(((2, 3), (4, 3)), dict(dim=0), "dim0"), (((2, 3), (2, 1), (2, 2)), dict(dim=-1), "three"),
                     (((2, 0, 3), (2, 2, 3)), dict(dim=1), "empty-piece"), (((3,), (2,)), {}, "1d")])),
    OpInfo("cat_sq", sq(lambda a, b: nb.cat([a, b], 1)), sq(lambda a, b: _torch().cat([a, b], 1)),
           _many([(((2, 3), (2, 2)), {}, "")])),
    OpInfo("concatenate", lambda a, b: nb.concatenate((a, b), dim=1), lambda a, b: _torch().concatenate((a, b), dim=1),
           _many([(((2, 3), (2, 1)), {}, "")])),
    OpInfo("stack", lambda *xs, dim=0: nb.stack(list(xs), dim), lambda *xs, dim=0: _torch().stack(list(xs), dim),
           _many([(((2, 3), (2, 3)), dict(dim=0), "dim0"), (((2, 3),) * 3, dict(dim=-1), "last"),
                     (((), ()), {}, "0d"), (((1, 2), (1, 2)), dict(dim=1), "mid")])),
    OpInfo("stack_sq", sq(lambda a, b: nb.stack([a, b], 1)), sq(lambda a, b: _torch().stack([a, b], 1)),
           _many([(((2, 3), (2, 3)), {}, "")])),
    OpInfo("split", lambda x, s, dim=0: nb.split(x, s, dim), lambda x, s, dim=0: _torch().split(x, s, dim),
           lambda rng: [Sample((randn(rng, 5, 3), 2), name="size2"),
                        Sample((randn(rng, 5, 3), [1, 4]), name="sections"),
                        Sample((randn(rng, 2, 6), 3), dict(dim=-1), name="dim-1"),
                        Sample((randn(rng, 2, 3), [0, 3], 1), name="empty-section")]),
    OpInfo("split_sq", sq(lambda x: x.split(2)), sq(lambda x: x.split(2)), one((5, 2))),
    OpInfo("chunk", lambda x, c, dim=0: nb.chunk(x, c, dim), lambda x, c, dim=0: _torch().chunk(x, c, dim),
           lambda rng: [Sample((randn(rng, 5, 2), 3), name="5by3"), Sample((randn(rng, 6, 2), 4), name="6by4"),
                        Sample((randn(rng, 2, 4), 2, 1), name="dim1"), Sample((randn(rng, 2, 2), 5), name="more")]),
    OpInfo("unbind", lambda x, dim=0: nb.unbind(x, dim), lambda x, dim=0: _torch().unbind(x, dim),
           cases(((3, 2), {}, "dim0"), ((2, 3), dict(dim=1), "dim1"))),
    OpInfo("unbind_sq", sq(lambda x: x.unbind(1)), sq(lambda x: x.unbind(1)), one((2, 3))),
    OpInfo("narrow", lambda x, d, s, n: nb.narrow(x, d, s, n), lambda x, d, s, n: _torch().narrow(x, d, s, n),
           lambda rng: [Sample((randn(rng, 4, 5), 1, 1, 3)), Sample((randn(rng, 4, 5), 0, -2, 2), name="neg")]),
    OpInfo("pad_constant", lambda x, **k: nb.pad(x, **k), lambda x, **k: _F().pad(x, **k),
           cases(((3, 4), dict(pad=(1, 2)), "last"), ((2, 3, 4), dict(pad=(1, 0, 2, 1)), "last2"),
                 ((3, 4), dict(pad=(1, 1, 1, 1), value=1.5), "value"), ((3, 4), dict(pad=(-1, 2, 1, -2)), "negative"),
                 ((4,), dict(pad=(0, 0)), "zero"), ((1, 2, 2), dict(pad=(1, 1, 0, 0, 2, 0)), "3dims"))),
    OpInfo("pad_constant_sq", sq(lambda x: nb.pad(x, (1, 2, -1, 1))), sq(lambda x: _F().pad(x, (1, 2, -1, 1))),
           one((3, 4))),
    OpInfo("pad_reflect", lambda x, **k: nb.pad(x, **k), lambda x, **k: _F().pad(x, **k), _pad_cases("reflect")),
    OpInfo("pad_replicate", lambda x, **k: nb.pad(x, **k), lambda x, **k: _F().pad(x, **k), _pad_cases("replicate")),
    OpInfo("pad_circular", lambda x, **k: nb.pad(x, **k), lambda x, **k: _F().pad(x, **k), _pad_cases("circular")),
    OpInfo("pad_reflect_sq", sq(lambda x: nb.pad(x, (2, 2, 1, 1), mode="reflect")),
           sq(lambda x: _F().pad(x, (2, 2, 1, 1), mode="reflect")), one((1, 3, 3))),
    OpInfo("pad_replicate_sq", sq(lambda x: nb.pad(x, (3, 1), mode="replicate")),
           sq(lambda x: _F().pad(x, (3, 1), mode="replicate")), one((2, 2))),
    OpInfo("flip", lambda x, dims: nb.flip(x, dims), lambda x, dims: _torch().flip(x, dims),
           cases(((3, 4), dict(dims=(0,)), "dim0"), ((2, 3, 4), dict(dims=(0, -1)), "two"), ((), dict(dims=()), "0d"))),
    OpInfo("flip_sq", sq(lambda x: x.flip(1)), sq(lambda x: x.flip(1)), one((2, 3))),
    OpInfo("roll", lambda x, **k: nb.roll(x, **k), lambda x, **k: _torch().roll(x, **k),
           cases(((3, 4), dict(shifts=1, dims=0), "dim0"), ((3, 4), dict(shifts=(2, -1), dims=(1, 0)), "two"),
                 ((3, 4), dict(shifts=5), "flat"))),
    OpInfo("roll_sq", sq(lambda x: x.roll(2, 1)), sq(lambda x: x.roll(2, 1)), one((2, 3))),
    OpInfo("repeat", lambda x, sizes: x.repeat(*sizes), lambda x, sizes: x.repeat(*sizes),
           cases(((2, 3), dict(sizes=(2, 2)), "2x2"), ((2, 3), dict(sizes=(2, 1, 3)), "lead"),
                 ((1, 3), dict(sizes=(3, 1)), "size1"), ((), dict(sizes=(2,)), "0d"),
                 ((3,), dict(sizes=(1,)), "ones"))),
    OpInfo("repeat_sq", sq(lambda x: x.repeat(2, 3)), sq(lambda x: x.repeat(2, 3)), one((2, 2))),
    OpInfo("tile", lambda x, dims: nb.tile(x, dims), lambda x, dims: _torch().tile(x, dims),
           cases(((2, 3), dict(dims=(2,)), "short"), ((2, 3), dict(dims=(2, 1, 2)), "long"))),
    OpInfo("movedim", lambda x, s, d: nb.movedim(x, s, d), lambda x, s, d: _torch().movedim(x, s, d),
           lambda rng: [Sample((randn(rng, 2, 3, 4), 0, -1), name="int"),
                        Sample((randn(rng, 2, 3, 4, 5), (0, 3), (2, 0)), name="tuple")]),
    OpInfo("swapaxes", lambda x: nb.swapaxes(x, 0, 2), lambda x: _torch().swapaxes(x, 0, 2), one((2, 3, 4))),
    OpInfo("contiguous", lambda x: x.contiguous() * 1.0, lambda x: x.contiguous() * 1.0, one((2, 3))),
]
