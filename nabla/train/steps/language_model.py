"""Language models on a token stream: the step, its batches, and the evaluation in nats per token.

A recurrent model (``model.stateful``) reads the stream as ``batch_size`` parallel rows walked
``seq_len`` tokens at a time (``StreamBatches``), carrying its state from one chunk to the next and
detaching it in between: truncated backpropagation through time -- gradients flow back at most
``seq_len`` steps while the state sees the whole row.  A Transformer reads ``batch_size`` windows at
random positions (``RandomWindows``: it has no state to carry).  Losses are cross-entropies in nats per
token (per character for the char-level models).  The model supplies ``model.loss(x, y, state)``.

Data parallelism (``shard(rank, num_replicas)`` on the loaders, ``evaluate_sums`` on the step): N ranks with
batch B read what one process with batch N*B reads, each rank its own B rows of that layout.
``StreamBatches``: the stream cut into N*B rows, rank r walks rows [rB, (r+1)B) and carries their state, so
the averaged gradient is the one of the N*B-row batch (the same tokens, the same mean).  ``RandomWindows``:
every rank draws the N*B starts of the global batch from the same generator and keeps its B (the generators
stay equal, so rank 0's loader state resumes on any rank), with the steps per epoch of the global batch.
Validation: rank r scores its share of the evaluation's rows (stateful) or of its batches of windows
(Transformer); the ranks' summed losses and token counts add up to one process's.  A stateful model's
carried state is gathered at each evaluation (every rank is there; checkpoints are taken right after), so
rank 0's checkpoint holds all N*B rows, as one process with batch N*B would; a resume gives each rank its
rows when the new layout has the same N*B rows, and starts the state afresh otherwise.
"""
from __future__ import annotations

import copy

import numpy as np

from ...autograd.grad_mode import no_grad
from ...autograd.tensor import Tensor, from_numpy
from ...data.text.corpus import LMStreamLoader
from ...nn.utils.rnn import detach_hidden
from .base import Step
from .sharding import check_shard, contiguous_share


def token_ids(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.int64).reshape(-1)


def _t(a) -> Tensor:
    return from_numpy(np.ascontiguousarray(a))


def evaluate_lm(model, ids, batch_size: int = 32, seq_len: int = 256, max_tokens: int | None = None) -> float:
    """Mean next-token cross-entropy (nats per token) over the stream ``ids`` (its first ``max_tokens``).

    A stateful model reads ``batch_size`` contiguous rows, its state carried over the whole row; a
    Transformer reads non-overlapping windows of ``seq_len`` (at most its ``max_len``) tokens, each
    scored from its own start (so the first tokens of a window have little context)."""
    total, count = lm_sums(model, ids, batch_size, seq_len, max_tokens)
    return total / max(count, 1)


