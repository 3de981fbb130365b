"""One epoch of MNIST through the 784-512-512-10 MLP with Adam, each framework with its own DataLoader
at the same settings (batch 128, shuffled, the whole training set), and the loader alone (issue 4).

`mnist_epoch` times the full epoch (load a batch, forward, backward, Adam).  `mnist_loader_epoch`
times only iterating the loader over the epoch, so its ratio to the epoch is the loader's share."""
from __future__ import annotations

from . import Workload, framework, register
from .mlp import mlp_model

BATCH = 128


def _mnist_arrays(limit=None):
    """MNIST training images as float32 in [0, 1] (N, 784) and int64 labels, from nabla's loader (the
    same bytes for both frameworks)."""
    from nabla.data.datasets import MNIST, DatasetNotFoundError
    try:
        ds = MNIST(train=True, download=False)
    except DatasetNotFoundError as e:  # reported as a skipped workload, with the install line
        raise ImportError(str(e)) from None
    x = ds.data.data.reshape(len(ds), -1)
    y = ds.targets.data
    if limit:
        x, y = x[:limit], y[:limit]
    return x, y


def _nabla_loader(cfg):
    import nabla as nb
    from nabla.data import DataLoader, TensorDataset
    x, y = _mnist_arrays(cfg.get("limit"))
    # uint8 pixels scaled per batch, as a real pipeline does (a transform on the batch)
    ds = TensorDataset(nb.Tensor(x), nb.Tensor(y))
    return DataLoader(ds, batch_size=BATCH, shuffle=cfg.get("shuffle", True), seed=0)


def _torch_loader(cfg):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    x, y = _mnist_arrays(cfg.get("limit"))
    ds = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    return DataLoader(ds, batch_size=BATCH, shuffle=cfg.get("shuffle", True),
                      generator=torch.Generator().manual_seed(0))


def _epoch(fw, loader):
    model = mlp_model(fw)
    criterion = fw.nn.CrossEntropyLoss()
    opt = fw.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        loss = None
        for xb, yb in loader:
            xb = xb.float() / 255.0
            opt.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            opt.step()
        return loss
    return step


def _loader_only(loader):
    def step():
        last = None
        for xb, yb in loader:
            last = xb.float() / 255.0
        return last.sum()
    return step


register(Workload(
    "mnist_epoch", goal=1.0, source="issue 4",
    description="one MNIST epoch (60,000 images, batch 128, shuffled) of the 784-512-512-10 MLP with Adam, "
                "each framework's own DataLoader at the same settings",
    nabla=lambda cfg: _epoch(framework("nabla", "nn", "optim"), _nabla_loader(cfg)),
    torch=lambda cfg: _epoch(framework("torch", "nn", "optim"), _torch_loader(cfg)),
    smoke={"limit": 512, "shuffle": False}, per=(1, "epoch")))

register(Workload(
    "mnist_loader_epoch", goal=1.0, source="issue 4",
    description="iterating the DataLoader alone over one MNIST epoch (batch 128, shuffled) with the "
                "uint8-to-float scaling: compare with mnist_epoch for the loader's share",
    nabla=lambda cfg: _loader_only(_nabla_loader(cfg)),
    torch=lambda cfg: _loader_only(_torch_loader(cfg)),
    smoke={"limit": 512, "shuffle": False}, per=(1, "epoch")))
