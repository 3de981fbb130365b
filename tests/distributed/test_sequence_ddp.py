"""Language models, seq2seq and forecasting data-parallel.

In one process: the LM loaders' shards are each rank's rows of the layout of one process with batch N*B
(``StreamBatches``: the stream cut into N*B rows; ``RandomWindows``: the same N*B draws); the sharded
validation sums (LM losses, seq2seq decodings, forecasting sums of squares) add up to one process's figures;
an LM's carried state gathered from every rank is what one process with N*B rows checkpoints, and a resume
gives each rank its rows.  Under mpiexec (2 and 3 ranks): N ranks x batch B end with the weights of one
process with batch N*B (float64; a stateful GRU and a GPT), the sharded validation equals one process's, an
LSTM resumed mid-epoch from rank 0's checkpoint ends bit-identical to an uninterrupted run,
and a forecasting run through ``nabla.train.run.train`` reports one process's test figures (the command line
on 2 ranks: test_lm_cli_ddp.py)."""
import json
import math

import numpy as np
import pytest

import nabla as nb
from nabla import optim
from nabla.data import DataLoader, TensorDataset
from nabla.data.text import CharVocab, PairDataset
from nabla.distributed.strategy import distribute
from nabla.models.gpt import GPT
from nabla.models.rnn_lm import CharRNNLM
from nabla.models.seq2seq import Seq2SeqAttention
from nabla.train.steps.forecasting import ForecastStep
from nabla.train.steps.language_model import LanguageModelStep, RandomWindows, StreamBatches, TokenStream, lm_sums
from nabla.train.steps.seq2seq import PairSubset, Seq2SeqStep, add_seq2seq_sums, evaluate_seq2seq, seq2seq_sums

from .mpi_helpers import run_ranks

V = 11
STREAM = np.random.default_rng(0).integers(0, V, 1001)


def _rows(batches):
    return [(x.data.copy(), y.data.copy()) for x, y in batches]


def test_stream_shards_are_the_rows_of_one_process_with_n_times_the_batch():
    whole = StreamBatches(STREAM, 6, 8, seed=3)
    parts = [distribute(StreamBatches(STREAM, 2, 8, seed=3), seed=0, rank=r, world_size=3) for r in range(3)]
    assert [len(p) for p in parts] == [len(whole)] * 3
    for epoch in range(2):  # the offset of each epoch moves the same way on every rank
        for loader in [whole, *parts]:
            loader.set_epoch(epoch)
        got = [_rows(p) for p in parts]
        for k, (x, y) in enumerate(_rows(whole)):
            assert np.array_equal(np.concatenate([g[k][0] for g in got]), x)
            assert np.array_equal(np.concatenate([g[k][1] for g in got]), y)
    with pytest.raises(ValueError, match="already a shard"):
        parts[0].shard(0, 2)


