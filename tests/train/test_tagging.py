"""Sequence labelling through the run layer: the tagging step, its batches and evaluation, a short real run
on kjv-segment that beats the constant taggers, and `nabla eval` of its checkpoint."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd.tensor import from_numpy
from nabla.data.text.segmentation import KJVSegment
from nabla.metrics.word_segmentation import segmentation_scores
from nabla.models import model_names
from nabla.train import run as runs
from nabla.train.steps.tagging import TagBatches, TaggingStep, evaluate_tagger, predict_tags

if "bilstm-tagger" not in model_names():
    import nabla.models.tagger  # noqa: F401  (registers the model where nabla.models does not yet)
import nabla.train.tasks.tagging  # noqa: F401,E402  (registers the task)


class ToyTags:
    """Random token sequences tagged 1 where the token is even: the tagging data set interface."""

    def __init__(self, n=23, seed=0):
        rng = np.random.default_rng(seed)
        self.lengths = rng.integers(1, 12, n).astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.ids = rng.integers(4, 12, int(self.lengths.sum())).astype(np.int64)
        self.tags = (self.ids % 2 == 0).astype(np.int64)

    def __len__(self):
        return len(self.lengths)

    def get_batch(self, idx):
        idx = np.asarray(idx)
        T = int(self.lengths[idx].max())
        pos = np.arange(T)
        real = pos < self.lengths[idx][:, None]
        take = np.minimum(self.offsets[idx][:, None] + pos, len(self.ids) - 1)
        return (np.where(real, self.ids[take], 0), self.lengths[idx].copy(), np.where(real, self.tags[take], -100))


class ParityOracle(nn.Module):
    """Logits that say "even" for even tokens: the right tags, whatever the batch order."""

    def forward(self, tokens, lengths=None):
        even = (tokens.data % 2 == 0).astype(np.float32)
        return from_numpy(np.stack([1 - even, even], -1))


def test_predictions_land_in_sample_order_and_score_perfectly():
    ds = ToyTags()
    tags, loss_sum, count = predict_tags(ParityOracle(), ds, batch_size=4)   # batches sorted by length
    assert np.array_equal(tags, ds.tags) and count == int(ds.lengths.sum())
    res = evaluate_tagger(ParityOracle(), ds, limit=10, batch_size=3)
    assert res["accuracy"] == res["f1"] == res["word_f1"] == 1.0 and res["chars"] == int(ds.lengths[:10].sum())


def test_step_learns_the_toy_task_and_its_batches_resume():
    nb.manual_seed(0)
    ds = ToyTags(n=200)
    from nabla.models.tagger import BiLSTMTagger
    model = BiLSTMTagger(12, 2, embed_dim=8, hidden_size=8)
    step = TaggingStep(model, nb.optim.Adam(model.parameters(), lr=0.03))
    loader = TagBatches(ds, 16, seed=1)
    state = loader.state_dict()
    first = [b[1].data.tolist() for b in loader]
    loader.load_state_dict(state)
    assert [b[1].data.tolist() for b in loader] == first and len(loader) == len(first)
    for _ in range(3):
        logs = [step.train_step(b) for b in loader]
    assert logs[-1]["accuracy"] > 0.95 and logs[-1]["batch_size"] <= 16 * 11
    res = step.evaluate(ds)
    assert res["accuracy"] > 0.95 and set(res) == set(TaggingStep.REPORTED)


def _need_kjv():
    if not KJVSegment.is_present():
        pytest.skip(f"sword-text-kjv is not installed here; install it with: {KJVSegment.install_hint()}")


def test_a_short_run_beats_the_constant_taggers_and_eval_reads_its_checkpoint(tmp_path):
    _need_kjv()
    lines = []
    request = runs.Request(model="bilstm-tagger", options={"hidden_size": "24", "embed_dim": "16"},
                           settings={"max_steps": 120, "batch_size": 16, "lr": 0.01, "warmup": 10,
                                     "eval_every": 120, "time_budget": None},
                           out=str(tmp_path / "run"), progress=False, eval_limit=300, download=False)
    result = runs.train(request, echo=lines.append)
    test, base = result["test"], result["baseline"]
    assert result["steps"] == 120 and test["chars"] == base["chars"] > 20_000
    truth = KJVSegment(split="test", download=False)
    n = int(truth.lengths[:300].sum())
    gold, lengths = truth.tags[:n], truth.lengths[:300]
    zeros = segmentation_scores(np.zeros(n, np.int64), gold, lengths)
    ones = segmentation_scores(np.ones(n, np.int64), gold, lengths)
    assert test["accuracy"] > max(zeros["accuracy"], ones["accuracy"]) + 0.05
    assert test["word_f1"] > max(zeros["word_f1"], ones["word_f1"]) + 0.1 and test["f1"] > ones["f1"]
    assert 0.5 < base["word_f1"] < 1 and any(ln.startswith("  greedy max-match") for ln in lines)
    shown = next(ln for ln in lines if ln.startswith("example (test sample "))
    assert result["example"]["reference"] == truth.texts[int(shown.split()[3].rstrip(",):"))]
    eval_lines = []
    res = runs.evaluate(str(tmp_path / "run" / "best.safetensors"), eval_limit=300, download=False,
                        echo=eval_lines.append)
    assert res["word_f1"] == pytest.approx(test["word_f1"]) and "word F1" in eval_lines[-1]
