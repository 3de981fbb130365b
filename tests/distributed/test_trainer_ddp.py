"""The Trainer with a DDPStrategy on 2 and 3 ranks: two epochs with per-process batch B (gradients reduced in
before_optimizer_step, then L1 and clipping) give the weights, training figures and validation figures of one
process with batch N*B over the same samples (float64, 1e-10), also with SyncBatchNorm for a model with batch
norm; a NaN loss on one rank stops every rank at the same step, naming the rank; rank 0's decision to stop
(a callback on rank 0 alone) stops every rank at its step; ranks whose training loaders have different
batch counts stop at once with one error.  Single-process unit tests for the helpers."""
import numpy as np
import pytest

from nabla.data import DataLoader, TensorDataset
from nabla.data.sampler import SequentialSampler
from nabla.distributed.strategy import combine, distribute
from nabla.train.steps.sharding import evaluation_share as shard

from .mpi_helpers import REPO, run_ranks

RANKS_CODE = """
import numpy as np, nabla as nb
from nabla import comm, nn, optim
from nabla.data import DataLoader, DistributedSampler, TensorDataset
from nabla.train import Callback, ClassificationStep, Trainer, TrainingDiverged
from nabla.distributed import DDPStrategy

strategy = DDPStrategy(bucket_cap_mb=0.0005)
r, n = strategy.rank, strategy.world_size

def say(line):  # every rank's line, printed by rank 0 (ranks' own prints can interleave mid-line)
    lines = comm.all_gather_object(line)
    if r == 0:
        print("\\n".join(f"rank {i} {t}" for i, t in enumerate(lines)), flush=True)
B = 4
rng = np.random.default_rng(0)
train = TensorDataset(rng.normal(size=(6 * n * B, 5)), rng.integers(0, 3, 6 * n * B))
val = TensorDataset(rng.normal(size=(37, 5)), rng.integers(0, 3, 37))

def model(seed, bn, sync=False):
    nb.manual_seed(seed)
    layers = [nn.Linear(5, 12, dtype=np.float64)] + ([nn.BatchNorm1d(12, dtype=np.float64)] if bn else [])
    net = nn.Sequential(*layers, nn.ReLU(), nn.Linear(12, 3, dtype=np.float64))
    return nn.SyncBatchNorm.convert_sync_batchnorm(net) if sync else net

def fit(world, bn):
    net = model(1 + (r if world > 1 else 0), bn, sync=world > 1)  # setup broadcasts rank 0's weights
    step = ClassificationStep(net, optim.SGD(net.parameters(), lr=0.1, momentum=0.9))  # Adam would magnify rounding
    sampler = DistributedSampler(train, num_replicas=world, rank=0 if world == 1 else r, seed=3)
    trainer = Trainer(step, progress=False, strategy=strategy if world > 1 else None, clip_grad_norm=0.5, l1=1e-3)
    trainer.fit(DataLoader(train, batch_size=B * (n if world == 1 else 1), sampler=sampler),
                DataLoader(val, batch_size=10), epochs=2)
    return net.state_dict(), trainer.history

for bn in (False, True):
    (mine, h), (ref, h_ref) = fit(n, bn), fit(1, bn)
    werr = max(float(np.abs(mine[k].numpy() - ref[k].numpy()).max()) for k in ref)
    herr = max(abs(a - b) for k in ("loss", "accuracy", "val_loss", "val_accuracy") for a, b in zip(h[k], h_ref[k]))
    say(f"bn {bn} weights {werr:.3e} history {herr:.3e} rows {len(h['val_loss'])}")

class NaNOnLastRank(nn.CrossEntropyLoss):
    trainer = None
    def forward(self, out, y):
        loss = super().forward(out, y)
        return loss * float("nan") if r == n - 1 and self.trainer.global_step == 2 else loss

class StopOnRankZero(Callback):
    def on_batch_end(self, trainer, batch, loss):
        trainer.stop_training = trainer.global_step >= 3

net = model(1, False)
loss_fn = NaNOnLastRank()
trainer = Trainer(ClassificationStep(net, optim.SGD(net.parameters(), lr=0.1), loss_fn=loss_fn), progress=False,
                  strategy=strategy)
loss_fn.trainer = trainer
try:
    trainer.fit(DataLoader(train, batch_size=B, sampler=DistributedSampler(train)), epochs=1)
except TrainingDiverged as e:
    say(f"diverged at {trainer.global_step}: {e}")
net = model(1, False)
trainer = Trainer(ClassificationStep(net, optim.SGD(net.parameters(), lr=0.1)), progress=False, strategy=strategy,
                  callbacks=[StopOnRankZero()] if r == 0 else [])
trainer.fit(DataLoader(train, batch_size=B, sampler=DistributedSampler(train)), epochs=1)
say(f"stopped at {trainer.global_step}")
"""