def test_random_window_shards_are_the_rows_of_the_same_draws():
    whole = RandomWindows(STREAM, 6, 8, seed=5)
    parts = [RandomWindows(STREAM, 2, 8, seed=5).shard(r, 3) for r in range(3)]
    assert [len(p) for p in parts] == [len(whole)] * 3 == [(len(STREAM) - 1) // 48] * 3  # the global batch's epoch
    for _ in range(2):
        assert all(json.dumps(p.state_dict()) == json.dumps(whole.state_dict()) for p in parts)  # resumes anywhere
        got = [_rows(p) for p in parts]
        for k, (x, y) in enumerate(_rows(whole)):
            assert np.array_equal(np.concatenate([g[k][0] for g in got]), x)
            assert np.array_equal(np.concatenate([g[k][1] for g in got]), y)
    with pytest.raises(ValueError, match="rank must be in"):
        whole.shard(3, 3)


@pytest.mark.parametrize("stateful", [True, False], ids=["gru", "gpt"])
def test_lm_validation_shards_add_up_to_one_process(stateful):
    nb.manual_seed(0)
    model = (CharRNNLM(V, "gru", embed_dim=4, hidden_size=6) if stateful
             else GPT(V, d_model=8, num_layers=1, num_heads=2, max_len=8)).double()
    alone = lm_sums(model, STREAM, batch_size=5, seq_len=8, max_tokens=700)
    for n in (2, 3, 7):  # 7 ranks: more than the 5 rows or the 3 batches of windows -- some score nothing
        parts = [lm_sums(model, STREAM, batch_size=5, seq_len=8, max_tokens=700, rank=r, num_replicas=n)
                 for r in range(n)]
        assert sum(p[1] for p in parts) == alone[1] > 600
        assert sum(p[0] for p in parts) == pytest.approx(alone[0], rel=1e-12)
        assert (0 in [p[1] for p in parts]) == (stateful and n > 5)


class _Ranks:
    """A stand-in strategy for the step's view of its rank."""
    def __init__(self, rank, world_size):
        self.rank, self.world_size = rank, world_size


class _Holder:
    """The Trainer as the step sees it: its strategy, and nothing to do around the optimizer's step."""
    def __init__(self, rank, world_size):
        self.strategy = _Ranks(rank, world_size)

    def check_finite(self, value):
        pass

    def before_optimizer_step(self, parameters):
        pass


def _lm_step(rank, world_size):
    nb.manual_seed(0)
    model = CharRNNLM(V, "lstm", embed_dim=4, hidden_size=6).double()
    step = LanguageModelStep(model, optim.SGD(model.parameters(), lr=0.1))
    step.trainer = _Holder(rank, world_size)
    return step


def test_the_gathered_carry_is_one_process_rows_and_resumes_per_rank():
    ranks = [_lm_step(r, 2) for r in range(2)]
    batches = [iter(StreamBatches(STREAM, 3, 8).shard(r, 2)) for r in range(2)]
    for step, it in zip(ranks, batches):
        step.train_step(next(it))
    ranks[1].model.load_state_dict(ranks[0].model.state_dict())  # (no Allreduce here: make the weights equal)
    val = TokenStream(STREAM[:300], 16)
    parts = [s.evaluate_sums(val, r, 2) for r, s in enumerate(ranks)]
    for s in ranks:
        assert s.figures_from_sums(s.add_sums(parts)) == pytest.approx(ranks[0].evaluate(val), rel=1e-12)
    state = ranks[0].state_dict()  # rank 0 writes the checkpoint: both ranks' rows, (h, c) each (1, 6, 6)
    h = np.concatenate([ranks[0].state[0].data, ranks[1].state[0].data], axis=1)
    assert state["carry"]["tuple"] and np.array_equal(state["carry"]["arrays"][0], h)
    carried = [p.data.copy() for p in ranks[1].state]
    for step, it in zip(ranks, batches):  # a step after the evaluation: rank 0's gathered carry is stale
        step.train_step(next(it))
    assert "carry" not in ranks[0].state_dict()
    again = _lm_step(1, 2)  # the same layout (2 ranks x 3 rows): rank 1 gets rows 3..5 at its next step
    again.load_state_dict(state)
    again._place_pending(3)
    assert all(np.array_equal(a.data, b) for a, b in zip(again.state, carried))
    other = _lm_step(0, 1)  # one process with 2 rows: another layout, the state starts afresh
    other.load_state_dict(state)
    other.train_step(next(iter(StreamBatches(STREAM, 2, 8))))
    assert other.pending is None and other.state[0].shape == (1, 2, 6)


def _pairs():
    v = CharVocab("abcdef")
    rng = np.random.default_rng(1)
    words = ["".join(rng.choice(list("abcdef"), rng.integers(1, 6))) for _ in range(37)]
    return PairDataset(words, [w[::-1] for w in words], v, v)


@pytest.mark.parametrize("beam", [1, 2])
def test_seq2seq_decoding_shards_join_into_one_process_figures(beam):
    data = _pairs()
    nb.manual_seed(0)
    model = Seq2SeqAttention(10, 10, embed_dim=5, hidden_size=6, attention_size=4).double()
    step = Seq2SeqStep(model, None, pad=data.tgt_vocab.pad_index)
    val = PairSubset(data, limit=33, beam_size=beam)
    alone = step.evaluate(val)
    for n in (2, 3):
        joined = step.add_sums([step.evaluate_sums(val, r, n) for r in range(n)])
        got = step.figures_from_sums(joined)
        assert got["per"] == alone["per"] and got["ser"] == alone["ser"]
        assert got["loss"] == pytest.approx(alone["loss"], rel=1e-12)
    step.return_outputs = True  # the final report's: n and the decoded outputs too, as evaluate_seq2seq gives them
    joined = step.figures_from_sums(step.add_sums([step.evaluate_sums(val, r, 3) for r in range(3)]))
    whole = evaluate_seq2seq(model, data, 33, beam_size=beam, return_outputs=True)
    assert set(joined) == set(whole) and all(joined[k] == whole[k] for k in whole if k != "loss")
    assert joined["loss"] == pytest.approx(whole["loss"], rel=1e-12) and len(joined["hyps"]) == 33
    assert "hyps" not in alone and "n" not in alone  # the training history keeps the figures only
    parts = [seq2seq_sums(model, data, 33, batch_size=8, rank=r, num_replicas=3) for r in range(3)]
    assert [len(p["outputs"]) for p in parts] == [16, 16, 1]  # 5 batches of 8 (the last 1): 2, 2, 1 per rank
    assert sorted(add_seq2seq_sums(parts)["outputs"]) == list(range(33))


def test_forecast_validation_combines_sums_of_squares_not_rmses():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(45, 6, 1)), rng.normal(size=(45, 3))
    y[:9] *= 10  # the first shard's errors are large: a mean of the ranks' RMSEs would differ
    nb.manual_seed(0)
    model = nb.nn.Sequential(nb.nn.Flatten(), nb.nn.Linear(6, 3)).double()
    step = ForecastStep(model, None, mean=1.0, std=2.5)
    loader = DataLoader(TensorDataset(nb.tensor(x), nb.tensor(y)), batch_size=16)
    alone = step.evaluate(loader)
    direct = math.sqrt(np.mean((model(nb.tensor(x)).data - y) ** 2)) * 2.5
    assert alone["rmse"] == pytest.approx(direct, rel=1e-12)
    parts = [step.evaluate_sums(loader, r, 5) for r in range(5)]
    assert [p["n"] for p in parts] == [9] * 5
    got = step.figures_from_sums(step.add_sums(parts))
    assert got["rmse"] == pytest.approx(alone["rmse"], rel=1e-12)
    assert got["loss"] == pytest.approx(alone["loss"], rel=1e-12)
    mean_rmse = np.mean([step.figures_from_sums(p)["rmse"] for p in parts])
    assert abs(mean_rmse - alone["rmse"]) > 0.1


