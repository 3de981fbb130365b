"""Text classification data-parallel: the length buckets' shards (every rank draws the same epoch and keeps
batches r, r+N, ...; the tail dropped; evaluation shards cover every batch once), the figures from summed
confusion counts equal to one process's (macro-F1 from summed tp/fp/fn, not a mean of F1s), and
``nabla train text-cnn --dataset kjv-testament`` on 2 ranks: the printed validation and test accuracy equal
a single-process evaluation of the checkpoint, and the run resumes on 1 process (skipped without
sword-text-kjv)."""
import json

import numpy as np
import pytest

from nabla.data.text.verses import KJVBooks
from nabla.distributed.strategy import distribute
from nabla.train import run as runs
from nabla.train.metrics import accuracy, precision_recall_f1
from nabla.train.steps.batches import BucketBatches
from nabla.train.steps.sharding import evaluation_share as shard
from nabla.train.steps.text_classification import TextClassificationStep

from .mpi_helpers import run_ranks
from .test_cli_ddp import mpi_nabla

RANKS_CODE = """
import numpy as np, nabla as nb
from nabla import comm, optim
from nabla.models import build_model
from nabla.train import Trainer
from nabla.train.steps.batches import BucketBatches
from nabla.train.steps.text_classification import TextClassificationStep
from nabla.distributed import DDPStrategy
from nabla.distributed.strategy import distribute

class Verses:  # sample i: lengths 2..10 of token ids from its label's half of a 12-word vocabulary
    def __init__(self, n, seed):
        rng = np.random.default_rng(seed)
        self.lengths, self.labels = rng.integers(2, 11, n), rng.integers(0, 3, n)
        self.tokens = rng.integers(1, 6, (n, 10)) + 6 * (self.labels[:, None] == 2)
    def get_batch(self, idx):
        idx = np.asarray(idx)
        width = self.lengths[idx].max()
        tok = np.where(np.arange(width)[None, :] < self.lengths[idx, None], self.tokens[idx, :width], 0)
        return tok, self.lengths[idx], self.labels[idx]

strategy = DDPStrategy(bucket_cap_mb=0.001)
r = strategy.rank
nb.manual_seed(1 + r)  # setup broadcasts rank 0's weights
model = build_model("text-cnn", (12,), 3, embed_dim=6, num_filters=3, widths="2", dropout=0.0)
step = TextClassificationStep(model, optim.Adam(model.parameters(), lr=0.01))
train = distribute(BucketBatches(Verses(70, 0), 4, seed=3), seed=0)
val = BucketBatches(Verses(45, 1), 8, shuffle=False)
trainer = Trainer(step, progress=False, strategy=strategy)
trainer.fit(train, val, epochs=2)
flat = np.concatenate([p.data.ravel() for p in model.parameters()])
weights = comm.all_gather_object(flat)
spread = max(float(np.abs(w - weights[0]).max()) for w in weights)
sharded, alone = strategy.evaluate(step, val), step.evaluate(val)
same = all(sharded[k] == alone[k] for k in ("accuracy", "macro_f1")) and abs(sharded["loss"] - alone["loss"]) < 1e-6
figures = comm.all_gather_object((sharded["accuracy"], sharded["macro_f1"]))
if r == 0:
    print(f"steps {trainer.global_step} spread {spread:.1e} same {same} figures {len(set(figures))} "
          f"history {len(trainer.history['val_accuracy'])} acc {sharded['accuracy']:.4f}", flush=True)
"""


class _Ragged:
    """A stand-in text set: 23 samples of lengths 1..9, label i % 3."""
    lengths = np.arange(23) % 9 + 1

    def get_batch(self, idx):
        idx = np.asarray(idx)
        tok = (np.arange(self.lengths.max())[None, :] < self.lengths[idx, None]).astype(np.int64)
        return tok[:, :self.lengths[idx].max()], self.lengths[idx], idx % 3


def _labels(loader):
    return [b[2].data.tolist() for b in loader]


def _ids(loader):
    return [(b[1].data * 100 + b[2].data).tolist() for b in loader]  # enough to tell the batches apart


