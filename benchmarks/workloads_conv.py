"""Convolutional workloads (issue 5): single conv2d layers forward+backward on typical shapes, a LeNet-5
training step and a CIFAR-style ResNet-20 training step, nabla against PyTorch on the CPU.

Both frameworks build the same model through their (identical) nn APIs, and every parameter gets the
same NumPy values (``_params``), so the first step's loss agrees.  Registered by one import line in
benchmarks/workloads/__init__.py; the smoke test runs each at batch 4 (``smoke``)."""
from __future__ import annotations

import numpy as np

from .workloads import Workload, register

BATCH = 64
# a small batch for tests/test_benchmarks_smoke.py (where the harness supports per-workload smoke configs)
_SMOKE = {"smoke": {"batch": 4}} if "smoke" in getattr(Workload, "__dataclass_fields__", {}) else {}


def _params(named_shapes, seed=0):
    """Deterministic parameter values by name: weights U(-1/sqrt(fan_in), +), norm weights 1, biases 0."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in named_shapes:
        if len(shape) >= 2:
            bound = 1.0 / np.sqrt(np.prod(shape[1:]))
            out[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
        elif name.endswith("weight"):
            out[name] = np.ones(shape, dtype=np.float32)
        else:
            out[name] = np.zeros(shape, dtype=np.float32)
    return out


def _load(fw, model):
    values = _params([(n, tuple(p.shape)) for n, p in model.named_parameters()])
    with fw.no_grad():
        for n, p in model.named_parameters():
            p.copy_(fw.tensor(values[n]))


# ---------------------------------------------------------------- single convolution layers
CONV_SHAPES = {
    # name: (C_in, C_out, kernel, padding, stride, H (= W))
    "conv2d_3x3_64_32x32": (64, 64, 3, 1, 1, 32),
    "conv2d_5x5_1_28x28": (1, 6, 5, 2, 1, 28),
    "conv2d_1x1_256_64_16x16": (256, 64, 1, 0, 1, 16),
}


def _conv_setup(fw, name, batch):
    cin, cout, k, p, s, hw = CONV_SHAPES[name]
    x_np = np.random.default_rng(1).standard_normal((batch, cin, hw, hw), dtype=np.float32)
    conv = fw.nn.Conv2d(cin, cout, k, stride=s, padding=p)
    _load(fw, conv)
    x = fw.tensor(x_np, requires_grad=True)
    params = list(conv.parameters())

    def step():
        x.grad = None
        for q in params:
            q.grad = None
        out = conv(x)
        loss = (out * out).mean()
        loss.backward()
        return loss
    return step


def _conv_workload(name, goal):
    def nb_setup(cfg):
        import nabla as nb
        import nabla.nn  # noqa: F401
        return _conv_setup(nb, name, cfg.get("batch", BATCH))

    def torch_setup(cfg):
        import torch
        return _conv_setup(torch, name, cfg.get("batch", BATCH))

    cin, cout, k, p, s, hw = CONV_SHAPES[name]
    register(Workload(
        name, goal=goal, source="issue 5",
        description=f"Conv2d({cin}, {cout}, {k}, padding={p}) on {BATCH}x{cin}x{hw}x{hw} float32: forward, "
                    f"mean of squares, backward (input, weight, bias gradients)",
        nabla=nb_setup, torch=torch_setup, **_SMOKE))


_conv_workload("conv2d_3x3_64_32x32", 2.5)
_conv_workload("conv2d_5x5_1_28x28", 2.5)
_conv_workload("conv2d_1x1_256_64_16x16", 2.5)


# ---------------------------------------------------------------- training steps
def lenet5(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def resnet20(nn):
    """He et al. 2016's CIFAR ResNet-20: 3x3 conv 16, three stages of three basic blocks (16, 32, 64
    channels), global average pool, linear; 1x1 convolution + BN shortcuts where the shape changes."""

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.short = nn.Sequential()
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + self.short(x))

    layers = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()]
    cin = 16
    for cout, stride in ((16, 1), (32, 2), (64, 2)):
        for i in range(3):
            layers.append(Block(cin, cout, stride if i == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


def _train_setup(fw, build, shape, batch):
    model = build(fw.nn)
    _load(fw, model)
    model.train()
    rng = np.random.default_rng(2)
    x = fw.tensor(rng.standard_normal((batch,) + shape, dtype=np.float32))
    y = fw.tensor(rng.integers(0, 10, batch).astype(np.int64))
    criterion = fw.nn.CrossEntropyLoss()
    opt = fw.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _train_workload(name, build, shape, goal, what):
    def nb_setup(cfg):
        import nabla as nb
        import nabla.nn  # noqa: F401
        import nabla.optim  # noqa: F401
        return _train_setup(nb, build, shape, cfg.get("batch", BATCH))

    def torch_setup(cfg):
        import torch
        import torch.optim  # noqa: F401
        return _train_setup(torch, build, shape, cfg.get("batch", BATCH))

    register(Workload(name, goal=goal, source="issue 5",
                      description=f"{what} training step, batch {BATCH} of {'x'.join(map(str, shape))}: "
                                  "zero_grad + forward + cross-entropy + backward + SGD(momentum) step",
                      nabla=nb_setup, torch=torch_setup, **_SMOKE))


_train_workload("lenet5_train_b64", lenet5, (1, 28, 28), 2.0, "LeNet-5")
_train_workload("resnet20_train_b64", resnet20, (3, 32, 32), 3.0, "ResNet-20 (CIFAR-style)")
