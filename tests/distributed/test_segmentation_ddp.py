"""The segmentation task data-parallel: mIoU and pixel accuracy come from the confusion matrix, so the ranks
add their matrices (never their mIoUs).  Without MPI: the shares of an evaluation add up to one process's
figures.  On 3 ranks (one launch): the weights and the training and validation history of one process with
batch 3B (float64, 1e-10; cross-entropy alone and no ignored pixels, so that every rank's loss is a mean over
as many pixels: the ranks' gradients are averaged, as in DDP), and a sharded evaluation (with ignored pixels
and the Dice term) equal to one process's.  Then ``nabla train unet --dataset mnist-scenes`` on
2 ranks (its printed mIoU line is ``nabla eval``'s of the checkpoint), resumed on 1 process."""
import json

import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.data.datasets.scenes import MNISTScenes
from nabla.train.steps.scene_batches import SceneBatches
from nabla.train.steps.segmentation import SegmentationStep

from ..cli.helpers import nabla, show, skip_unless_dataset
from .mpi_helpers import REPO, run_ranks
from .test_cli_ddp import mpi_nabla
from .toy_scenes import ToyScenes


def test_sums_of_the_shares_give_one_process_figures():
    nb.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, dtype=np.float64))
    step = SegmentationStep(model, None, 3)
    val = SceneBatches(ToyScenes(13, 1), 2, shuffle=False)
    whole = step.evaluate(val, per_class=True)
    sums = step.add_sums([step.evaluate_sums(val, r, 3) for r in range(3)])
    got = step.figures_from_sums(sums, per_class=True)
    exact = ("miou", "miou_digits", "pixel_acc", "iou_worst", "worst_class", "iou_per_class", "images")
    assert {k: got[k] for k in exact} == {k: whole[k] for k in exact} and whole["images"] == 13
    assert got["loss"] == pytest.approx(whole["loss"], rel=1e-12) and 0 < whole["miou"] < 1
    assert "iou_per_class" not in step.evaluate(val)
    with pytest.raises(ValueError, match="shard method"):
        step.evaluate_sums(list(val), 0, 2)


RANKS_CODE = """
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

strategy = DDPStrategy(bucket_cap_mb=0.0005)
r, n = strategy.rank, strategy.world_size
B = 2
train, val = ToyScenes(4 * n * B, 0, ignored=0.0), ToyScenes(13, 1)

def fit(world):
    nb.manual_seed(1 + (r if world > 1 else 0))  # setup broadcasts rank 0's weights
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, dtype=np.float64), nn.Tanh(),
                      nn.Conv2d(4, 3, 1, dtype=np.float64))
    step = SegmentationStep(m, optim.SGD(m.parameters(), lr=0.5, momentum=0.9), 3)
    trainer = Trainer(step, progress=False, strategy=strategy if world > 1 else None)
    loader = SceneBatches(train, B * (n if world == 1 else 1), seed=3)
    trainer.fit(distribute(loader, 0, r, n) if world > 1 else loader,
                SceneBatches(val, 2, shuffle=False), epochs=2)
    return step, m.state_dict(), trainer.history

step, mine, h = fit(n)
_, ref, h_ref = fit(1)
werr = max(float(np.abs(mine[k].numpy() - ref[k].numpy()).max()) for k in ref)
keys = ("loss", "val_loss", "val_miou", "val_pixel_acc", "val_images")
herr = max(abs(a - b) for k in keys for a, b in zip(h[k], h_ref[k]))
val_batches = SceneBatches(val, 3, shuffle=False)
step.dice_weight = 0.5  # a ratio over each batch: the shares score one process's batches
sharded, alone = strategy.evaluate(step, val_batches), step.evaluate(val_batches)
eerr = max(abs(sharded[k] - alone[k]) for k in alone if k != "images_per_s")
summary = comm.all_gather_object(f"weights {werr:.3e} history {herr:.3e} eval {eerr:.3e} rows {len(h['val_miou'])} "
                                 f"miou {alone['miou']:.4f} images {sharded['images']}")
if r == 0:
    print("\\n".join(f"rank {i} {t}" for i, t in enumerate(summary)), flush=True)
"""


def test_three_ranks_equal_one_process_with_the_whole_batch(tmp_path):
    out = run_ranks(3, RANKS_CODE, tmp_path, args=[REPO])
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line.split() for line in out.stdout.splitlines() if line.startswith("rank ")]
    assert len(lines) == 3, out.stdout
    for words in lines:  # rank i weights W history H eval E rows R miou M images I
        assert float(words[3]) < 1e-10 and float(words[5]) < 1e-10 and float(words[7]) < 1e-10, out.stdout
        assert int(words[9]) == 2 and 0 < float(words[11]) < 1 and words[13] == "13", out.stdout


TINY = ["unet", "--dataset", "mnist-scenes", "--set", "width=2", "--set", "depth=1", "--quiet", "--no-download",
        "--batch-size", "4", "--eval-limit", "20"]


def _figures(text: str) -> str:
    line = [ln for ln in text.splitlines() if ln.startswith("miou=")]
    assert len(line) == 1, text
    return line[0].split(" images_per_s")[0]


def test_nabla_train_on_two_ranks_then_resumed_on_one(tmp_path):
    skip_unless_dataset("mnist-scenes", MNISTScenes.install_hint())
    res = mpi_nabla(2, *TINY, "--max-steps", "2", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, show(res)
    assert "batch 4 per process x 2 processes = effective batch 8" in res.stdout, res.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"], res.stdout
    ev = nabla("eval", "run/last.safetensors", "--no-download", "--eval-limit", "20", cwd=tmp_path,
               env={"OPENBLAS_NUM_THREADS": "1"})
    assert ev.returncode == 0 and _figures(ev.stdout) == _figures(res.stdout), show(ev) + res.stdout
    assert json.loads((tmp_path / "run" / "test.json").read_text())["images"] == 20
    assert json.loads((tmp_path / "run" / "history.json").read_text())["val_images"] == [1000]  # every rank's share
    res = nabla("train", "--resume", "run/last.safetensors", "--max-steps", "3", "--quiet", "--no-download",
                "--eval-limit", "20", cwd=tmp_path, env={"OPENBLAS_NUM_THREADS": "1"})
    assert res.returncode == 0, show(res)
    assert "written by 2 processes (effective batch 8); this run has 1 (effective batch 4)" in res.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"] == [2, 3]
