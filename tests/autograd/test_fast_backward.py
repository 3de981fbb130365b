"""Two backwards, one contract: every Function that defines both ``backward_arrays`` (plain NumPy, run
when the backward is not recorded) and ``backward`` (nabla ops, run under create_graph) gets the same
gradients from both, on random float64 inputs.  The engine picks the path (autograd/engine.py), so the
test runs one forward and asks the engine twice: without create_graph (fast path), then with it.

A new Function with both backwards fails ``test_every_function_with_two_backwards_has_a_case`` until a
case below builds it."""
import numpy as np
import pytest

import nabla as nb
import nabla.nn.functional as F
from nabla import nn
from nabla.autograd import Function


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _two_backward_classes():
    """nabla's concrete classes defining both backwards (an abstract base is covered through its
    subclasses; classes that tests define are not nabla's)."""
    found = {c for c in _subclasses(Function) if c.__module__.startswith("nabla.")
             and c.has_backward_arrays and c.backward is not Function.backward}
    return {c for c in found if not any(issubclass(o, c) and o is not c for o in found)}


def _rand(rng, *shape, grad=True):
    return nb.tensor(rng.standard_normal(shape), dtype=np.float64, requires_grad=grad)


def _targets(rng, n, c, *extra):
    return nb.tensor(rng.integers(0, c, (n,) + extra))


# each case: rng -> (output, leaves whose gradients are compared)
def _linear(rng):
    x, w, b = _rand(rng, 3, 5, 4), _rand(rng, 6, 4), _rand(rng, 6)
    return F.linear(x, w, b), [x, w, b]


def _linear_wide(rng):  # out >= 2 in: the augmented-product forward
    x, w, b = _rand(rng, 7, 3), _rand(rng, 8, 3), _rand(rng, 8)
    return F.linear(x, w, b), [x, w, b]


def _conv(rng):
    x, w, b = _rand(rng, 2, 3, 7, 7), _rand(rng, 4, 3, 3, 3), _rand(rng, 4)
    return F.conv2d(x, w, b, stride=2, padding=1), [x, w, b]


def _conv_groups(rng):
    x, w = _rand(rng, 2, 4, 6, 6), _rand(rng, 4, 2, 3, 3)
    return F.conv2d(x, w, padding=2, dilation=2, groups=2), [x, w]


def _conv_transpose(rng):
    x, w, b = _rand(rng, 2, 3, 4, 4), _rand(rng, 3, 2, 3, 3), _rand(rng, 2)
    return F.conv_transpose2d(x, w, b, stride=2, padding=1), [x, w, b]


def _max_pool(rng):
    x = _rand(rng, 2, 3, 7, 7)
    return F.max_pool2d(x, 3, 2, 1), [x]


def _avg_pool(rng):
    x = _rand(rng, 2, 3, 7, 7)
    return F.avg_pool2d(x, 3, 2, 1), [x]


def _batch_norm(rng):  # per-channel statistics path
    x, w, b = _rand(rng, 4, 3, 3, 3), _rand(rng, 3), _rand(rng, 3)
    return F.batch_norm(x, None, None, w, b, training=True), [x, w, b]


def _layer_norm_rows(rng):  # (rows, m) path
    x, w, b = _rand(rng, 5, 4, 6), _rand(rng, 6), _rand(rng, 6)
    return F.layer_norm(x, (6,), w, b), [x, w, b]


def _layer_norm_general(rng):  # the general path: x has no leading axes to take rows over
    x, w, b = _rand(rng, 4, 6), _rand(rng, 4, 6), _rand(rng, 4, 6)
    return F.layer_norm(x, (4, 6), w, b), [x, w, b]


def _cross_entropy(rng):
    x = _rand(rng, 6, 5)
    return F.cross_entropy(x, _targets(rng, 6, 5), weight=nb.arange(1.0, 6.0, dtype=np.float64)), [x]


def _cross_entropy_smoothed(rng):
    x = _rand(rng, 3, 5, 4)
    return F.cross_entropy(x, _targets(rng, 3, 5, 4), label_smoothing=0.2, reduction="none"), [x]


def _gelu(rng):
    x = _rand(rng, 4, 5)
    return F.gelu(x), [x]


def _gelu_tanh(rng):
    x = _rand(rng, 4, 5)
    return F.gelu(x, approximate="tanh"), [x]


def _silu(rng):
    x = _rand(rng, 4, 5)
    return F.silu(x), [x]


def _attention(rng):
    q, k, v, m = _rand(rng, 2, 2, 4, 3), _rand(rng, 2, 2, 5, 3), _rand(rng, 2, 2, 5, 3), _rand(rng, 4, 5)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=m), [q, k, v, m]


def _multi_head_attention(rng):  # token layout, packed q|k|v, dropout
    mha = nn.MultiheadAttention(6, 2, dropout=0.3, batch_first=True)
    x = _rand(rng, 2, 4, 6)
    out, _ = mha(x, x, x, need_weights=False)
    return out, [x] + list(mha.parameters())


