"""The autoregressive task (PixelCNN) data-parallel.  On 2 ranks (one launch): the weights and the training
and validation history of one process with batch 2B over the same images (float64, 1e-10), and a sharded
evaluation of 7 images whose NLL and bits/dim are one process's (each rank's mean weighted by its image count)
and whose image count is the whole set's.  Then ``nabla train pixelcnn --dataset binarized-mnist-5k`` on 2 ranks:
one report, rank 0's files (``samples.png``), the printed test NLL that of ``nabla eval``, the validation
over every image; resumed on 1 process (skipped without mnist-5k)."""
import json

from ..cli.helpers import MNIST5K, nabla, show, skip_unless_dataset
from .mpi_helpers import run_ranks
from .test_cli_ddp import mpi_nabla

RANKS_CODE = """
import numpy as np, nabla as nb
from nabla import comm, optim
from nabla.data import DataLoader, DistributedSampler, TensorDataset
from nabla.models import build_model
from nabla.train import Trainer
from nabla.train.steps import AutoregressiveStep
from nabla.distributed import DDPStrategy

strategy = DDPStrategy(bucket_cap_mb=0.0005)
r, n = strategy.rank, strategy.world_size
B = 2
rng = np.random.default_rng(0)
train = TensorDataset((rng.uniform(size=(4 * n * B, 1, 4, 4)) < 0.4).astype(np.float64), np.zeros(4 * n * B, np.int64))
val = TensorDataset((rng.uniform(size=(7, 1, 4, 4)) < 0.4).astype(np.float64), np.zeros(7, np.int64))

def fit(world):
    nb.manual_seed(1 + (r if world > 1 else 0))  # setup broadcasts rank 0's weights
    m = build_model("pixelcnn", (1, 4, 4), 1, hidden=4, blocks=1).double()
    step = AutoregressiveStep(m, optim.SGD(m.parameters(), lr=0.01, momentum=0.9))
    sampler = DistributedSampler(train, num_replicas=world, rank=0 if world == 1 else r, seed=3)
    trainer = Trainer(step, progress=False, strategy=strategy if world > 1 else None)
    trainer.fit(DataLoader(train, batch_size=B * (n if world == 1 else 1), sampler=sampler),
                DataLoader(val, batch_size=3), epochs=2)
    return step, m.state_dict(), trainer.history

step, mine, h = fit(n)
_, ref, h_ref = fit(1)
werr = max(float(np.abs(mine[k].numpy() - ref[k].numpy()).max()) for k in ref)
herr = max(abs(a - b) for k in ("loss", "val_nll", "val_bits_per_dim", "val_images") for a, b in zip(h[k], h_ref[k]))
sharded, alone = strategy.evaluate(step, DataLoader(val, batch_size=2)), step.evaluate(DataLoader(val, batch_size=2))
eerr = max(abs(sharded[k] - alone[k]) for k in ("nll", "bits_per_dim", "loss"))
summary = comm.all_gather_object(f"weights {werr:.3e} history {herr:.3e} eval {eerr:.3e} images {sharded['images']} "
                                 f"rows {len(h['val_nll'])}")
if r == 0:
    print("\\n".join(f"rank {i} {t}" for i, t in enumerate(summary)), flush=True)
"""


def test_two_ranks_equal_one_process_with_the_whole_batch(tmp_path):
    out = run_ranks(2, RANKS_CODE, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line.split() for line in out.stdout.splitlines() if line.startswith("rank ")]
    assert len(lines) == 2, out.stdout
    for words in lines:  # rank i weights W history H eval E images I rows R
        assert float(words[3]) < 1e-10 and float(words[5]) < 1e-10 and float(words[7]) < 1e-10, out.stdout
        assert float(words[9]) == 7 and words[11] == "2", out.stdout


TINY = ["pixelcnn", "--dataset", "binarized-mnist-5k", "--set", "hidden=4", "--set", "blocks=1", "--quiet",
        "--no-download", "--batch-size", "8", "--eval-limit", "40"]


def _figures(text: str) -> list:
    return [line for line in text.splitlines() if line.startswith("nll=")]


def test_nabla_train_on_two_ranks_then_resumed_on_one(tmp_path):
    skip_unless_dataset(*MNIST5K)
    res = mpi_nabla(2, *TINY, "--max-steps", "2", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, show(res)
    assert "batch 8 per process x 2 processes = effective batch 16" in res.stdout, res.stdout
    assert len(_figures(res.stdout)) == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["run"], res.stdout
    assert {"last.safetensors", "samples.png", "test.json"} <= {p.name for p in (tmp_path / "run").iterdir()}
    ev = nabla("eval", "run/last.safetensors", "--no-download", "--eval-limit", "40", cwd=tmp_path,
               env={"OPENBLAS_NUM_THREADS": "1"})
    assert ev.returncode == 0 and _figures(ev.stdout) == _figures(res.stdout), show(ev) + res.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["val_images"] == [400]  # not a shard's
    res = nabla("train", "--resume", "run/last.safetensors", "--max-steps", "3", "--quiet", "--no-download",
                "--eval-limit", "40", cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"})
    assert res.returncode == 0, show(res)
    assert "written by 2 processes (effective batch 16); this run has 1 (effective batch 8)" in res.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"] == [2, 3]
