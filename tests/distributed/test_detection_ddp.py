"""Detection data-parallel: the scene batches' training shards (DistributedSampler's rule on the loader's own
epoch order: the ranks' b-th batches together are one process's b-th batch of N*B) and evaluation shards
(every batch once, in order); mAP from the joined shards' detections equal to one process's (in one process,
and through ``DDPStrategy.evaluate`` on 2 ranks), with a two-stage detector's proposal figures riding in the
same sums for the final report; YOLO on 2 ranks x B equal to one process x 2B over the same
scenes (float64, batch norm synchronised, 1e-10); Faster R-CNN and the sliding-window detector on 2 ranks:
the same weights, each rank its own sampling draws while nabla's global generator stays the same on every
rank (a detector without samplers draws nothing from it); ``nabla train yolo`` on 2 ranks: the printed test
figures equal ``nabla eval`` of the checkpoint in one process, the validation figures in its history a
one-process evaluation of the checkpoint."""
import json
from types import SimpleNamespace

import numpy as np
import pytest

import nabla as nb
from nabla import backend
from nabla.data.datasets import MNISTScenes
from nabla.distributed.strategy import distribute
from nabla.models import build_model
from nabla.train import run as runs
from nabla.train.steps.detection import DetectionStep, proposal_figures
from nabla.train.steps.scene_batches import SceneBatches
from nabla.train.steps.sharding import evaluation_share as shard

from ..cli.helpers import show
from .mpi_helpers import run_ranks
from .test_cli_ddp import mpi_nabla


