"""DistributedDataParallel in a loop of one's own: on 2 and 3 ranks with per-process batch B, the weights after
several steps equal one process's with batch N*B over the same samples (float64, 1e-10), with the reduction
after backward or overlapped, with several buckets; with SyncBatchNorm for a model with batch norm; no_sync
accumulation; the collectives on Tensors; the one-line errors (models that differ, an unused parameter).
One mpiexec launch per rank count runs every case (three ranks on two cores are slow to start)."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
import nabla.distributed as dist
from nabla.distributed.buckets import GradientReducer, make_buckets

from .mpi_helpers import run_ranks

RANKS_CODE = """
import numpy as np, nabla as nb
from nabla import nn, optim
import nabla.distributed as dist

dist.init()
r, n = dist.rank(), dist.world_size()

def say(line):  # every rank's line, printed by rank 0 (ranks' own prints can interleave mid-line)
    lines = dist.all_gather_object(line)
    if r == 0:
        print("\\n".join(f"rank {i} {t}" for i, t in enumerate(lines)), flush=True)
B, STEPS = 4, 5

def model(seed, bn=False):
    nb.manual_seed(seed)
    layers = [nn.Linear(6, 16, dtype=np.float64)] + ([nn.BatchNorm1d(16, dtype=np.float64)] if bn else [])
    return nn.Sequential(*layers, nn.Tanh(), nn.Linear(16, 3, dtype=np.float64))

rng = np.random.default_rng(0)
X, Y = rng.normal(size=(STEPS * n * B, 6)), rng.integers(0, 3, STEPS * n * B)
loss_fn = nn.CrossEntropyLoss()

def equivalence(overlap, bn, accumulate=False):
    local = model(seed=r + 1, bn=bn)  # another seed on every rank: DDP starts them all from rank 0's weights
    if bn:
        local = nn.SyncBatchNorm.convert_sync_batchnorm(local)
    ddp = dist.DistributedDataParallel(local, bucket_cap_mb=0.0005, overlap=overlap)  # 3 buckets
    ref = model(seed=1, bn=bn)
    opt, ref_opt = (optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (ddp, ref))
    for s in range(STEPS):
        batch = np.arange(s * n * B, (s + 1) * n * B)   # the same samples: rank r takes every n-th
        mine = batch[r::n]
        opt.zero_grad()
        if accumulate:  # two half batches, the first without reduction: the same gradient in the end
            with ddp.no_sync():
                (loss_fn(ddp(nb.tensor(X[mine[:2]])), nb.tensor(Y[mine[:2]])) * 0.5).backward()
            (loss_fn(ddp(nb.tensor(X[mine[2:]])), nb.tensor(Y[mine[2:]])) * 0.5).backward()
        else:
            loss_fn(ddp(nb.tensor(X[mine])), nb.tensor(Y[mine])).backward()
        opt.step()
        ref_opt.zero_grad()
        loss_fn(ref(nb.tensor(X[batch])), nb.tensor(Y[batch])).backward()
        ref_opt.step()
    a, b = ddp.module.state_dict(), ref.state_dict()
    return len(ddp._buckets), max(float(np.abs(a[k].numpy() - b[k].numpy()).max()) for k in b)

for name, kwargs in [("blocking", {"overlap": False, "bn": False}), ("overlap", {"overlap": True, "bn": False}),
                     ("syncbn", {"overlap": False, "bn": True}), ("no_sync", {"overlap": True, "bn": False, "accumulate": True})]:
    buckets, err = equivalence(**kwargs)
    say(f"case {name} buckets {buckets} error {err:.3e}")

t = nb.tensor(np.arange(6.0).reshape(2, 3).T * (r + 1))   # a non-contiguous Tensor
dist.all_reduce(t, op="mean")
a = np.full(3, float(r))
dist.broadcast(a, src=n - 1)
say(f"collectives {np.abs(t.numpy() - np.arange(6.0).reshape(2, 3).T * (n + 1) / 2).max()} {a.tolist()}")

try:
    dist.DistributedDataParallel(nn.Linear(4, 3 if r == 0 else 2))
except ValueError as e:
    say(f"mismatch {e}")

class Half(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 2), nn.Linear(3, 2)
    def forward(self, x):
        return self.a(x)
half = dist.DistributedDataParallel(Half())
half(nb.ones(2, 3)).sum().backward()
try:
    half(nb.ones(2, 3))
except RuntimeError as e:
    say(f"unused {e}")
