"""One declaration per op drives its tests (PyTorch's OpInfo idea).

An ``OpInfo`` names the op, the nabla callable, the PyTorch callable with the same signature, and a
sample generator.  From a list of them, ``gradcheck_tests`` builds the float64 gradcheck and
gradgradcheck tests (tests/ops/), and ``conformance_test`` the comparison with PyTorch in float32
and float64 (tests/conformance/).  Adding an op means adding one entry.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest

import nabla as nb
from nabla.autograd import gradcheck, gradgradcheck


@dataclass
class Sample:
    """Positional ``args`` (NumPy arrays become tensors, other values pass through) and ``kwargs``.
    ``grad`` lists which args are differentiated (default: every floating array)."""
    args: tuple
    kwargs: dict = field(default_factory=dict)
    grad: tuple | None = None
    name: str = ""

    def grad_indices(self):
        if self.grad is not None:
            return self.grad
        return tuple(i for i, a in enumerate(self.args) if isinstance(a, np.ndarray) and a.dtype.kind == "f")


@dataclass
class OpInfo:
    name: str
    op: Callable                          # nabla: op(*tensors_and_values, **kwargs)
    torch_op: Callable | None             # torch: same call with torch tensors (None: no torch peer)
    samples: Callable[[np.random.Generator], list]
    gradcheck: bool = True
    gradgrad: bool = True
    atol: float = 1e-5                    # gradcheck tolerances (float64)
    rtol: float = 1e-3
    eps: float = 1e-6
    conf_atol32: float = 1e-4             # conformance tolerances in float32
    conf_rtol32: float = 1e-4
    output_dtypes_match: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _samples(opinfo):
    rng = np.random.default_rng(1234)
    return [(opinfo, i, s) for i, s in enumerate(opinfo.samples(rng))]


def _sample_id(param):
    opinfo, i, s = param
    return f"{opinfo.name}-{s.name or i}"


def _nabla_args(sample, dtype, requires_grad=True):
    out = []
    grads = sample.grad_indices()
    for i, a in enumerate(sample.args):
        if isinstance(a, np.ndarray):
            arr = a.astype(dtype) if a.dtype.kind == "f" else a
            out.append(nb.Tensor(arr.copy(), requires_grad=requires_grad and i in grads))
        else:
            out.append(a)
    return out


def _call(op, args, kwargs, tensor_positions):
    def f(*tensors):
        full = list(args)
        for pos, t in zip(tensor_positions, tensors):
            full[pos] = t
        return op(*full, **kwargs)
    return f


def gradcheck_tests(ops):
    """(test_gradcheck, test_gradgradcheck) parametrised over every sample of every op."""
    params = [p for o in ops if o.gradcheck for p in _samples(o)]
    gg_params = [p for o in ops if o.gradcheck and o.gradgrad for p in _samples(o)]

    def run(param, check):
        opinfo, _, sample = param
        args = _nabla_args(sample, np.float64)
        grads = sample.grad_indices()
        if not grads:
            pytest.skip("no differentiable input")
        f = _call(opinfo.op, args, sample.kwargs, grads)
        check(f, tuple(args[i] for i in grads), eps=opinfo.eps, atol=opinfo.atol, rtol=opinfo.rtol)

    @pytest.mark.parametrize("param", params, ids=_sample_id)
    def test_gradcheck(param):
        run(param, gradcheck)

    @pytest.mark.parametrize("param", gg_params, ids=_sample_id)
    def test_gradgradcheck(param):
        run(param, gradgradcheck)

    return test_gradcheck, test_gradgradcheck


def conformance_test(ops):
    """A test comparing forward values and gradients with PyTorch, float32 and float64."""
    params = [(p, dt) for o in ops if o.torch_op is not None for p in _samples(o) for dt in ("float32", "float64")]

    @pytest.mark.parametrize("param,dtype", params, ids=lambda v: v if isinstance(v, str) else _sample_id(v))
    def test_matches_torch(param, dtype):
        torch = pytest.importorskip("torch")
        opinfo, _, sample = param
        np_dtype = np.dtype(dtype)
        t_dtype = getattr(torch, dtype)
        atol, rtol = (opinfo.conf_atol32, opinfo.conf_rtol32) if dtype == "float32" else (1e-10, 1e-7)
        grads = sample.grad_indices()
        n_args = _nabla_args(sample, np_dtype)
        t_args = []
        for i, a in enumerate(sample.args):
            if isinstance(a, np.ndarray):
                arr = a.astype(np_dtype) if a.dtype.kind == "f" else a
                t_args.append(torch.tensor(arr.copy(), requires_grad=i in grads))
            else:
                t_args.append(a)
        n_out = _as_tuple(opinfo.op(*n_args, **sample.kwargs))
        t_out = _as_tuple(opinfo.torch_op(*t_args, **sample.kwargs))
        assert len(n_out) == len(t_out), f"{opinfo.name}: {len(n_out)} outputs, torch gives {len(t_out)}"
        for n, t in zip(n_out, t_out):
            t_np = t.detach().numpy()
            assert n.shape == tuple(t_np.shape), f"{opinfo.name}: shape {n.shape}, torch {tuple(t_np.shape)}"
            if opinfo.output_dtypes_match:
                assert n.dtype == t_np.dtype, f"{opinfo.name}: dtype {n.dtype}, torch {t_np.dtype}"
            np.testing.assert_allclose(n.data.astype(np.float64), t_np.astype(np.float64), atol=atol, rtol=rtol,
                                       err_msg=f"{opinfo.name} forward ({dtype})")
        if not grads:
            return
        rng = np.random.default_rng(7)
        pairs_n, pairs_t = [], []
        for n, t in zip(n_out, t_out):
            if n.requires_grad and t.requires_grad:
                u = rng.standard_normal(n.shape).astype(np_dtype)
                pairs_n.append((n, nb.Tensor(u)))
                pairs_t.append((t, torch.tensor(u)))
        if not pairs_t:
            return
        g_n = nb.autograd.grad([p[0] for p in pairs_n], [n_args[i] for i in grads],
                               grad_outputs=[p[1] for p in pairs_n], allow_unused=True)
        g_t = torch.autograd.grad([p[0] for p in pairs_t], [t_args[i] for i in grads],
                                  grad_outputs=[p[1] for p in pairs_t], allow_unused=True)
        for k, (a, b) in enumerate(zip(g_n, g_t)):
            a = np.zeros(n_args[grads[k]].shape) if a is None else a.data
            b = np.zeros(a.shape) if b is None else b.numpy()
            assert a.shape == b.shape, f"{opinfo.name}: grad shape {a.shape}, torch {b.shape}"
            np.testing.assert_allclose(a.astype(np.float64), b.astype(np.float64), atol=atol * 10, rtol=rtol * 10,
                                       err_msg=f"{opinfo.name} gradient of input {grads[k]} ({dtype})")

    return test_matches_torch


def randn(rng, *shape):
    return rng.standard_normal(shape)


def positive(rng, *shape, low=0.5, high=2.0):
    return rng.uniform(low, high, shape)


# Shapes every elementwise op is tried on: matrix, broadcast row, size-1 and 0-d.
UNARY_SHAPES = [(3, 4), (2, 1, 3), (1,), ()]
BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 3), (4, 1)), ((), (2, 3)), ((1,), ())]