class _Scenes:
    """A stand-in scene set of ``n`` items: item i's image is filled with i, its one box has label i % 10."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def get_batch(self, idx):
        idx = np.asarray(idx)
        images = np.broadcast_to(idx[:, None, None, None], (len(idx), 1, 2, 2)).astype(np.float32)
        return images, [{"boxes": np.array([[0, 0, 1, 1]], np.float32), "labels": np.array([i % 10])} for i in idx]


def _ids(loader) -> list:
    return [b[0].data[:, 0, 0, 0].astype(int).tolist() for b in loader]


def test_training_shards_split_each_batch_of_one_process_with_n_times_the_batch():
    whole = SceneBatches(_Scenes(12), 6, seed=5)
    ranks = [distribute(SceneBatches(_Scenes(12), 3, seed=5), seed=0, rank=r, world_size=2) for r in range(2)]
    for epoch in range(2):  # set_epoch: a new order, the same on every rank
        for loader in [whole] + ranks:
            loader.set_epoch(epoch)
        epoch_ids, parts = _ids(whole), [_ids(p) for p in ranks]
        assert [len(p) for p in parts] == [2, 2]
        assert [sorted(a + b) for a, b in zip(*parts)] == [sorted(b) for b in epoch_ids]
    three = [SceneBatches(_Scenes(11), 2, seed=5).shard(r, 3) for r in range(3)]  # 11 = 3 * 4 - 1: one repeat
    ids = [sum(_ids(p), []) for p in three]
    assert [len(p) for p in three] == [2, 2, 2] and [len(i) for i in ids] == [4, 4, 4]
    assert sorted(set(sum(ids, []))) == list(range(11))
    with pytest.raises(ValueError, match="rank must be in"):
        whole.shard(2, 2)
    with pytest.raises(ValueError, match="already a shard"):
        ranks[0].shard(0, 2)


def test_evaluation_shards_cover_every_batch_once_in_order():
    whole = SceneBatches(_Scenes(10), 3, shuffle=False)
    parts = [shard(whole, r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [2, 1, 1]
    assert sum((_ids(p) for p in parts), []) == _ids(whole)


def test_a_detector_without_samplers_leaves_the_global_generator_as_one_process_does():
    nb.manual_seed(0)
    step = DetectionStep(build_model("yolo", (1, 64, 64), 10, widths="4,8,8"), None)
    step.trainer = SimpleNamespace(strategy=SimpleNamespace(rank=1, world_size=2))
    before = repr(backend.get_rng_state())
    assert step._rank_generators() == [] and repr(backend.get_rng_state()) == before


@pytest.fixture(scope="module")
def valid():
    return MNISTScenes(split="valid", download=True)


def test_map_from_joined_shards_equals_one_process(valid):
    nb.manual_seed(0)
    model = build_model("yolo", (1, 64, 64), 10, widths="4,8,8")
    step = DetectionStep(model, None)
    loader = SceneBatches(valid, 4, shuffle=False, limit=14)
    alone = step.evaluate(loader, per_class=True)
    parts = [step.evaluate_sums(loader, r, 3) for r in range(3)]
    assert [p["images"] for p in parts] == [8, 4, 2]
    joined = step.figures_from_sums(step.add_sums(parts), per_class=True)
    assert alone["map_50"] > 0 and set(joined) == set(alone)
    assert all(joined[k] == alone[k] for k in alone if k != "images_per_s")
    assert "map_per_class" not in step.evaluate(loader)  # the training history keeps numbers only
    with pytest.raises(ValueError, match="shard method"):
        step.evaluate_sums(list(loader), 0, 2)


def test_proposals_ride_in_the_joined_shards_for_the_final_report(valid):
    nb.manual_seed(0)
    model = build_model("faster-rcnn", (1, 64, 64), 10, widths="4,8,8,8", representation_size=16)
    step = DetectionStep(model, None)
    loader = SceneBatches(valid, 4, shuffle=False, limit=10)
    assert "proposals" not in step.evaluate_sums(loader)  # validation: detections only
    step.per_class = step.proposals = True  # what the final report sets around trainer.evaluate
    alone = step.evaluate(loader)
    assert {"map_per_class", "proposals_per_image", "proposal_recall_50"} <= set(alone)
    assert alone["proposals_per_image"] > 0
    assert {k: alone[k] for k in ("proposals_per_image", "proposal_recall_50")} == proposal_figures(model, loader)
    joined = step.figures_from_sums(step.add_sums([step.evaluate_sums(loader, r, 3) for r in range(3)]))
    assert set(joined) == set(alone) and all(joined[k] == alone[k] for k in alone if k != "images_per_s")


RANKS_CODE = """
import numpy as np, nabla as nb
from nabla import backend, comm, nn, optim
from nabla.data.datasets import MNISTScenes
from nabla.models import build_model
from nabla.train import Trainer
from nabla.train.steps.detection import DetectionStep
from nabla.train.steps.scene_batches import SceneBatches
from nabla.distributed import DDPStrategy
from nabla.distributed.strategy import distribute

strategy = DDPStrategy(bucket_cap_mb=0.001)
r, n = strategy.rank, strategy.world_size
B = 2
train = MNISTScenes(train=True, download=True, seed=0)

def fit_yolo(world):  # one process: batch n*B over the same scenes; its batch norm over n*B as SyncBatchNorm's
    nb.manual_seed(1 + (r if world > 1 else 0))  # setup broadcasts rank 0's weights
    m = build_model("yolo", (1, 64, 64), 10, widths="4,8,8").double()
    if world > 1:
        m = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    step = DetectionStep(m, optim.SGD(m.parameters(), lr=0.01, momentum=0.9))
    whole = SceneBatches(train, B * (n if world == 1 else 1), seed=3, limit=3 * n * B)
    trainer = Trainer(step, progress=False, strategy=strategy if world > 1 else None)
    trainer.fit(distribute(whole, seed=0) if world > 1 else whole, epochs=2)
    return m.state_dict(), trainer.history, trainer.global_step

mine, h, steps = fit_yolo(n)
ref, h_ref, _ = fit_yolo(1)
werr = max(float(np.abs(mine[k].numpy() - ref[k].numpy()).max()) for k in ref)
lerr = max(abs(a - b) for a, b in zip(h["loss"], h_ref["loss"]))
lines = [f"yolo weights {werr:.3e} loss {lerr:.3e} steps {steps}"]