def test_training_shards_take_every_nth_batch_of_the_same_epoch_and_drop_the_tail():
    whole = BucketBatches(_Ragged(), 3, seed=5)
    ranks = [distribute(BucketBatches(_Ragged(), 3, seed=5), seed=0, rank=r, world_size=2) for r in range(2)]
    assert len(whole) == 8 and [len(p) for p in ranks] == [4, 4]
    for _ in range(2):  # two epochs: the generators move on together
        state = whole.state_dict()
        assert all(json.dumps(p.state_dict()) == json.dumps(state) for p in ranks)  # a checkpoint fits any rank
        epoch = _ids(whole)
        parts = [_ids(p) for p in ranks]
        assert parts[0] == epoch[0:8:2] and parts[1] == epoch[1:8:2]
    three = [BucketBatches(_Ragged(), 3, seed=5).shard(r, 3) for r in range(3)]
    assert [len(p) for p in three] == [2, 2, 2]  # 8 batches: the last 2 dropped, every rank 2 steps
    with pytest.raises(ValueError, match="rank must be in"):
        whole.shard(2, 2)


def test_evaluation_shards_cover_every_sorted_batch_once():
    whole = BucketBatches(_Ragged(), 4, shuffle=False)
    parts = [shard(whole, r, 3) for r in range(3)]
    assert sum((_ids(p) for p in parts), []) == _ids(whole) and sum(len(p) for p in parts) == len(whole)


def test_figures_from_summed_confusion_counts_equal_one_process():
    rng = np.random.default_rng(0)
    logits, labels = rng.normal(size=(41, 4)), rng.integers(0, 4, 41)
    labels[:5] = 3  # class 3 predicted rarely: per-rank F1s would differ from the whole's

    def sums(lo, la):
        from nabla.train.metrics import confusion_matrix
        return {"loss_sum": 2.0 * len(la), "n": len(la),
                "confusion": confusion_matrix(lo.argmax(1), la, num_classes=4) if len(la) else None}

    cut = [0, 7, 7, 41]  # one empty shard
    parts = [sums(logits[a:b], labels[a:b]) for a, b in zip(cut, cut[1:])]
    got = TextClassificationStep.figures_from_sums(TextClassificationStep.add_sums(parts))
    assert got["accuracy"] == accuracy(logits, labels) and got["loss"] == 2.0
    assert got["macro_f1"] == pytest.approx(precision_recall_f1(logits, labels, 4)[2], abs=1e-15)
    mean_f1 = np.mean([TextClassificationStep.figures_from_sums(p)["macro_f1"] for p in parts if p["n"]])
    assert abs(mean_f1 - got["macro_f1"]) > 1e-3  # the mean of the shards' F1s would be wrong


def test_two_ranks_end_with_the_same_weights_and_one_process_figures(tmp_path):
    res = run_ranks(2, RANKS_CODE, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    words = res.stdout.split()
    # 70 samples in batches of 4: 18 batches, 9 a rank each epoch
    assert words[:8] == ["steps", "18", "spread", "0.0e+00", "same", "True", "figures", "1"], res.stdout
    assert words[9] == "2" and 0 < float(words[11]) <= 1, res.stdout


TEXT = ["text-cnn", "--dataset", "kjv-testament", "--set", "embed_dim=8", "--set", "num_filters=4",
        "--set", "dropout=0", "--quiet", "--no-download", "--batch-size", "32", "--eval-limit", "300"]


@pytest.mark.skipif(not KJVBooks.is_present(), reason=f"needs sword-text-kjv ({KJVBooks.install_hint()})")
def test_two_ranks_match_one_process_evaluation_and_resume_on_one(tmp_path):
    res = mpi_nabla(2, *TEXT, "--max-steps", "12", "--eval-every", "12", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    assert "effective batch 64" in res.stdout, res.stdout
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    printed = [line for line in res.stdout.splitlines() if line.startswith("test accuracy")]
    assert len(printed) == 1 and f"{test['accuracy'] * 100:.2f}%" in printed[0], res.stdout
    evaluated = runs.evaluate(tmp_path / "run" / "last.safetensors", eval_limit=300, echo=lambda _: None)
    assert evaluated["accuracy"] == test["accuracy"] and evaluated["macro_f1"] == test["macro_f1"]
    one = mpi_nabla(1, "--resume", "run/last.safetensors", "--max-steps", "16", "--quiet", "--no-download",
                    cwd=tmp_path)
    assert one.returncode == 0 and "Traceback" not in one.stderr, one.stdout + one.stderr
    assert "written by 2 processes (effective batch 64); this run has 1 (effective batch 32)" in one.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"] == [12, 16]
