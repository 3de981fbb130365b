"""The GAN step (two optimizers, each reduced in its own before_optimizer_step) data-parallel: 2 ranks with
per-process batch B give, after two epochs, the discriminator's and the generator's weights and the training
losses of one process with batch 2B over the same samples and the same noise (float64, 1e-10; the generator's
batch norm synchronised, ``nn.SyncBatchNorm``), and every
rank's noise generator ends in the same state; the validation FID stand-in is computed on rank 0 alone and
broadcast.  The VAE on 2 ranks: the same weights on every rank, the validation image count added over the
ranks.  Then ``nabla train gan`` on 2 ranks and its resume on 1 process, and ``nabla train vae`` on 2 ranks
(skipped without mnist-5k)."""
import json

import numpy as np

from nabla.data import DataLoader, TensorDataset
from nabla.distributed.strategy import distribute
from nabla.train.tasks.generative import EpochLoader

from ..cli.helpers import MNIST5K, show, skip_unless_dataset
from .mpi_helpers import run_ranks
from .test_cli_ddp import mpi_nabla

RANKS_CODE = """
import numpy as np, nabla as nb
from nabla import comm, nn, optim
from nabla.data import DataLoader, DistributedSampler, TensorDataset
from nabla.models import build_model
from nabla.train import Trainer
from nabla.train.steps import GANStep
from nabla.distributed import DDPStrategy

strategy = DDPStrategy(bucket_cap_mb=0.0005)
r, n = strategy.rank, strategy.world_size
B = 3
rng = np.random.default_rng(0)
train = TensorDataset(rng.uniform(-1, 1, (5 * n * B, 1, 4, 4)), rng.integers(0, 3, 5 * n * B))
val = TensorDataset(rng.uniform(-1, 1, (7, 1, 4, 4)), rng.integers(0, 3, 7))
fid_calls = []

def fid(samples):  # stands for the validation FID: not a mean over the loader's images
    fid_calls.append(len(samples))
    return {"fid": float(np.mean(samples))}

def fit(world):
    nb.manual_seed(1 + (r if world > 1 else 0))  # setup broadcasts rank 0's weights
    m = build_model("gan", (1, 4, 4), 3, hidden=4, latent=3, dropout=0.0, conditional=True).double()
    if world > 1:  # G's batch norm: statistics over the ranks' 2B fakes, as one process's over its 2B
        m = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    sgd = lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9)  # Adam would magnify rounding
    step = GANStep(m, sgd(m.discriminator.parameters()), sgd(m.generator.parameters()), fid=fid,
                   eval_samples=5, seed=4)
    sampler = DistributedSampler(train, num_replicas=world, rank=0 if world == 1 else r, seed=3)
    trainer = Trainer(step, progress=False, strategy=strategy if world > 1 else None)
    trainer.fit(DataLoader(train, batch_size=B * (n if world == 1 else 1), sampler=sampler),
                DataLoader(val, batch_size=2), epochs=2)
    return m.state_dict(), trainer.history, step.rng.bit_generator.state

fid_calls.clear()
(mine, h, state), calls = fit(n), len(fid_calls)
ref, h_ref, _ = fit(1)
werr = max(float(np.abs(mine[k].numpy() - ref[k].numpy()).max()) for k in ref)
herr = max(abs(a - b) for k in ("d_loss", "g_loss", "d_real", "val_fid") for a, b in zip(h[k], h_ref[k]))
states = comm.all_gather_object(repr(state))
summary = comm.all_gather_object(f"weights {werr:.3e} history {herr:.3e} rows {len(h['val_fid'])} fid {calls}")
if r == 0:
    print("same rng", len(set(states)) == 1)
    print("\\n".join(f"rank {i} {t}" for i, t in enumerate(summary)), flush=True)
"""


