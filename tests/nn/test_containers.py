"""Sequential, ModuleList, ModuleDict."""
from collections import OrderedDict

import numpy as np
import pytest

import nabla as nb
from nabla import nn


def test_sequential_forward_index_slice_len_append():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = nb.randn(5, 3)
    np.testing.assert_allclose(seq(x).data, seq[2](seq[1](seq[0](x))).data)
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is seq[0]
    seq.append(nn.Tanh())
    assert len(seq) == 4 and [n for n, _ in seq.named_children()][-1] == "3"
    with pytest.raises(IndexError, match="out of range"):
        seq[4]
    del seq[1]
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2"] and isinstance(seq[1], nn.Linear)
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and len(seq) == 4
    seq[0] = nn.ReLU()
    assert isinstance(seq[0], nn.ReLU) and [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]


def test_sequential_ordered_dict_names():
    seq = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert [n for n, _ in seq.named_parameters()] == ["fc.weight", "fc.bias"]
    assert seq.fc is seq[0]


def test_module_list():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh()])
    assert [type(m).__name__ for m in ml] == ["Linear", "Linear", "Linear", "ReLU", "Tanh"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    ml.insert(0, nn.Identity())
    assert isinstance(ml[0], nn.Identity) and [n for n, _ in ml.named_children()][-1] == "5"
    del ml[0]
    assert isinstance(ml[0], nn.Linear)

    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = ml
    assert [n for n, _ in Holder().named_parameters()][:2] == ["layers.0.weight", "layers.0.bias"]


def test_module_dict():
    md = nn.ModuleDict({"b": nn.Linear(1, 1), "a": nn.ReLU()})
    assert list(md.keys()) == ["b", "a"]  # insertion order, not sorted
    md["c"] = nn.Tanh()
    assert "c" in md and len(md) == 3 and isinstance(md["b"], nn.Linear)
    assert md.pop("a").__class__ is nn.ReLU and list(md) == ["b", "c"]
    assert [n for n, _ in md.named_parameters()] == ["b.weight", "b.bias"]
