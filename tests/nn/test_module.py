"""Module: registration, dotted names, order, modes, zero_grad, apply, state_dict, repr, hooks."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(nb.ones(4))
        self.register_buffer("count", nb.zeros(1))
        self.register_buffer("scratch", nb.zeros(2), persistent=False)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = Block()
        self.second = nn.Sequential(nn.Linear(4, 2), nn.Dropout(0.5))
        self.plain = nb.zeros(3)  # a plain tensor attribute is not registered

    def forward(self, x):
        return self.second(self.first(x))


def test_parameter_is_tensor_with_grad():
    p = nn.Parameter(nb.zeros(2, 3))
    assert isinstance(p, nb.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).startswith("Parameter containing:\n")
    assert not nn.Parameter(nb.zeros(1), requires_grad=False).requires_grad
    t = nb.zeros(3)
    assert nn.Parameter(t).data is t.data  # shares memory, like PyTorch


def test_named_parameters_dotted_and_ordered():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["first.scale", "first.fc.weight", "first.fc.bias", "second.0.weight", "second.0.bias"]
    assert [n for n, _ in net.named_parameters(recurse=False)] == []
    assert [n for n, _ in net.first.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_buffers()] == ["first.count", "first.scratch"]
    assert len(list(net.buffers())) == 2
    assert [n for n, _ in net.named_children()] == ["first", "second"]
    assert [n for n, _ in net.named_modules()] == ["", "first", "first.fc", "first.act", "second", "second.0",
                                                   "second.1"]
    assert net.num_parameters() == 4 + 12 + 4 + 8 + 2
    assert net.get_parameter("second.0.bias") is net.second[0].bias
    assert net.get_submodule("first.fc") is net.first.fc


def test_shared_parameters_counted_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert seq.num_parameters() == 6
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_reassign_keeps_order_and_none_allowed():
    m = nn.Linear(2, 3)
    m.weight = nn.Parameter(nb.zeros(3, 2))
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="bias"):
        m.bias = nb.zeros(3)  # a plain tensor cannot replace a parameter slot
    del m.weight
    assert list(m.parameters()) == []


def test_train_eval_recurse():
    net = Net()
    assert net.training and net.second[1].training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_zero_grad_and_requires_grad():
    net = Net()
    net(nb.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())


def test_apply_visits_children_then_self():
    seen = []
    Net().apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Block", "Linear", "Dropout", "Sequential", "Net"]


def test_state_dict_round_trip():
    nb.manual_seed(0)
    a, b = Net(), Net()
    sd = a.state_dict()
    assert list(sd) == ["first.scale", "first.count", "first.fc.weight", "first.fc.bias",
                        "second.0.weight", "second.0.bias"]  # non-persistent buffer left out
    assert not sd["first.fc.weight"].requires_grad
    result = b.load_state_dict(sd)
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = nb.randn(4, 3)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)
    # loading copies: changing a afterwards does not change b
    with nb.no_grad():
        a.first.fc.weight.fill_(0.0)
    assert b.first.fc.weight.data.any()


def test_load_state_dict_numpy_arrays():
    m = nn.Linear(3, 2)
    sd = {"weight": np.arange(6.0).reshape(2, 3), "bias": np.array([1.0, -1.0])}
    m.load_state_dict(sd)
    assert m.weight.dtype == np.float32
    np.testing.assert_array_equal(m.weight.data, sd["weight"])


def test_load_state_dict_errors_name_keys_and_shapes():
    net = Net()
    sd = dict(net.state_dict())
    del sd["first.scale"]
    sd["extra.weight"] = np.zeros(1)
    sd["second.0.weight"] = np.zeros((5, 5))
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(sd)
    msg = str(e.value)
    assert "Missing key(s) in state_dict: \"first.scale\"" in msg
    assert "Unexpected key(s) in state_dict: \"extra.weight\"" in msg
    assert "size mismatch for second.0.weight" in msg and "(5, 5)" in msg and "(2, 4)" in msg
    assert "Linear(in_features=4, out_features=2" in msg
    # strict=False reports instead of raising, but a wrong shape still raises
    del sd["second.0.weight"]
    res = net.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["first.scale", "second.0.weight"] and res.unexpected_keys == ["extra.weight"]


def test_repr_tree():
    r = repr(Net())
    assert r.splitlines()[0] == "Net("
    assert "  (first): Block(\n    (fc): Linear(in_features=3, out_features=4, bias=True)" in r
    assert "    (1): Dropout(p=0.5, inplace=False)" in r
    assert repr(nn.ReLU()) == "ReLU()"


def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h = m.register_forward_hook(lambda mod, inp, out: calls.append(out.shape) or out * 0)
    pre = m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 2,))
    y = m(nb.ones(3, 2))
    assert calls == [(3, 2)] and not y.data.any()
    h.remove(), pre.remove()
    assert m(nb.ones(3, 2)).data.any()


def test_to_double_casts_parameters_and_buffers():
    m = nn.BatchNorm1d(3).double()
    assert m.weight.dtype == np.float64 and m.running_mean.dtype == np.float64
    assert m.num_batches_tracked.dtype == np.int64
    m.float()
    assert m.weight.dtype == np.float32


def test_registration_errors():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(nb.zeros(1))
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Bad()
    m = nn.Module()
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError):
        m.register_buffer("b", np.zeros(2))
    with pytest.raises(NotImplementedError, match="forward"):
        m(1)


def test_buffer_assignment_and_parameter_list():
    m = nn.Module()
    m.stat = nn.Buffer(nb.zeros(2))
    assert [n for n, _ in m.named_buffers()] == ["stat"]
    pl = nn.ParameterList([nb.zeros(2), nb.ones(3)])
    assert [n for n, _ in pl.named_parameters()] == ["0", "1"] and pl[1].shape == (3,)
    pd = nn.ParameterDict({"a": nb.zeros(1)})
    assert list(pd.keys()) == ["a"] and isinstance(pd["a"], nn.Parameter)