val = SceneBatches(MNISTScenes(split="valid", download=True), 4, shuffle=False, limit=10)
for name, options in (("faster-rcnn", dict(widths="4,8,8,8", representation_size=16)),
                      ("sliding-window", dict(widths="4,8", representation_size=16))):
    nb.manual_seed(1)  # as nabla train: the same seed on every rank
    m = build_model(name, (1, 64, 64), 10, **options)
    step = DetectionStep(m, optim.SGD(m.parameters(), lr=0.01))
    Trainer(step, progress=False, strategy=strategy).fit(distribute(SceneBatches(train, 2, seed=3, limit=4 * n),
                                                                    seed=0), epochs=1)
    flat = np.concatenate([p.data.ravel() for p in m.parameters()])
    spread = max(float(np.abs(w - flat).max()) for w in comm.all_gather_object(flat))
    states = comm.all_gather_object(repr(backend.get_rng_state()))
    draws = comm.all_gather_object(step._rank_generators()[0].generator.random())  # this step's, per rank
    sharded, alone = strategy.evaluate(step, val), step.evaluate(val)
    same = all(sharded[k] == alone[k] for k in alone if k != "images_per_s")
    lines.append(f"{name} spread {spread:.1e} same_rng {len(set(states)) == 1} own_draws {len(set(draws)) == n} "
                 f"same_map {same} images {sharded['images']}")
lines = comm.all_gather_object(lines)
if r == 0:
    print("\\n".join(f"rank {i} {t}" for i, part in enumerate(lines) for t in part), flush=True)
"""


def test_two_ranks_train_detectors_as_one_process(tmp_path):
    out = run_ranks(2, RANKS_CODE, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = [line.split() for line in out.stdout.splitlines() if line.startswith("rank ")]
    assert len(lines) == 6, out.stdout
    for words in lines:
        if words[2] == "yolo":  # rank R yolo weights W loss L steps S
            assert float(words[4]) < 1e-10 and float(words[6]) < 1e-10 and words[8] == "6", out.stdout
        else:  # rank R NAME spread S same_rng T own_draws T same_map T images 10
            assert words[3:] == ["spread", "0.0e+00", "same_rng", "True", "own_draws", "True", "same_map", "True",
                                 "images", "10"], out.stdout


YOLO = ["yolo", "--dataset", "mnist-scenes", "--set", "widths=4,8,8", "--set", "score_thresh=0.05",  # few boxes:
        "--set", "detections_per_img=5", "--quiet", "--batch-size", "4", "--eval-limit", "20"]  # a quick mAP


def test_nabla_train_yolo_on_two_ranks_prints_one_process_figures(tmp_path):
    MNISTScenes(split="test", download=True)  # the splits are there before the ranks look
    res = mpi_nabla(2, *YOLO, "--max-steps", "2", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, show(res)
    assert res.stdout.count("training yolo") == 1 and "x 2 processes = effective batch 8" in res.stdout, res.stdout
    printed = [line for line in res.stdout.splitlines() if line.startswith("map=")]
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    assert len(printed) == 1 and printed[0].startswith(f"map={test['map']:.4f} map_50={test['map_50']:.4f}")
    assert test["images"] == 20 and len(test["map_per_class"]) == len(test["classes"])
    evaluated = runs.evaluate(tmp_path / "run" / "last.safetensors", eval_limit=20, echo=lambda _: None)
    assert {k: v for k, v in evaluated.items() if k != "images_per_s"} == \
        {k: test[k] for k in evaluated if k != "images_per_s"}
    model = runs.rebuild_from_checkpoint(tmp_path / "run" / "last.safetensors")[0]  # the printed validation mAP
    val = DetectionStep(model, None).evaluate(SceneBatches(MNISTScenes(split="valid", download=True), 50,
                                                           shuffle=False))
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert all(history[f"val_{k}"] == [val[k]] for k in ("map", "map_50", "map_75", "mar_100")), (history, val)
