"""The tagging task data-parallel: the segmentation counts of the ranks' shares of a split add up to one
process's scores; a BiLSTM tagger trained on 2 ranks ends with the same weights on both, and the sharded
validation equals one process's; ``nabla train bilstm-tagger --dataset kjv-segment`` on 2 ranks resumes on
1 process (skipped without sword-text-kjv)."""
import json
import textwrap

import pytest

import nabla as nb
import nabla.train.tasks.tagging  # noqa: F401  (registers the task)
from nabla.data.text.segmentation import KJVSegment
from nabla.models import build_model
from nabla.train.steps.tagging import TaggingStep

from ..train.test_tagging import ToyTags
from .mpi_helpers import REPO, run_ranks
from .test_cli_ddp import mpi_nabla


def test_shards_counts_add_up_to_one_process_scores():
    nb.manual_seed(1)
    model = build_model("bilstm-tagger", (12,), 2, embed_dim=4, hidden_size=3)
    step = TaggingStep(model, None)
    val = ToyTags(n=17, seed=2)
    whole = step.evaluate(val)
    parts = [step.evaluate_sums(val, r, 3) for r in range(3)]
    assert sum(p["chars"] for p in parts) == int(val.lengths.sum())
    got = step.figures_from_sums(step.add_sums(parts))
    assert {k: got[k] for k in got if k != "loss"} == {k: whole[k] for k in whole if k != "loss"}
    assert got["loss"] == pytest.approx(whole["loss"], rel=1e-6)
    assert 0 < whole["word_f1"] < 1  # a random tagger: not a trivial case


RANKS_CODE = textwrap.dedent("""
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np, nabla as nb
from nabla import comm, optim
from nabla.models import build_model
from nabla.train import Trainer
from nabla.train.steps.batches import BucketBatches
from nabla.train.steps.tagging import TaggingStep
from nabla.distributed import DDPStrategy
from nabla.distributed.strategy import distribute
from tests.train.test_tagging import ToyTags

strategy = DDPStrategy(bucket_cap_mb=0.001)
r = strategy.rank
nb.manual_seed(1 + r)  # setup broadcasts rank 0's weights
model = build_model("bilstm-tagger", (12,), 2, embed_dim=4, hidden_size=3)
step = TaggingStep(model, optim.Adam(model.parameters(), lr=0.02))
train, val = ToyTags(n=40, seed=0), ToyTags(n=19, seed=1)
trainer = Trainer(step, progress=False, strategy=strategy)
trainer.fit(distribute(BucketBatches(train, 4, seed=3), seed=0), val, epochs=2)
flat = np.concatenate([p.data.ravel() for p in model.parameters()])
weights = comm.all_gather_object(flat)
spread = max(float(np.abs(w - weights[0]).max()) for w in weights)
sharded, alone = strategy.evaluate(step, val), step.evaluate(val)
same = all(sharded[k] == alone[k] for k in alone if k != "loss") and abs(sharded["loss"] - alone["loss"]) < 1e-6
if r == 0:
    print(f"steps {trainer.global_step} spread {spread:.1e} same {same} word_f1 {sharded['word_f1']:.4f}", flush=True)
""")


def test_two_ranks_end_with_the_same_weights_and_one_process_figures(tmp_path):
    res = run_ranks(2, RANKS_CODE, tmp_path, args=[REPO])
    assert res.returncode == 0, res.stdout + res.stderr
    words = res.stdout.split()
    assert words[:6] == ["steps", "10", "spread", "0.0e+00", "same", "True"], res.stdout  # 40 / 4 / 2 ranks x 2


TAG = ["bilstm-tagger", "--dataset", "kjv-segment", "--set", "embed_dim=4", "--set", "hidden_size=4", "--quiet",
       "--no-download", "--batch-size", "16", "--eval-limit", "50"]


@pytest.mark.skipif(not KJVSegment.is_present(), reason="kjv-segment needs sword-text-kjv")
def test_two_ranks_then_resumed_on_one(tmp_path):
    res = mpi_nabla(2, *TAG, "--max-steps", "6", "--out", "run", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
    assert "effective batch 32" in res.stdout and res.stdout.count("test word F1") == 1, res.stdout
    test = json.loads((tmp_path / "run" / "test.json").read_text())
    assert 0 <= test["test"]["word_f1"] <= 1
    one = mpi_nabla(1, "--resume", "run/last.safetensors", "--max-steps", "9", "--quiet", "--no-download",
                    cwd=tmp_path)
    assert one.returncode == 0 and "Traceback" not in one.stderr, one.stdout + one.stderr
    assert "written by 2 processes (effective batch 32); this run has 1 (effective batch 16)" in one.stdout
    assert json.loads((tmp_path / "run" / "history.json").read_text())["step"][-1] == 9
