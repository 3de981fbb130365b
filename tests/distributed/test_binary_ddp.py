"""The binary task data-parallel.  ROC AUC and F1 are not means over samples: the ranks' logits are put
together and the figures computed from the whole split.  Without MPI: the shares of a loader give one
process's figures.  On 2 and 3 ranks (one launch each): N ranks with per-process batch B end with the weights
and the training and validation history of one process with batch N*B over the same samples (float64,
1e-10), and the sharded evaluation of a set that does not divide equals one process's.  Then ``nabla train
mlp --dataset mnist-5k-odd-even`` on 2 ranks (its printed test figures are ``nabla eval``'s of the
checkpoint), resumed on 1 process (skipped without mnist-5k)."""
import json

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data import DataLoader, TensorDataset
from nabla.train.steps.binary import BinaryStep

from ..cli.helpers import MNIST5K, nabla, show, skip_unless_dataset
from .mpi_helpers import run_ranks
from .test_cli_ddp import mpi_nabla


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 5))
    return TensorDataset(x, (x[:, 0] + rng.normal(size=n) > 0).astype(np.int64))


def test_shares_of_a_loader_give_one_process_figures():
    nb.manual_seed(0)
    step = BinaryStep(nn.Sequential(nn.Linear(5, 1, dtype=np.float64)), None)
    loader = DataLoader(_data(11, 1), batch_size=4)
    whole = step.evaluate(loader)
    parts = [step.evaluate_sums(loader, r, 3) for r in range(3)]
    assert [len(p["targets"]) for p in parts] == [4, 4, 3]
    got = step.figures_from_sums(step.add_sums(parts))
    assert got == pytest.approx(whole, rel=1e-12, abs=1e-12)
    assert 0 < whole["auc"] < 1 and 0 < whole["f1"] < 1  # not a trivial case
    share_aucs = [step.figures_from_sums(p)["auc"] for p in parts]
    assert abs(np.nanmean(share_aucs) - whole["auc"]) > 1e-6  # a mean of the ranks' AUCs would be wrong
    assert step.figures_from_sums(step.evaluate_sums(DataLoader(_data(2, 1), batch_size=4), 2, 3)) == {"loss": 0.0}


RANKS_CODE = """
import sys
import numpy as np, nabla as nb
from nabla import comm, nn, optim
from nabla.data import DataLoader, DistributedSampler, TensorDataset
from nabla.train import Trainer
from nabla.train.steps.binary import BinaryStep
from nabla.distributed import DDPStrategy

strategy = DDPStrategy(bucket_cap_mb=0.0005)
r, n = strategy.rank, strategy.world_size
B = 3

def data(size, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size, 5))
    return TensorDataset(x, (x[:, 0] + rng.normal(size=size) > 0).astype(np.int64))

train, val = data(4 * n * B, 0), data(13, 1)

def fit(world):
    nb.manual_seed(1 + (r if world > 1 else 0))  # setup broadcasts rank 0's weights
    m = nn.Sequential(nn.Linear(5, 6, dtype=np.float64), nn.Tanh(), nn.Linear(6, 1, dtype=np.float64))
    step = BinaryStep(m, optim.SGD(m.parameters(), lr=0.2, momentum=0.9))
    sampler = DistributedSampler(train, num_replicas=world, rank=0 if world == 1 else r, seed=3)
    trainer = Trainer(step, progress=False, strategy=strategy if world > 1 else None)
    trainer.fit(DataLoader(train, batch_size=B * (n if world == 1 else 1), sampler=sampler),
                DataLoader(val, batch_size=4), epochs=2)
    return step, m.state_dict(), trainer.history

step, mine, h = fit(n)
_, ref, h_ref = fit(1)
werr = max(float(np.abs(mine[k].numpy() - ref[k].numpy()).max()) for k in ref)
keys = ("loss", "accuracy", "val_loss", "val_auc", "val_f1", "val_precision", "val_recall", "val_accuracy")
herr = max(abs(a - b) for k in keys for a, b in zip(h[k], h_ref[k]))
sharded = strategy.evaluate(step, DataLoader(val, batch_size=5))
alone = step.evaluate(DataLoader(val, batch_size=5))
eerr = max(abs(sharded[k] - alone[k]) for k in alone)
summary = comm.all_gather_object(f"weights {werr:.3e} history {herr:.3e} eval {eerr:.3e} rows {len(h['val_auc'])} "
                                 f"auc {alone['auc']:.4f}")
if r == 0:
    print("\\n".join(f"rank {i} {t}" for i, t in enumerate(summary)), flush=True)
"""


@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_equal_one_process_with_the_whole_batch(ranks, tmp_path):
    out = run_ranks(ranks, RANKS_CODE, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line.split() for line in out.stdout.splitlines() if line.startswith("rank ")]
    assert len(lines) == ranks, out.stdout
    for words in lines:  # rank i weights W history H eval E rows R auc A
        assert float(words[3]) < 1e-10 and float(words[5]) < 1e-10 and float(words[7]) < 1e-10, out.stdout
        assert int(words[9]) == 2 and 0 < float(words[11]) < 1, out.stdout  # a non-trivial AUC


TINY = ["mlp", "--dataset", "mnist-5k-odd-even", "--set", "width=16", "--set", "depth=1", "--quiet", "--no-download",
        "--batch-size", "32"]


def test_nabla_train_on_two_ranks_then_resumed_on_one(tmp_path):
    skip_unless_dataset(*MNIST5K)
    res = mpi_nabla(2, *TINY, "--max-steps", "10", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, show(res)
    assert "batch 32 per process x 2 processes = effective batch 64" in res.stdout, res.stdout
    printed = [line for line in res.stdout.splitlines() if line.startswith("test (last weights): ")]
    assert len(printed) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["run"], res.stdout
    scores = printed[0][len("test (last weights): "):].split("  (training time")[0]
    ev = nabla("eval", "run/last.safetensors", "--no-download", cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"})
    assert ev.returncode == 0 and scores in ev.stdout, (scores, show(ev))  # AUC, F1... of the whole test split
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    assert f"ROC AUC {test['auc']:.4f}" in scores and test["baseline_auc"] == 0.5
    res = nabla("train", "--resume", "run/last.safetensors", "--max-steps", "14", "--quiet", "--no-download",
                cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"})
    assert res.returncode == 0, show(res)
    assert "written by 2 processes (effective batch 64); this run has 1 (effective batch 32)" in res.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"] == [10, 14]