@pytest.mark.parametrize("ranks", [2, 3])
def test_trainer_on_ranks_equals_one_process_with_the_whole_batch(ranks, tmp_path):
    out = run_ranks(ranks, RANKS_CODE, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line.split() for line in out.stdout.splitlines() if " bn " in line]
    assert len(rows) == 2 * ranks, out.stdout
    for row in rows:
        assert float(row[5]) < 1e-10 and float(row[7]) < 1e-10 and row[9] == "2", row
    diverged = [line for line in out.stdout.splitlines() if "diverged at" in line]
    assert len(diverged) == ranks, out.stdout
    assert all(f"diverged at 2: the loss became nan on rank {ranks - 1} at epoch 1, batch 3" in d for d in diverged)
    stopped = [line for line in out.stdout.splitlines() if "stopped at" in line]
    assert sorted(stopped) == [f"rank {r} stopped at 3" for r in range(ranks)], out.stdout


UNEQUAL_CODE = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, nabla as nb
from nabla import comm, nn, optim
from nabla.train import Trainer
from nabla.train.steps.scene_batches import SceneBatches
from nabla.train.steps.segmentation import SegmentationStep
from nabla.distributed import DDPStrategy
from nabla.distributed.strategy import distribute
from tests.distributed.toy_scenes import ToyScenes

strategy = DDPStrategy()
nb.manual_seed(1)
m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, dtype=np.float64))
step = SegmentationStep(m, optim.SGD(m.parameters(), lr=0.5), 3)
loader = distribute(SceneBatches(ToyScenes(9), 3, shuffle=False), 0)  # 3 batches: 2 on rank 0, 1 on rank 1
try:
    Trainer(step, progress=False, strategy=strategy).fit(loader, epochs=1)
    outcome = "trained"
except ValueError as e:
    outcome = f"refused: {e}"
lines = comm.all_gather_object(outcome)  # every rank got here: none is left waiting
if strategy.rank == 0:
    print("\\n".join(f"rank {i} {t}" for i, t in enumerate(lines)), flush=True)
"""


def test_ranks_with_unequal_batch_counts_stop_at_once_instead_of_hanging(tmp_path):
    """A training loader that gives the ranks different numbers of batches (an unshuffled loader's contiguous
    shares) would leave one rank's gradient Allreduce facing another's end-of-epoch collectives, forever:
    every rank refuses it at the start of fit."""
    out = run_ranks(2, UNEQUAL_CODE, tmp_path, timeout=60, args=[REPO])
    assert out.returncode == 0, out.stdout + out.stderr[-3000:]
    refused = sorted(line for line in out.stdout.splitlines() if line.startswith("rank "))
    assert [line.split(":")[0] for line in refused] == ["rank 0 refused", "rank 1 refused"], out.stdout
    assert "has [2, 1] batches on ranks 0...1" in refused[0], out.stdout


def test_shards_cover_the_evaluation_set_once_and_combine_as_one_process():
    data = TensorDataset(np.arange(10.0)[:, None], np.arange(10))
    loader = DataLoader(data, batch_size=4)
    parts = [shard(loader, r, 3).sampler.index_array().tolist() for r in range(3)]
    assert parts == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    figures = [({"loss": np.mean(p), "accuracy": 1.0}, len(p)) for p in parts] + [({"loss": 99.0}, 0)]
    assert combine(figures) == pytest.approx({"loss": 4.5, "accuracy": 1.0}, abs=1e-15)


def test_distribute_shards_each_epoch_and_keeps_the_batch():
    data = TensorDataset(np.arange(10.0)[:, None], np.arange(10))
    shuffled = DataLoader(data, batch_size=2, shuffle=True, seed=0)
    loaders = [distribute(shuffled, seed=5, rank=r, world_size=2) for r in range(2)]
    assert all(ld.batch_size == 2 and ld.sampler.shuffle for ld in loaders)
    for epoch in (0, 1):
        for ld in loaders:
            ld.sampler.set_epoch(epoch)
        seen = sorted(int(i) for ld in loaders for _, y in ld for i in y.numpy())
        assert seen == list(range(10))
    ordered = distribute(DataLoader(data, batch_size=3), seed=0, rank=1, world_size=2)
    assert not ordered.sampler.shuffle and isinstance(DataLoader(data).sampler, SequentialSampler)
    with pytest.raises(ValueError, match="data-parallel training needs a DataLoader"):
        distribute([1, 2, 3], seed=0, rank=0, world_size=2)
