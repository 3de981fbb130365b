"""nn.SyncBatchNorm: with the global batch split over 2 and 3 ranks, outputs, input gradients, the mean of the
ranks' weight/bias gradients and the running statistics equal one process's BatchNorm on the whole batch
(float64); in one process it is BatchNorm; convert_sync_batchnorm keeps the state."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn

from .mpi_helpers import run_ranks

RANKS_CODE = """
import numpy as np, nabla as nb
from nabla import nn, comm
r, n = comm.rank(), comm.world_size()
rng = np.random.default_rng(0)
x_all = rng.normal(2.0, 3.0, (12, 3, 4, 5))
g_all = rng.normal(size=x_all.shape)
part = np.array_split(np.arange(12), n)[r]
bn = nn.SyncBatchNorm(3, dtype=np.float64)
bn.weight.data[...] = [0.5, 2.0, -1.0]; bn.bias.data[...] = [0.1, 0.2, 0.3]
x = nb.tensor(x_all[part], requires_grad=True)
y = bn(x)
(y * nb.tensor(g_all[part])).sum().backward()
gw = comm.all_reduce(np.ascontiguousarray(bn.weight.grad.numpy())) / n
gb = comm.all_reduce(np.ascontiguousarray(bn.bias.grad.numpy())) / n
ref = nn.BatchNorm2d(3, dtype=np.float64)
ref.weight.data[...] = [0.5, 2.0, -1.0]; ref.bias.data[...] = [0.1, 0.2, 0.3]
xr = nb.tensor(x_all, requires_grad=True)
yr = ref(xr)
(yr * nb.tensor(g_all)).sum().backward()
errs = [np.abs(y.detach().numpy() - yr.detach().numpy()[part]).max(), np.abs(x.grad.numpy() - xr.grad.numpy()[part]).max(),
        np.abs(gw - ref.weight.grad.numpy() / n).max(), np.abs(gb - ref.bias.grad.numpy() / n).max(),
        np.abs(bn.running_mean.numpy() - ref.running_mean.numpy()).max(),
        np.abs(bn.running_var.numpy() - ref.running_var.numpy()).max()]
worst = comm.all_gather_object(float(max(errs)))
if r == 0:
    print("max errors", *worst)
"""


@pytest.mark.parametrize("ranks", [2, 3])
def test_sync_batchnorm_over_ranks_equals_one_process(ranks, tmp_path):
    out = run_ranks(ranks, RANKS_CODE, tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    errors = [float(v) for line in out.stdout.splitlines() if line.startswith("max errors") for v in line.split()[2:]]
    assert len(errors) == ranks and max(errors) < 1e-10, out.stdout


def test_single_process_is_batchnorm():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4, 3))
    sync, plain = nn.SyncBatchNorm(4, dtype=np.float64), nn.BatchNorm1d(4, dtype=np.float64)
    xs, xp = nb.tensor(x, requires_grad=True), nb.tensor(x, requires_grad=True)
    sync(xs).sum().backward()
    plain(xp).sum().backward()
    np.testing.assert_allclose(sync(xs).detach().numpy(), plain(xp).detach().numpy())
    np.testing.assert_allclose(sync.running_var.numpy(), plain.running_var.numpy())


def test_convert_sync_batchnorm_keeps_state_and_dtype():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, dtype=np.float64), nn.BatchNorm2d(4, dtype=np.float64), nn.ReLU(),
                          nn.Sequential(nn.BatchNorm2d(4, affine=False, dtype=np.float64)))
    model[1].running_mean.data[...] = 3.0
    model[1].weight.data[...] = 2.0
    model.eval()
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model
    assert isinstance(model[1], nn.SyncBatchNorm) and isinstance(model[3][0], nn.SyncBatchNorm)
    assert model[1].weight.data.dtype == np.float64 and not model[1].training
    np.testing.assert_array_equal(model[1].running_mean.numpy(), 3.0)
    np.testing.assert_array_equal(model[1].weight.detach().numpy(), 2.0)
    assert model[3][0].weight is None


def test_errors():
    with pytest.raises(ValueError, match="SyncBatchNorm: process_group"):
        nn.SyncBatchNorm(3, process_group="group")
    with pytest.raises(ValueError, match=r"SyncBatchNorm\(3\).*\(N, 3, \*\)"):
        nn.SyncBatchNorm(3)(nb.ones(4, 2))