RANKS_CODE = """
import sys
import numpy as np, nabla as nb
from nabla import comm, optim
from nabla.data import DataLoader
from nabla.data.text import CharVocab, PairDataset
from nabla.distributed import DDPStrategy
from nabla.distributed.strategy import distribute
from nabla.models.gpt import GPT
from nabla.models.rnn_lm import CharRNNLM
from nabla.models.seq2seq import Seq2SeqAttention
from nabla.train import Trainer
from nabla.train.strategy import Strategy
from nabla.train.steps.language_model import LanguageModelStep, RandomWindows, StreamBatches, TokenStream
from nabla.train.steps.seq2seq import PairBatches, PairSubset, Seq2SeqStep

strategy = DDPStrategy(bucket_cap_mb=0.001)
r, n = strategy.rank, strategy.world_size
V, B, T = 11, 2, 8
ids = np.random.default_rng(0).integers(0, V, 1200)
val = TokenStream(ids[:401], 16)

def say(line):
    lines = comm.all_gather_object(line)
    if r == 0:
        print("\\n".join(f"rank {i} {t}" for i, t in enumerate(lines)), flush=True)

def flat(model):
    return np.concatenate([p.data.ravel() for p in model.parameters()])

def lm(kind, strat, batch, seed):
    nb.manual_seed(seed)
    model = (CharRNNLM(V, "gru", embed_dim=4, hidden_size=6) if kind == "gru"
             else GPT(V, d_model=8, num_layers=1, num_heads=2, max_len=T)).double()
    step = LanguageModelStep(model, optim.SGD(model.parameters(), lr=0.5))
    loader = (StreamBatches if kind == "gru" else RandomWindows)(ids, batch, T, seed=3)
    if strat.world_size > 1:
        loader = distribute(loader, 0)
    trainer = Trainer(step, progress=False, strategy=strat)
    trainer.fit(loader, val, max_steps=6, eval_every=3)
    return step, trainer

for kind in ("gru", "gpt"):
    step, trainer = lm(kind, strategy, B, r + 1)  # another seed on every rank: rank 0's weights broadcast
    weights = comm.all_gather_object(flat(step.model))
    spread = max(float(np.abs(w - weights[0]).max()) for w in weights)
    err = vals = 0.0
    if r == 0:  # one process, batch N*B, the same seed
        ref, ref_trainer = lm(kind, Strategy(), n * B, 1)
        err = float(np.abs(flat(ref.model) - weights[0]).max())
        vals = max(abs(a - b) for k in ("loss", "val_loss") for a, b in zip(trainer.history[k], ref_trainer.history[k]))
    sharded, alone = strategy.evaluate(step, val)["loss"], step.evaluate(val)["loss"]
    say(f"{kind} steps {trainer.global_step} spread {spread:.1e} weights {err:.1e} history {vals:.1e} "
        f"val {abs(sharded - alone):.1e}")

def lstm(steps, resume=None):  # an LSTM's (h, c) carried; resumed mid-epoch from rank 0's checkpoint
    nb.manual_seed(1)
    model = CharRNNLM(V, "lstm", embed_dim=4, hidden_size=6).double()
    trainer = Trainer(LanguageModelStep(model, optim.SGD(model.parameters(), lr=0.5)), progress=False,
                      strategy=strategy)
    loader = distribute(StreamBatches(ids, B, T, seed=3), 0)
    if resume:
        trainer.resume(resume, loader)
    trainer.fit(loader, val, max_steps=steps, eval_every=2)
    return flat(model), trainer

whole, _ = lstm(6)
_, part = lstm(4)
if r == 0:
    part.save_checkpoint("lm.safetensors")
comm.barrier()
resumed, _ = lstm(6, "lm.safetensors")
say(f"resume steps 6 differ {max(comm.all_gather_object(float(np.abs(resumed - whole).max())))}")

if "lm-only" in sys.argv:
    sys.exit(0)

v = CharVocab("abcdef")
rng = np.random.default_rng(1)
words = ["".join(rng.choice(list("abcdef"), rng.integers(1, 6))) for _ in range(45)]
pairs = PairDataset(words, [w[::-1] for w in words], v, v)
nb.manual_seed(r + 1)
model = Seq2SeqAttention(len(v), len(v), embed_dim=5, hidden_size=6, attention_size=4).double()
step = Seq2SeqStep(model, optim.Adam(model.parameters(), lr=0.05), pad=v.pad_index)
trainer = Trainer(step, progress=False, strategy=strategy)
trainer.fit(distribute(PairBatches(pairs, 4, seed=2), 0), None, max_steps=4)
weights = comm.all_gather_object(flat(model))
spread = max(float(np.abs(w - weights[0]).max()) for w in weights)
subset = PairSubset(pairs, limit=41, beam_size=2)
sharded, alone = strategy.evaluate(step, subset), step.evaluate(subset)
same = (sharded["per"], sharded["ser"]) == (alone["per"], alone["ser"]) and abs(sharded["loss"] - alone["loss"]) < 1e-12
say(f"seq2seq spread {spread:.1e} same {same} per {sharded['per']:.4f}")

import json
import nabla.models.forecaster
import nabla.train.tasks.forecasting
from nabla.data.datasets import REGISTRY
from nabla.data.datasets.series import SineSeries
from nabla.train import run as runs
from nabla.train.steps.forecasting import ForecastStep
from nabla.train.tasks.forecasting import series_splits
REGISTRY[SineSeries.name] = SineSeries
request = runs.Request(model="lstm-forecaster", dataset="sine-series", out="fc", progress=False,
                       options={"hidden": "8", "horizon": "4"},
                       settings={"max_steps": 6, "eval_every": 3, "batch_size": 16})
result = runs.train(request, echo=lambda line: None, strategy=strategy)
table = json.dumps(result["rmse_by_lead"], sort_keys=True)
gap = 0.0
if r == 0:  # one process evaluates the checkpoint: the test and the last validation figures
    model, config, _ = runs.rebuild_from_checkpoint("fc/last.safetensors")
    splits = series_splits(SineSeries, config["window"], config["horizon"], False)
    one = ForecastStep(model, None, config["scale"]["mean"], config["scale"]["std"])
    test, valid = (one.evaluate(DataLoader(splits[k], batch_size=1024)) for k in ("test", "valid"))
    gap = max(abs(result["rmse"] / test["rmse"] - 1), abs(result["loss"] / test["loss"] - 1),
              abs(result["history"]["val_rmse"][-1] / valid["rmse"] - 1))
say(f"forecast steps {result['steps']} gap {gap:.1e} tables {len(set(comm.all_gather_object(table)))}")
"""