def _recurrent(kind):
    def case(rng):
        layer = getattr(nn, kind)(3, 4, num_layers=2, bidirectional=True)
        x = _rand(rng, 5, 2, 3)
        out, _ = layer(x)
        return out, [x] + list(layer.parameters())
    return case


_ROIS = np.array([[0, 0.4, 1.2, 4.6, 5.0], [1, 2.0, 0.0, 6.0, 3.5], [0, 1.0, 1.0, 2.0, 2.0]])


def _roi_pool(rng):
    from nabla.vision.ops import roi_pool
    x = _rand(rng, 2, 3, 7, 7)
    return roi_pool(x, nb.tensor(_ROIS), 3), [x]


def _roi_pool_adjoint(rng):  # the scatter of the gradient, whose own gradient is the gather again
    from nabla.vision.ops import roi_pool
    x, w = _rand(rng, 2, 3, 7, 7), _rand(rng, 3, 3, 3, 3)
    (gx,) = nb.autograd.grad((roi_pool(x, nb.tensor(_ROIS), 3) * w).sum(), [x], create_graph=True)
    return gx, [w]


CASES = {
    "RoIPoolFunction": [_roi_pool],
    "RoIPoolAdjoint": [_roi_pool_adjoint],
    "LinearFunction": [_linear, _linear_wide],
    "Conv2dFunction": [_conv, _conv_groups],
    "ConvTranspose2dFunction": [_conv_transpose],
    "MaxPool2dFunction": [_max_pool],
    "AvgPool2dFunction": [_avg_pool],
    "_Normalize": [_batch_norm, _layer_norm_rows, _layer_norm_general],
    "CrossEntropy": [_cross_entropy, _cross_entropy_smoothed],
    "GELU": [_gelu, _gelu_tanh],
    "SiLU": [_silu],
    "Attention": [_attention, _multi_head_attention],
    "LSTMLayer": [_recurrent("LSTM")],
    "GRULayer": [_recurrent("GRU")],
    "RNNLayer": [_recurrent("RNN")],
}


@pytest.fixture(autouse=True)
def _float64():
    old = nb.get_default_dtype()
    nb.set_default_dtype(np.float64)
    nb.manual_seed(0)
    yield
    nb.set_default_dtype(old)


def _graph_classes(out):
    seen, stack, found = set(), [out], set()
    while stack:
        t = stack.pop()
        fn = t.grad_fn
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        found.add(type(fn).__name__)
        stack.extend(fn.inputs)
    return found


def test_every_function_with_two_backwards_has_a_case():
    missing = sorted(c.__name__ for c in _two_backward_classes() if c.__name__ not in CASES)
    assert not missing, f"add a case to CASES for {missing}: they define backward_arrays and backward"


@pytest.mark.parametrize("name,case", [(n, c) for n, cs in CASES.items() for c in cs],
                         ids=[f"{n}-{c.__name__.strip('_')}" for n, cs in CASES.items() for c in cs])
def test_fast_and_composed_backward_agree(name, case):
    rng = np.random.default_rng(0)
    out, leaves = case(rng)
    assert name in _graph_classes(out), f"the case for {name} does not build one"
    seed = nb.tensor(rng.standard_normal(out.shape), dtype=out.dtype)
    fast = nb.autograd.grad(out, leaves, seed, retain_graph=True, allow_unused=True)
    composed = nb.autograd.grad(out, leaves, seed, create_graph=True, allow_unused=True)
    for i, (a, b) in enumerate(zip(fast, composed)):
        assert (a is None) == (b is None), f"{name}: input {i} has a gradient on one path only"
        if a is not None:
            assert a.dtype == b.dtype == np.float64 and a.shape == b.shape
            np.testing.assert_allclose(a.data, b.data, rtol=1e-9, atol=1e-11, err_msg=f"{name}: input {i}")


def test_the_engine_picks_the_fast_path_only_when_nothing_is_recorded():
    calls = []

    class Square(Function):
        """y = x^2;  dx = 2 x g"""

        def forward(self, x):
            return x * x

        def backward_arrays(self, g):
            calls.append("arrays")
            return 2.0 * self.inputs[0].data * g

        def backward(self, g):
            calls.append("tensors")
            return 2.0 * self.inputs[0] * g

    x = nb.tensor([1.0, 2.0], requires_grad=True)
    Square.apply(x).sum().backward()
    (g,) = nb.autograd.grad(Square.apply(x).sum(), [x], create_graph=True)
    assert calls == ["arrays", "tensors"] and g.requires_grad
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])


def test_a_backward_of_arrays_only_is_differentiable_once():
    class Cube(Function):
        """y = x^3;  dx = 3 x^2 g  (array code only)"""

        def forward(self, x):
            return x ** 3

        def backward_arrays(self, g):
            return 3.0 * self.inputs[0].data ** 2 * g

    x = nb.tensor([1.0, 2.0], requires_grad=True)
    Cube.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 12.0])
    with pytest.raises(RuntimeError, match="Cube: its backward is array code only"):
        nb.autograd.grad(Cube.apply(x).sum(), [x], create_graph=True)