found = dist.DistributedDataParallel(Half(), find_unused_parameters=True)
found(nb.ones(2, 3) * (r + 1)).sum().backward()
say(f"find_unused {found.module.b.weight.grad is None} {found.module.a.bias.grad.numpy().tolist()}")
"""


def _lines(out, tag):
    return [line.split(f" {tag} ", 1)[1] for line in out.stdout.splitlines() if f" {tag} " in line]


@pytest.mark.parametrize("ranks", [2, 3])
def test_ddp_equals_one_process_with_the_whole_batch(ranks, tmp_path):
    out = run_ranks(ranks, RANKS_CODE, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    cases = _lines(out, "case")
    assert len(cases) == 4 * ranks, out.stdout
    for line in cases:
        name, _, buckets, _, error = line.split()
        assert buckets == "3" and float(error) < 1e-10, line
    collectives = _lines(out, "collectives")
    assert len(collectives) == ranks and all(c == f"0.0 {[float(ranks - 1)] * 3}" for c in collectives), collectives
    mismatch = _lines(out, "mismatch")
    assert len(mismatch) == ranks and len(set(mismatch)) == 1, out.stdout
    assert "differs between ranks" in mismatch[0] and "rank 1" in mismatch[0] and "(3, 4)" in mismatch[0]
    assert "\n" not in mismatch[0]
    unused = _lines(out, "unused")
    assert len(unused) == ranks and "b.bias, b.weight" in unused[0] and "find_unused_parameters=True" in unused[0]
    # b gets a gradient on no rank: it stays None; a's bias gradient is 2 (a batch of two) on every rank
    found = _lines(out, "find_unused")
    assert found == ["True [2.0, 2.0]"] * ranks, found


def test_one_process_is_the_module_itself():
    nb.manual_seed(0)
    net = nn.Linear(3, 2)
    ddp = dist.DistributedDataParallel(net)
    x = nb.tensor(np.arange(6.0).reshape(2, 3), dtype=nb.float32)
    ddp(x).sum().backward()
    np.testing.assert_allclose(net.weight.grad.numpy(), np.tile(x.numpy().sum(0), (2, 1)))
    assert list(ddp.state_dict()) == ["module.weight", "module.bias"] and ddp.module is net
    assert dist.world_size() == 1 and dist.rank() == 0 and not dist.is_initialized()
    t = nb.ones(3)
    assert dist.all_reduce(t, op="mean") is t and dist.broadcast(t) is t
    np.testing.assert_array_equal(t.numpy(), 1.0)
    with pytest.raises(ValueError, match="all_reduce: op must be one of"):
        dist.all_reduce(t, op="avg")
    with pytest.raises(TypeError, match="expected a Tensor or a NumPy array"):
        dist.all_reduce([1.0])
    with pytest.raises(ValueError, match="process_group must be None"):
        dist.DistributedDataParallel(net, process_group="world")
    with pytest.raises(ValueError, match="bucket_cap_mb must be positive"):
        dist.DistributedDataParallel(net, bucket_cap_mb=0)


def test_buckets_last_layers_first_by_size_and_dtype():
    a = nn.Linear(100, 100, dtype=np.float64)   # 80,000 + 800 bytes
    b = nn.Linear(100, 10, dtype=np.float32)    # 4,000 + 40 bytes
    c = nn.Linear(10, 10, dtype=np.float64)     # 800 + 80 bytes
    params = list(a.parameters()) + list(b.parameters()) + list(c.parameters())
    buckets = make_buckets(params, bucket_cap_mb=40_000 / 2 ** 20)
    layout = [[p.shape for p in bucket.params] for bucket in buckets]
    # float64, last first: c.bias, c.weight, a.bias fit under 40 kB; a.weight (80 kB) gets a bucket of its own
    assert layout == [[(10,), (10, 10), (100,)], [(100, 100)], [(10,), (10, 100)]], layout
    assert [bk.dtype for bk in buckets] == [np.float64, np.float64, np.float32]
    assert sum(bk.size for bk in buckets) == sum(p.numel() for p in params)


def test_reducer_in_one_process_leaves_the_gradients():
    net = nn.Linear(3, 2)
    net(nb.ones(1, 3)).sum().backward()
    before = net.weight.grad.numpy().copy()
    reducer = GradientReducer(net.parameters())
    reducer.reduce()
    np.testing.assert_array_equal(net.weight.grad.numpy(), before)
    assert reducer.calls == 0