@pytest.mark.parametrize("n", [2, 3])
def test_ranks_train_as_one_process_with_n_times_the_batch(n, tmp_path):
    res = run_ranks(n, RANKS_CODE, tmp_path, args=[] if n == 2 else ["lm-only"])
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line.split() for line in res.stdout.splitlines() if line.startswith("rank 0 ")]
    figures = {w[2]: dict(zip(w[3::2], w[4::2])) for w in lines}
    for kind in ("gru", "gpt"):
        f = figures[kind]
        assert f["steps"] == "6" and float(f["spread"]) == 0.0, res.stdout
        assert float(f["weights"]) < 1e-10 and float(f["history"]) < 1e-10, res.stdout  # 1 process, batch N*B
        assert float(f["val"]) < 1e-12, res.stdout  # the sharded validation is one process's
    assert figures["resume"]["differ"] == "0.0", res.stdout  # bit-identical: each rank got its rows' state back
    if n == 2:
        f = figures["seq2seq"]
        assert float(f["spread"]) == 0.0 and f["same"] == "True" and float(f["per"]) > 0, res.stdout
        f = figures["forecast"]  # float32: the shards' windows are other batches, rounding apart
        assert f["steps"] == "6" and float(f["gap"]) < 1e-5 and f["tables"] == "1", res.stdout
