"""DDPStrategy: the Trainer's loop run data-parallel over the MPI ranks (``nabla.train.strategy`` says where
the Trainer asks).

    prepare_run        ``nabla train``'s preparation on every rank, then one exchange: a rank that failed makes
                       every rank raise its error (one line, naming the rank); the model, the data and the
                       settings are compared (a hash) and a difference is a one-line error naming it; then the
                       training loader becomes this rank's shard (``distribute``)
    setup              every step model the same on every rank (names, shapes, dtypes: a hash), then rank
                       0's weights and buffers broadcast; every rank's training loader as many batches long
    reduce_gradients   in before_optimizer_step, for the parameters of the optimizer about to step (so a
                       two-optimizer step reduces each optimizer's own): buckets of ``bucket_cap_mb``, one
                       Allreduce each (``buckets.GradientReducer``); the mean over ranks
    nonfinite_loss     each rank's loss in its own slot of one small Allreduce: a NaN on any rank stops every
                       rank at the same step, and the message names the rank
    agree              rank 0's elapsed time and stop decision broadcast after every step (time budget,
                       early stopping: the same step everywhere; a budget schedule's rate stays identical)
    reduce_sums        the running training sums added over the ranks: the logged training loss is the mean
                       over all N*B samples of each step, as one process with batch N*B would log it
    evaluate           rank 0's buffers broadcast (the running statistics the checkpoint holds), each rank
                       evaluates a contiguous shard of the loader's samples, and the figures are combined
                       weighted by the shards' sizes: for per-sample means (loss, accuracy, MSE) that is
                       the sum of the ranks' sums over the total count, equal to one process's figure; the
                       step's ``count_figures`` (the VAE's ``images``) are added.
                       A step with ``whole_figures()`` (the GAN's FID of its fixed-seed samples against the
                       whole validation set: not a mean over the loader's samples, so shards cannot be summed)
                       evaluates its shard with ``evaluate(loader, whole=False)``; rank 0 alone computes
                       ``whole_figures()`` and broadcasts them (the same numbers as one process's).
                       A step with ``evaluate_sums(loader, rank, world_size)`` scores its own share and
                       returns what adds up: text classification and segmentation their confusion matrices,
                       tagging its segmentation counts, the language models their token losses, forecasting
                       its loss and squared-error sums; seq2seq its decoded sequences (by pair index), binary
                       its scores and detection its detections and ground truth, joined in the data set's
                       order.  The shards are combined (``step.add_sums``) and the figures computed once from
                       the whole (``figures_from_sums``): ROC AUC, mAP, macro-F1, PER and BLEU are never means
                       of the ranks' figures

``distribute(loader, seed)``: the training loader with a ``DistributedSampler`` (this rank's shard of each
epoch's shuffled order; the Trainer calls its ``set_epoch``); a wrapper holding its DataLoader as ``.loader``
(the generative tasks' ``EpochLoader``) is copied with its loader distributed; a loader with a ``shard(rank,
num_replicas)`` method (``BucketBatches``: the text tasks' length buckets; ``SceneBatches``: detection and
segmentation; ``StreamBatches`` and ``RandomWindows``: the language models) gives its own share.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math

import numpy as np

from .. import comm
from ..data import DataLoader
from ..data.distributed_sampler import DistributedSampler
from ..data.sampler import RandomSampler
from ..train.run import RunError
from ..train.settings import SettingsError
from ..train.steps.sharding import evaluation_share
from ..train.strategy import Strategy
from .buckets import GradientReducer
from .collectives import broadcast_tensors, check_same_everywhere, init
from .ddp import signature


def _check_loader(loader, what: str) -> None:
    if not isinstance(loader, DataLoader) or loader.batch_size is None:
        raise ValueError(f"data-parallel {what} needs a DataLoader with a batch_size over an indexable data set, "
                         f"got {type(loader).__name__}")


def distribute(loader, seed: int, rank: int | None = None, world_size: int | None = None) -> DataLoader:
    """``loader``'s data set, batch size and collate function with this rank's ``DistributedSampler`` (shuffled
    when the loader shuffled, from ``seed``); ``--batch-size`` stays the per-process batch, as in DDP.  A
    wrapper with its DataLoader in ``.loader`` comes back as a copy around the distributed loader."""
    if not isinstance(loader, DataLoader) and isinstance(getattr(loader, "loader", None), DataLoader):
        wrapper = copy.copy(loader)
        wrapper.loader = distribute(loader.loader, seed, rank, world_size)
        return wrapper
    if hasattr(loader, "shard"):  # seeded already: every rank draws the same epochs and keeps its share
        return loader.shard(comm.rank() if rank is None else rank,
                            comm.world_size() if world_size is None else world_size)
    _check_loader(loader, "training")
    sampler = DistributedSampler(loader.dataset, num_replicas=world_size, rank=rank,
                                 shuffle=isinstance(loader.sampler, RandomSampler), seed=seed)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler, drop_last=loader.drop_last,
                      collate_fn=loader.collate_fn)


def combine(results: list, counts: tuple = ()) -> dict:
    """``[(figures, count), ...]`` of every rank -> each figure's mean weighted by the counts (ranks with an
    empty shard left out); the figures named in ``counts`` (a step's ``count_figures``: how many images it
    scored) are added instead."""
    total, sums = {}, {}
    for figures, count in results:
        if not count:
            continue
        for k, v in figures.items():
            sums[k] = sums.get(k, 0.0) + float(v) * (1 if k in counts else count)
            total[k] = total.get(k, 0) + count
    return {k: sums[k] if k in counts else sums[k] / total[k] for k in sums}


def data_digest(dataset, samples: int = 16) -> str:
    """A hash of a data set's size and of ``samples`` samples spread over it: enough to tell two ranks that
    loaded different data (another split, another normalisation, another file)."""
    n = len(dataset)
    h = hashlib.sha256(str(n).encode())
    for i in np.unique(np.linspace(0, max(n - 1, 0), min(samples, n)).astype(np.int64)).tolist():
        item = dataset[i]
        for part in (item if isinstance(item, (tuple, list)) else (item,)):
            a = np.asarray(getattr(part, "data", part))
            h.update(f"{a.dtype}{a.shape}".encode() + (a.tobytes() if a.dtype != object else repr(a).encode()))
    return h.hexdigest()[:16]


def run_signature(run) -> list:
    """What must be the same on every rank of a run: each model's parameters and buffers, the training and
    validation data, and the recorded configuration (model, options, data set, settings)."""
    items = []
    for name, model in run.trainer.step.models.items():
        items += [(f"{name}.{k}", v) for k, v in signature(model)]
    for what, loader in (("training data", run.data.extra["loader"]), ("validation data", run.data.extra["val_data"])):
        dataset = getattr(loader, "dataset", None)
        if dataset is not None:
            items.append((what, data_digest(dataset)))
    config = {k: v for k, v in run.trainer.config.items() if k != "world_size"}
    items += [(f"setting {k}", json.dumps(v, sort_keys=True, default=str)) for k, v in sorted(config.items())]
    return items


class RanksFailed(RunError):
    """An error every rank raises together (one rank's failure while preparing, ranks that disagree): rank 0
    prints it, every rank exits with the same code, nobody waits.  ``exit_code``: 2 for a request that
    cannot start, 1 otherwise."""

    all_ranks = True

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


def one_line(e: BaseException) -> str:
    """An exception's message on one line (its type's name when it has none): what every rank prints."""
    return " ".join((str(e).strip().strip("'\"") or type(e).__name__).splitlines())


def _failure(e: BaseException) -> tuple:
    text = one_line(e)
    if not isinstance(e, (RunError, SettingsError, ValueError, KeyError, OSError)):
        text = f"{type(e).__name__}: {text}"
    return text, 2 if isinstance(e, (RunError, SettingsError)) else 1


class DDPStrategy(Strategy):
    """Data parallelism over every MPI rank of this job; ``bucket_cap_mb``: the gradient buckets' size."""

    def __init__(self, bucket_cap_mb: float = 25.0):
        init()
        if not bucket_cap_mb > 0:
            raise ValueError(f"DDPStrategy: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.world_size, self.rank = comm.world_size(), comm.rank()
        self.bucket_cap_mb = float(bucket_cap_mb)
        self.reducers: dict = {}  # the parameter list of each optimizer step -> its buckets

    def prepare_run(self, prepare, discard=None):
        """``prepare()`` on every rank, then agreement (see the module docstring); ``discard(run)``: what undoes
        a prepared run that another rank's failure stops (rank 0's fresh run folder)."""
        if self.world_size == 1:
            return prepare()
        run, failure = None, None
        try:
            run = prepare()
        except Exception as e:  # noqa: BLE001 - every rank must hear of it, or the others wait forever
            failure = _failure(e)
        failures = comm.all_gather_object(failure)
        bad = [(r, f) for r, f in enumerate(failures) if f is not None]
        if bad:
            if run is not None and discard is not None:
                discard(run)
            r, (text, code) = bad[0]
            where = "" if r == 0 else f"rank {r} of {self.world_size}: "
            raise RanksFailed(where + text, code)
        try:
            check_same_everywhere("the run", run_signature(run))
        except ValueError as e:
            if discard is not None:
                discard(run)
            raise RanksFailed(str(e)) from None
        run.data.extra["loader"] = distribute(run.data.extra["loader"], run.settings["seed"], self.rank,
                                              self.world_size)
        return run

    def setup(self, trainer) -> None:
        for name, model in trainer.step.models.items():
            check_same_everywhere(f"model {name!r} ({type(model).__name__})", signature(model))
            broadcast_tensors(list(model.parameters()) + list(model.buffers()))
        self._check_steps(trainer.train_loader)

    def _check_steps(self, loader) -> None:
        """A one-line error on every rank unless every rank's training loader has as many batches: a rank with
        one more would pair its gradient Allreduce with another rank's end-of-epoch collectives and wait
        forever (an unshuffled ``SceneBatches`` or ``BucketBatches`` shares its batches out contiguously, for
        evaluation, and can give the ranks different counts)."""
        if self.world_size == 1 or not hasattr(loader, "__len__"):
            return
        counts = comm.all_gather_object(len(loader))
        if len(set(counts)) > 1:
            raise ValueError(f"DDPStrategy: every rank must take the same number of steps per epoch, but the "
                             f"training loader ({type(loader).__name__}) has {counts} batches on ranks 0..."
                             f"{self.world_size - 1}; give it a shuffled order (a shuffled loader's shard or a "
                             f"DistributedSampler pads the ranks to equal shares)")

    def reduce_gradients(self, parameters) -> None:
        if self.world_size == 1:
            return
        params = list(parameters)
        key = tuple(id(p) for p in params)
        if key not in self.reducers:
            self.reducers[key] = GradientReducer(params, self.bucket_cap_mb)
        self.reducers[key].reduce()

    def nonfinite_loss(self, value: float):
        if self.world_size == 1:
            return super().nonfinite_loss(value)
        losses = np.zeros(self.world_size)
        losses[self.rank] = value  # every other rank adds 0 to this slot: each slot is exactly one rank's loss
        comm.all_reduce(losses)
        bad = [r for r in range(self.world_size) if not math.isfinite(losses[r])]
        return (float(losses[bad[0]]), bad[0]) if bad else None

    def agree(self, elapsed: float, stop: bool) -> tuple:
        if self.world_size == 1:
            return elapsed, stop
        decision = comm.broadcast(np.array([elapsed, float(bool(stop))]), 0)
        return float(decision[0]), bool(decision[1])

    def on_global_zero(self, fn):
        """``fn()`` on rank 0 alone (it may print and write the run's files), its result broadcast."""
        if self.world_size == 1:
            return fn()
        return comm.broadcast_object(fn() if self.is_global_zero else None, 0)

    def reduce_sums(self, sums: dict) -> dict:
        if self.world_size == 1 or not sums:
            return sums
        keys = sorted(sums)
        totals = comm.all_reduce(np.array([float(sums[k]) for k in keys]))
        return dict(zip(keys, totals.tolist()))

    def evaluate(self, step, loader) -> dict:
        if self.world_size == 1:
            return step.evaluate(loader)
        for model in step.models.values():
            broadcast_tensors(list(model.buffers()))
        if hasattr(step, "evaluate_sums"):  # figures that are not means over samples, from sums that add
            sums = comm.all_gather_object(step.evaluate_sums(loader, self.rank, self.world_size))
            return step.figures_from_sums(step.add_sums(sums))
        part = evaluation_share(loader, self.rank, self.world_size)
        whole = getattr(step, "whole_figures", None)
        figures = step.evaluate(part) if whole is None else step.evaluate(part, whole=False)
        result = combine(comm.all_gather_object((figures, len(part.sampler))), getattr(step, "count_figures", ()))
        if whole is not None:  # not sums over samples: rank 0's, computed once
            result.update(comm.broadcast_object(whole() if self.is_global_zero else None, 0))
        return result
