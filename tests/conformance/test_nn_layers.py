"""nabla.nn layers against torch.nn: torch's weights are loaded into the nabla layer through
load_state_dict (torch tensors' arrays), then forward values, input gradients and parameter gradients
are compared, in float32 and float64."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _pair(name):
    """(nabla module, torch module, input shape, integer input?)"""
    return {
        "Linear": (nn.Linear(5, 3), tnn.Linear(5, 3), (4, 5)),
        "Linear_nobias_3d": (nn.Linear(5, 3, bias=False), tnn.Linear(5, 3, bias=False), (2, 4, 5)),
        "BatchNorm1d": (nn.BatchNorm1d(3), tnn.BatchNorm1d(3), (6, 3)),
        "BatchNorm1d_NCL_momentum_none": (nn.BatchNorm1d(3, momentum=None), tnn.BatchNorm1d(3, momentum=None),
                                          (4, 3, 5)),
        "BatchNorm1d_noaffine": (nn.BatchNorm1d(3, affine=False), tnn.BatchNorm1d(3, affine=False), (6, 3)),
        "BatchNorm1d_no_stats": (nn.BatchNorm1d(3, track_running_stats=False),
                                 tnn.BatchNorm1d(3, track_running_stats=False), (6, 3)),
        "BatchNorm2d": (nn.BatchNorm2d(2, eps=1e-3, momentum=0.3), tnn.BatchNorm2d(2, eps=1e-3, momentum=0.3),
                        (3, 2, 4, 4)),
        "LayerNorm": (nn.LayerNorm(6), tnn.LayerNorm(6), (3, 6)),
        "LayerNorm_2d_nobias": (nn.LayerNorm((2, 3), bias=False), tnn.LayerNorm((2, 3), bias=False), (4, 2, 3)),
        "Embedding": (nn.Embedding(7, 3), tnn.Embedding(7, 3), "idx"),
        "Embedding_padding": (nn.Embedding(7, 3, padding_idx=2), tnn.Embedding(7, 3, padding_idx=2), "idx"),
        "Sigmoid": (nn.Sigmoid(), tnn.Sigmoid(), (3, 4)),
        "Tanh": (nn.Tanh(), tnn.Tanh(), (3, 4)),
        "ReLU": (nn.ReLU(), tnn.ReLU(), (3, 4)),
        "LeakyReLU": (nn.LeakyReLU(0.1), tnn.LeakyReLU(0.1), (3, 4)),
        "ELU": (nn.ELU(0.5), tnn.ELU(0.5), (3, 4)),
        "GELU": (nn.GELU(), tnn.GELU(), (3, 4)),
        "GELU_tanh": (nn.GELU("tanh"), tnn.GELU("tanh"), (3, 4)),
        "Softplus": (nn.Softplus(2.0, 1.0), tnn.Softplus(2.0, 1.0), (3, 4)),
        "SiLU": (nn.SiLU(), tnn.SiLU(), (3, 4)),
        "Softmax": (nn.Softmax(dim=1), tnn.Softmax(dim=1), (3, 4)),
        "LogSoftmax": (nn.LogSoftmax(dim=0), tnn.LogSoftmax(dim=0), (3, 4)),
        "Flatten": (nn.Flatten(), tnn.Flatten(), (2, 3, 4)),
        "Unflatten": (nn.Unflatten(1, (3, 2)), tnn.Unflatten(1, (3, 2)), (2, 6)),
        "Identity": (nn.Identity(), tnn.Identity(), (2, 3)),
        "MLP": (nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 3)),
                tnn.Sequential(tnn.Linear(4, 8), tnn.ReLU(), tnn.BatchNorm1d(8), tnn.Linear(8, 3)), (5, 4)),
    }[name]


NAMES = ["Linear", "Linear_nobias_3d", "BatchNorm1d", "BatchNorm1d_NCL_momentum_none", "BatchNorm1d_noaffine",
         "BatchNorm1d_no_stats", "BatchNorm2d", "LayerNorm", "LayerNorm_2d_nobias", "Embedding", "Embedding_padding",
         "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "GELU", "GELU_tanh", "Softplus", "SiLU", "Softmax",
         "LogSoftmax", "Flatten", "Unflatten", "Identity", "MLP"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", NAMES)
def test_layer_matches_torch(name, dtype):
    torch.manual_seed(0)
    nm, tm, shape = _pair(name)
    tdt = getattr(torch, dtype)
    tm = tm.to(tdt)
    nm = nm.to(np.dtype(dtype))
    for m in tm.modules():
        if isinstance(m, (tnn.BatchNorm1d, tnn.BatchNorm2d, tnn.LayerNorm)) and getattr(m, "weight", None) is not None:
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                if m.bias is not None:
                    m.bias.normal_()
    nm.load_state_dict(tm.state_dict())  # torch tensors go straight in
    rng = np.random.default_rng(1)
    atol, rtol = (1e-5, 1e-4) if dtype == "float32" else (1e-10, 1e-8)
    for step in range(3):  # several training steps: running statistics must track too
        if shape == "idx":
            idx = np.array([[0, 2, 6], [2, 2, 1]])
            xn, xt = nb.tensor(idx), torch.tensor(idx)
        else:
            arr = rng.standard_normal(shape).astype(dtype)
            xn, xt = nb.tensor(arr, requires_grad=True), torch.tensor(arr, requires_grad=True)
        yn, yt = nm(xn), tm(xt)
        np.testing.assert_allclose(yn.data, yt.detach().numpy(), atol=atol, rtol=rtol, err_msg=f"{name} forward")
        u = rng.standard_normal(yn.shape).astype(dtype)
        nm.zero_grad(), tm.zero_grad()
        (yn * nb.tensor(u)).sum().backward()
        (yt * torch.tensor(u)).sum().backward()
        if shape != "idx":
            np.testing.assert_allclose(xn.grad.data, xt.grad.numpy(), atol=atol * 10, rtol=rtol * 10,
                                       err_msg=f"{name} input gradient")
        tparams = dict(tm.named_parameters())
        for pname, p in nm.named_parameters():
            np.testing.assert_allclose(p.grad.data, tparams[pname].grad.numpy(), atol=atol * 10, rtol=rtol * 10,
                                       err_msg=f"{name} gradient of {pname}")
    tsd = tm.state_dict()
    for key, v in nm.state_dict().items():
        np.testing.assert_allclose(v.data, tsd[key].numpy(), atol=atol, rtol=rtol, err_msg=f"{name} state {key}")
    # evaluation mode uses the running statistics
    nm.eval(), tm.eval()
    if shape != "idx":
        arr = rng.standard_normal(shape).astype(dtype)
        np.testing.assert_allclose(nm(nb.tensor(arr)).data, tm(torch.tensor(arr)).detach().numpy(),
                                   atol=atol, rtol=rtol, err_msg=f"{name} eval forward")


def test_state_dict_from_torch_gives_identical_outputs_and_round_trips():
    torch.manual_seed(0)
    tm = tnn.Sequential(tnn.Linear(6, 5), tnn.BatchNorm1d(5), tnn.Tanh(), tnn.Linear(5, 2))
    tm.train()
    tm(torch.randn(8, 6))  # move the running statistics away from their defaults
    tm.eval()
    nm = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 2)).eval()
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_allclose(nm(nb.tensor(x)).data, tm(torch.tensor(x)).detach().numpy(), atol=1e-6)
    # and back: nabla's state_dict loads into torch
    tm2 = tnn.Sequential(tnn.Linear(6, 5), tnn.BatchNorm1d(5), tnn.Tanh(), tnn.Linear(5, 2)).eval()
    tm2.load_state_dict({k: torch.tensor(v.data) for k, v in nm.state_dict().items()})
    np.testing.assert_allclose(tm2(torch.tensor(x)).detach().numpy(), nm(nb.tensor(x)).data, atol=1e-6)