def test_two_ranks_equal_one_process_with_twice_the_batch(tmp_path):
    out = run_ranks(2, RANKS_CODE, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "same rng True" in out.stdout, out.stdout
    lines = [line.split() for line in out.stdout.splitlines() if line.startswith("rank ")]
    assert len(lines) == 2, out.stdout
    for i, words in enumerate(lines):  # rank i weights W history H rows R fid C
        assert float(words[3]) < 1e-10 and float(words[5]) < 1e-10, out.stdout
        assert int(words[7]) == 2 and int(words[9]) == (2 if i == 0 else 0), out.stdout  # FID on rank 0 only


def test_distribute_keeps_the_epoch_loader():
    data = TensorDataset(np.arange(10.0)[:, None])
    wrapped = EpochLoader(DataLoader(data, batch_size=2, shuffle=True, seed=0), data)
    mine = distribute(wrapped, seed=5, rank=1, world_size=2)
    assert isinstance(mine, EpochLoader) and mine.loader is not wrapped.loader and len(mine) == 3
    mine.set_epoch(1)
    assert mine.loader.sampler.epoch == 1 and wrapped.loader.sampler is not mine.loader.sampler


GAN_TINY = ["gan", "--dataset", "mnist-5k", "--set", "hidden=8", "--set", "latent=8", "--quiet", "--no-download",
            "--batch-size", "16", "--eval-limit", "200"]


def test_nabla_train_gan_on_two_ranks_then_resumed_on_one(tmp_path):
    skip_unless_dataset(*MNIST5K)
    res = mpi_nabla(2, *GAN_TINY, "--max-steps", "4", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, show(res)
    assert "batch 16 per process x 2 processes = effective batch 32" in res.stdout, res.stdout
    assert [line[:4] for line in res.stdout.splitlines() if line.startswith("fid=")] == ["fid="], res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    assert {"last.safetensors", "samples.png", "test.json"} <= {p.name for p in (tmp_path / "run").iterdir()}
    assert "fid" in json.loads((tmp_path / "run" / "test.json").read_text())
    res = mpi_nabla(1, "--resume", "run/last.safetensors", *GAN_TINY[7:], "--max-steps", "6", cwd=tmp_path)
    assert res.returncode == 0, show(res)
    assert "written by 2 processes (effective batch 32); this run has 1 (effective batch 16)" in res.stdout, res.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"] == [4, 6]


VAE_CODE = """
import hashlib
import numpy as np, nabla as nb
from nabla import comm, optim
from nabla.data import DataLoader, DistributedSampler, TensorDataset
from nabla.models import build_model
from nabla.train import Trainer
from nabla.train.steps import VAEStep
from nabla.distributed import DDPStrategy

strategy = DDPStrategy()
r, n = strategy.rank, strategy.world_size
rng = np.random.default_rng(0)
train = TensorDataset(rng.uniform(0, 1, (8 * n, 1, 4, 4)), rng.integers(0, 3, 8 * n))
val = TensorDataset(rng.uniform(0, 1, (7, 1, 4, 4)), rng.integers(0, 3, 7))
nb.manual_seed(1 + r)  # setup broadcasts rank 0's weights
m = build_model("vae", (1, 4, 4), 3, hidden=5, latent=2)
step = VAEStep(m, optim.Adam(m.parameters(), lr=1e-2))
trainer = Trainer(step, progress=False, strategy=strategy)
trainer.fit(DataLoader(train, batch_size=2, sampler=DistributedSampler(train, seed=3)), DataLoader(val, batch_size=2),
            epochs=2)
digest = hashlib.sha256(b"".join(v.numpy().tobytes() for v in m.state_dict().values())).hexdigest()
digests = comm.all_gather_object(digest)
if r == 0:
    print("same weights", len(set(digests)) == 1, "val_images", trainer.history["val_images"], flush=True)
"""


def test_vae_on_two_ranks_keeps_every_rank_alike(tmp_path):
    out = run_ranks(2, VAE_CODE, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "same weights True val_images [7.0, 7.0]" in out.stdout, out.stdout


def test_nabla_train_vae_on_two_ranks(tmp_path):
    skip_unless_dataset(*MNIST5K)
    res = mpi_nabla(2, "vae", "--dataset", "mnist-5k", "--set", "hidden=16", "--set", "latent=4", "--quiet",
                    "--no-download", "--batch-size", "16", "--eval-limit", "100", "--max-steps", "4", "--out", "run",
                    cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, show(res)
    assert "x 2 processes = effective batch 32" in res.stdout, res.stdout
    assert [line.split()[0][:9] for line in res.stdout.splitlines() if line.startswith("neg_elbo=")] == ["neg_elbo="]
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["val_images"] == [400], history  # the whole validation tenth, not a shard's
