"""The 784-512-512-10 ReLU MLP at batch 128 in float32: raw ops (issue 2, b) and a full training step
with nn.Linear, nn.ReLU, nn.CrossEntropyLoss and optim.Adam (issue 3)."""
from __future__ import annotations

import numpy as np

from . import Workload, framework, register, training_step
from ._data import classification_batch, linear_params

SIZES = (784, 512, 512, 10)
BATCH = 128


def _data(layout):
    params = linear_params(SIZES, seed=0, layout=layout)
    x, y = classification_batch(BATCH, SIZES[0], SIZES[-1], seed=1)
    return params, x, y


# ---------------------------------------------------------------- b: raw ops, forward + backward
def _loss_config():
    """Both frameworks use the same loss: cross-entropy through log_softmax gathered at the targets when
    nabla can do it (log_softmax, integer-array indexing, mean), else the mean of the squared logits."""
    import nabla as nb
    errors = {}
    for loss in ("cross_entropy", "mean_square"):
        try:
            logits = nb.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 6, requires_grad=True)
            out = _raw_loss(nb, loss, logits, nb.arange(2), nb.tensor(np.array([0, 2])))
            out.backward()
            if logits.grad is None or logits.grad.shape != (2, 3):
                raise RuntimeError("no gradient reached the logits")
            return {"loss": loss, **({"fallback_because": errors} if errors else {})}
        except Exception as e:  # noqa: BLE001 - any failure means: use the next loss
            errors[loss] = f"{type(e).__name__}: {e}"
    return {"loss": "cross_entropy", "fallback_because": errors}


def _raw_loss(fw, loss, logits, rows, y):
    if loss == "cross_entropy":
        logp = fw.log_softmax(logits, dim=1)
        return -(logp[rows, y]).mean()
    if loss == "mean_square":
        return (logits * logits).mean()
    raise ValueError(f"unknown loss {loss!r}")


def _mlp_raw(fw, cfg, params, x, y, rows):
    leaves = [p for wb in params for p in wb]
    loss_name = cfg.get("loss", "cross_entropy")
    last = len(params) - 1

    def step():
        for p in leaves:
            p.grad = None
        h = x
        for i, (w, b) in enumerate(params):
            h = h @ w + b
            if i < last:
                h = h.relu()
        loss = _raw_loss(fw, loss_name, h, rows, y)
        loss.backward()
        return loss
    return step


def _raw_nabla(cfg):
    import nabla as nb
    params, x, y = _data("in_out")
    params = [(nb.tensor(w, requires_grad=True), nb.tensor(b, requires_grad=True)) for w, b in params]
    return _mlp_raw(nb, cfg, params, nb.tensor(x), nb.tensor(y), nb.arange(BATCH))


def _raw_torch(cfg):
    import torch
    params, x, y = _data("in_out")
    params = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) for w, b in params]
    return _mlp_raw(torch, cfg, params, torch.tensor(x), torch.tensor(y), torch.arange(BATCH))


register(Workload(
    "mlp_raw_b128", goal=0.75, source="issue 2 (b)",
    description="784-512-512-10 ReLU MLP, batch 128, float32, raw ops (matmul, +bias, relu, "
                "log_softmax cross-entropy): forward + backward",
    nabla=_raw_nabla, torch=_raw_torch, config=_loss_config))


# ---------------------------------------------------------------- b': the NumPy floor of b
def numpy_forward_backward(params, x, y):
    """Workload b written by hand in NumPy, no framework: the forward pass, the cross-entropy, and the
    backward pass with the gradients derived on paper.  Returns (loss, [(dW, db)] per layer).

    This is the least any NumPy framework can spend on b (its 8 matrix products plus ~15 elementwise
    passes): the benchmark ``mlp_raw_b128_numpy_floor`` times it against PyTorch's b."""
    n = x.shape[0]
    acts, pre = [x], []
    h = x
    for i, (w, b) in enumerate(params):
        z = h @ w
        z += b
        if i < len(params) - 1:
            pre.append(z)
            h = np.maximum(z, 0)
            acts.append(h)
        else:
            h = z
    m = h.max(axis=1, keepdims=True)
    e = np.exp(h - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(s[:, 0]) + m[:, 0] - h[rows, y])
    g = e / s                         # d loss / d logits = (softmax - onehot) / n
    g[rows, y] -= 1.0
    g /= n
    grads = []
    for i in range(len(params) - 1, -1, -1):
        w = params[i][0]
        grads.append((acts[i].T @ g, g.sum(axis=0)))
        if i > 0:
            g = g @ w.T
            g *= pre[i - 1] > 0           # ReLU's gradient
    return loss, grads[::-1]


def _floor_numpy(cfg):
    import nabla as nb  # only to hand back the loss in the form the smoke test reads
    params, x, y = _data("in_out")

    def step():
        loss, _ = numpy_forward_backward(params, x, y)
        return nb.tensor(loss)
    return step


register(Workload(
    "mlp_raw_b128_numpy_floor", goal=0.75, source="issue 2 (b), reference",
    description="the mlp_raw_b128 step written by hand in plain NumPy (no framework, gradients derived on "
                "paper) against PyTorch's mlp_raw_b128: the floor for any NumPy framework",
    nabla=_floor_numpy, torch=_raw_torch, config=lambda: {"loss": "cross_entropy"}))


# ---------------------------------------------------------------- c: nn + Adam training step
def mlp_model(fw):
    """The 784-512-512-10 ReLU MLP as ``fw.nn.Sequential``, its Linear layers loaded from
    ``linear_params(SIZES, seed=0)``: identical starting weights in both frameworks."""
    nn = fw.nn
    model = nn.Sequential(nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(),
                          nn.Linear(SIZES[1], SIZES[2]), nn.ReLU(),
                          nn.Linear(SIZES[2], SIZES[3]))
    with fw.no_grad():
        linears = [m for m in model if isinstance(m, nn.Linear)]
        for layer, (w, b) in zip(linears, linear_params(SIZES, seed=0, layout="out_in")):
            layer.weight.copy_(fw.tensor(w))
            layer.bias.copy_(fw.tensor(b))
    return model


def _train_step(fw, lr):
    model = mlp_model(fw)
    criterion = fw.nn.CrossEntropyLoss()
    opt = fw.optim.Adam(model.parameters(), lr=lr)
    x, y = classification_batch(BATCH, SIZES[0], SIZES[-1], seed=1)
    x, y = fw.tensor(x), fw.tensor(y)
    return training_step(opt, lambda: criterion(model(x), y))


register(Workload(
    "mlp_train_adam_b128", goal=1.0, source="issue 3",
    description="784-512-512-10 MLP training step, batch 128: nn.Linear/ReLU/CrossEntropyLoss, "
                "optim.Adam; zero_grad + forward + backward + step",
    nabla=lambda cfg: _train_step(framework("nabla", "nn", "optim"), cfg.get("lr", 1e-3)),
    torch=lambda cfg: _train_step(framework("torch", "nn", "optim"), cfg.get("lr", 1e-3))))