def lm_sums(model, ids, batch_size: int = 32, seq_len: int = 256, max_tokens: int | None = None, rank: int = 0,
            num_replicas: int = 1) -> tuple:
    """``(sum of the next-token cross-entropies in nats, tokens scored)`` over rank's share of
    ``evaluate_lm``'s batches: a stateful model's rows ``np.array_split`` over the ranks (each row read
    whole, its state carried), a Transformer's batches of windows split the same way (each batch the one a
    single process scores).  The ranks' sums add up to one process's."""
    ids = token_ids(ids)
    if max_tokens is not None:
        ids = ids[:int(max_tokens) + 1]
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with no_grad():
            if getattr(model, "stateful", False):
                rows = max(1, min(batch_size, (len(ids) - 1) // 2))
                a, b = contiguous_share(rows, rank, num_replicas, "language-model evaluation")
                batches = LMStreamLoader(ids, rows, seq_len) if b > a else ()
                if num_replicas > 1:
                    batches = ((_t(x.data[a:b]), _t(y.data[a:b])) for x, y in batches)
            else:
                batches = _windows(ids, min(seq_len, getattr(model, "max_len", seq_len)), batch_size, rank,
                                   num_replicas)
            for x, y in batches:
                loss, state = model.loss(x, y, state)
                total += float(loss.data) * y.numel()
                count += y.numel()
    finally:
        model.train(was_training)
    return total, count


def _windows(ids, T: int, batch_size: int, rank: int = 0, num_replicas: int = 1):
    """Non-overlapping windows of ``T`` tokens, ``batch_size`` at a time (a stateless model: state None); with
    several ranks, rank's contiguous share of those batches."""
    n = (len(ids) - 1) // T
    win = ids[:n * T + 1]
    xs, ys = win[:-1].reshape(n, T), win[1:].reshape(n, T)
    first, last = contiguous_share(-(-n // batch_size), rank, num_replicas,
                                   "language-model evaluation")
    for a in range(first * batch_size, min(last * batch_size, n), batch_size):
        yield _t(xs[a:a + batch_size]), _t(ys[a:a + batch_size])


class StreamBatches:
    """Truncated-BPTT batches for a recurrent model: epoch ``e`` reads the stream from a random offset
    below ``seq_len`` (seeded by ``seed + e``), so window boundaries move between epochs."""

    def __init__(self, ids, batch_size: int, seq_len: int, seed: int = 0):
        self.ids, self.batch_size, self.seq_len, self.seed = token_ids(ids), batch_size, seq_len, seed
        self.epoch, self.rank, self.num_replicas = 0, 0, 1
        self._len = len(self._loader(0))

    def shard(self, rank: int, num_replicas: int) -> "StreamBatches":
        """Rank's ``batch_size`` rows of the layout of ``num_replicas * batch_size`` rows (a copy)."""
        check_shard("StreamBatches", rank, num_replicas, self.num_replicas)
        part = copy.copy(self)
        part.rank, part.num_replicas = int(rank), int(num_replicas)
        part._len = len(part._loader(0))
        return part

    def _loader(self, epoch):
        return LMStreamLoader(self.ids, self.batch_size * self.num_replicas, self.seq_len, drop_last=True,
                              random_offset=True, seed=self.seed + epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._len

    def __iter__(self):
        if self.num_replicas == 1:
            yield from self._loader(self.epoch)
            return
        rows = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        for x, y in self._loader(self.epoch):
            yield _t(x.data[rows]), _t(y.data[rows])


class RandomWindows:
    """``steps_per_epoch`` batches of ``batch_size`` windows at uniformly random starts (``y`` shifted by
    one), from a generator seeded once; its state is the loader's state (exact resume).  By default an epoch
    is as many steps as the stream holds batches."""

    state_fits_any_world_size = True  # every rank holds the same generator: its state resumes on any N

    def __init__(self, ids, batch_size: int, seq_len: int, seed: int = 0, steps_per_epoch: int | None = None):
        self.ids, self.batch_size, self.seq_len = token_ids(ids), batch_size, seq_len
        self.fixed_steps = steps_per_epoch
        self.steps_per_epoch = steps_per_epoch or max(1, (len(self.ids) - 1) // (batch_size * seq_len))
        self.rng = np.random.default_rng(seed)
        self.rank, self.num_replicas = 0, 1

    def shard(self, rank: int, num_replicas: int) -> "RandomWindows":
        """Rank's ``batch_size`` windows of each global batch of ``num_replicas * batch_size`` (a copy with its own
        generator, in the same state as every rank's); an epoch is the global batch's steps."""
        check_shard("RandomWindows", rank, num_replicas, self.num_replicas)
        part = copy.copy(self)
        part.rng = copy.deepcopy(self.rng)
        part.rank, part.num_replicas = int(rank), int(num_replicas)
        part.steps_per_epoch = self.fixed_steps or max(
            1, (len(self.ids) - 1) // (self.batch_size * num_replicas * self.seq_len))
        return part

    def __len__(self) -> int:
        return self.steps_per_epoch

    def __iter__(self):
        mine = slice(self.rank * self.batch_size, (self.rank + 1) * self.batch_size)
        for _ in range(self.steps_per_epoch):
            starts = self.rng.integers(0, len(self.ids) - self.seq_len - 1, self.batch_size * self.num_replicas)
            win = self.ids[starts[mine, None] + np.arange(self.seq_len + 1)]
            yield _t(win[:, :-1]), _t(win[:, 1:])

    def state_dict(self) -> dict:
        return {"bit_generator": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["bit_generator"]


class TokenStream:
    """Validation data for a language model: the stream, scored in windows of ``seq_len`` over its first
    ``max_tokens`` tokens (all of them when None)."""

    def __init__(self, ids, seq_len: int, max_tokens: int | None = None):
        self.ids, self.seq_len, self.max_tokens = token_ids(ids), seq_len, max_tokens


def _parts(state) -> tuple:
    """``(arrays, is_tuple)`` of a carried state (an LSTM's ``(h, c)`` or one Tensor)."""
    parts = state if isinstance(state, (tuple, list)) else (state,)
    return [np.asarray(p.data) for p in parts], isinstance(state, (tuple, list))


class LanguageModelStep(Step):
    """Next-token cross-entropy; a stateful model's state is carried (detached) from batch to batch and
    starts afresh each epoch.  ``evaluate(TokenStream)`` -> ``{"loss": nats per token}``; data-parallel:
    ``evaluate_sums`` / ``add_sums`` / ``figures_from_sums`` (see the module docstring).  The carried state's
    arrays are (layers, batch, features), as nn.RNN's: rows are axis 1."""

    monitor = ("val_loss", "min")

    def __init__(self, model, optimizer):
        super().__init__({"model": model}, {"optimizer": optimizer})
        self.model, self.optimizer = model, optimizer
        self.stateful = bool(getattr(model, "stateful", False))
        self.state = None
        self.steps = 0            # train steps taken by this object (tells a gathered carry from a stale one)
        self.gathered = None      # (steps, arrays of every rank's rows, is_tuple): the last evaluation's
        self.pending = None       # a checkpoint's carry (arrays, is_tuple), placed at the next train step

    def begin_epoch(self, epoch: int) -> None:
        self.state, self.pending = None, None

    def _world(self) -> tuple:
        strategy = getattr(self.trainer, "strategy", None)
        return (strategy.rank, strategy.world_size) if strategy is not None else (0, 1)

    def _place_pending(self, rows: int) -> None:
        """A loaded carry becomes this rank's rows when the run has the checkpoint's layout (all its rows =
        ranks x batch); otherwise the state starts afresh (another layout: other rows of the stream)."""
        arrays, is_tuple = self.pending
        self.pending = None
        rank, world = self._world()
        if arrays[0].shape[1] != rows * world:
            return
        parts = [from_numpy(np.ascontiguousarray(a[:, rank * rows:(rank + 1) * rows])) for a in arrays]
        self.state = tuple(parts) if is_tuple else parts[0]

    def train_step(self, batch) -> dict:
        x, y = batch
        if self.pending is not None:
            self._place_pending(int(x.shape[0]))
        self.optimizer.zero_grad()
        loss, state = self.model.loss(x, y, detach_hidden(self.state) if self.stateful else None)
        self.state = state if self.stateful else None
        self.steps += 1
        return {"loss": self.minimize(loss, self.optimizer)}

    def evaluate(self, data) -> dict:
        return self.figures_from_sums(self.evaluate_sums(data))

    def evaluate_sums(self, data, rank: int = 0, num_replicas: int = 1) -> dict:
        """``{"loss_sum", "count"}`` over rank's share of the validation stream (``lm_sums``), and the carried
        state of this rank's training rows (``"carry"``: gathered by ``add_sums`` for rank 0's checkpoint)."""
        if not isinstance(data, TokenStream):
            data = TokenStream(data, 256)
        total, count = lm_sums(self.model, data.ids, seq_len=data.seq_len, max_tokens=data.max_tokens, rank=rank,
                               num_replicas=num_replicas)
        carry = None if self.state is None else (self.steps, *_parts(self.state))
        return {"loss_sum": total, "count": count, "carry": carry}

    def add_sums(self, parts: list) -> dict:
        """Every rank's ``evaluate_sums`` (in rank order) added; their carried states joined row-wise."""
        carries = [p.get("carry") for p in parts]
        if all(c is not None and c[0] == self.steps for c in carries):
            self.gathered = (self.steps, [np.concatenate(a, axis=1) for a in zip(*(c[1] for c in carries))],
                             carries[0][2])
        return {"loss_sum": sum(p["loss_sum"] for p in parts), "count": sum(p["count"] for p in parts)}

    @staticmethod
    def figures_from_sums(sums: dict) -> dict:
        return {"loss": sums["loss_sum"] / max(sums["count"], 1)}

    # the carried state is part of the run: a resume mid-epoch continues it (with several ranks: all their rows,
    # as gathered at the evaluation the checkpoint follows; none when that is stale)
    def state_dict(self) -> dict:
        state = super().state_dict()
        carry = None
        if self._world()[1] > 1:
            if self.gathered is not None and self.gathered[0] == self.steps:
                carry = self.gathered[1:]
        elif self.state is not None:
            carry = _parts(self.state)
        elif self.pending is not None:
            carry = self.pending
        if carry is not None:
            state["carry"] = {"arrays": list(carry[0]), "tuple": bool(carry[1])}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        carry = state.get("carry")
        self.state, self.pending = None, None
        if carry:
            self.pending = ([np.array(a) for a in carry["arrays"]], bool(carry["tuple"]))
