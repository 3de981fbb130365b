"""Language models on a token stream: the step, its batches, and the evaluation in nats per token.

A recurrent model (``model.stateful``) reads the stream as ``batch_size`` parallel rows walked
``seq_len`` tokens at a time (``StreamBatches``), carrying its state from one chunk to the next and
detaching it in between: truncated backpropagation through time -- gradients flow back at most
``seq_len`` steps while the state sees the whole row.  A Transformer reads ``batch_size`` windows at
random positions (``RandomWindows``: it has no state to carry).  Losses are cross-entropies in nats per
token (per character for the char-level models).  The model supplies ``model.loss(x, y, state)``.
"""
from __future__ import annotations

import numpy as np

from ...autograd.grad_mode import no_grad
from ...autograd.tensor import Tensor
from ...autograd.tensor import from_numpy
from ...data.text.corpus import LMStreamLoader
from ...nn.utils.rnn import detach_hidden
from .base import Step


def token_ids(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x, dtype=np.int64).reshape(-1)


def _t(a) -> Tensor:
    return from_numpy(np.ascontiguousarray(a))


def evaluate_lm(model, ids, batch_size: int = 32, seq_len: int = 256, max_tokens: int | None = None) -> float:
    """Mean next-token cross-entropy (nats per token) over the stream ``ids`` (its first ``max_tokens``).

    A stateful model reads ``batch_size`` contiguous rows, its state carried over the whole row; a
    Transformer reads non-overlapping windows of ``seq_len`` (at most its ``max_len``) tokens, each
    scored from its own start (so the first tokens of a window have little context)."""
    ids = token_ids(ids)
    if max_tokens is not None:
        ids = ids[:int(max_tokens) + 1]
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            if getattr(model, "stateful", False):
                batches = LMStreamLoader(ids, max(1, min(batch_size, (len(ids) - 1) // 2)), seq_len)
            else:
                batches = _windows(ids, min(seq_len, getattr(model, "max_len", seq_len)), batch_size)
            total, count, state = 0.0, 0, None
            for x, y in batches:
                loss, state = model.loss(x, y, state)
                total += float(loss.data) * y.numel()
                count += y.numel()
    finally:
        model.train(was_training)
    return total / max(count, 1)


def _windows(ids, T: int, batch_size: int):
    """Non-overlapping windows of ``T`` tokens, ``batch_size`` at a time (a stateless model: state None)."""
    n = (len(ids) - 1) // T
    win = ids[:n * T + 1]
    xs, ys = win[:-1].reshape(n, T), win[1:].reshape(n, T)
    for a in range(0, n, batch_size):
        yield _t(xs[a:a + batch_size]), _t(ys[a:a + batch_size])


class StreamBatches:
    """Truncated-BPTT batches for a recurrent model: epoch ``e`` reads the stream from a random offset
    below ``seq_len`` (seeded by ``seed + e``), so window boundaries move between epochs."""

    def __init__(self, ids, batch_size: int, seq_len: int, seed: int = 0):
        self.ids, self.batch_size, self.seq_len, self.seed = token_ids(ids), batch_size, seq_len, seed
        self.epoch = 0
        self._len = len(self._loader(0))

    def _loader(self, epoch):
        return LMStreamLoader(self.ids, self.batch_size, self.seq_len, drop_last=True, random_offset=True,
                              seed=self.seed + epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self._len

    def __iter__(self):
        return iter(self._loader(self.epoch))


class RandomWindows:
    """``steps_per_epoch`` batches of ``batch_size`` windows at uniformly random starts (``y`` shifted by
    one), from a generator seeded once; its state is the loader's state (exact resume)."""

    def __init__(self, ids, batch_size: int, seq_len: int, seed: int = 0, steps_per_epoch: int | None = None):
        self.ids, self.batch_size, self.seq_len = token_ids(ids), batch_size, seq_len
        self.steps_per_epoch = steps_per_epoch or max(1, (len(self.ids) - 1) // (batch_size * seq_len))
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.steps_per_epoch

    def __iter__(self):
        for _ in range(self.steps_per_epoch):
            starts = self.rng.integers(0, len(self.ids) - self.seq_len - 1, self.batch_size)
            win = self.ids[starts[:, None] + np.arange(self.seq_len + 1)]
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


class LanguageModelStep(Step):
    """Next-token cross-entropy; a stateful model's state is carried (detached) from batch to batch and
    starts afresh each epoch.  ``evaluate(TokenStream)`` -> ``{"loss": nats per token}``."""

    monitor = ("val_loss", "min")

    def __init__(self, model, optimizer):
        super().__init__({"model": model}, {"optimizer": optimizer})
        self.model, self.optimizer = model, optimizer
        self.stateful = bool(getattr(model, "stateful", False))
        self.state = None

    def begin_epoch(self, epoch: int) -> None:
        self.state = None

    def train_step(self, batch) -> dict:
        x, y = batch
        self.optimizer.zero_grad()
        loss, state = self.model.loss(x, y, detach_hidden(self.state) if self.stateful else None)
        self.state = state if self.stateful else None
        return {"loss": self.minimize(loss, self.optimizer)}

    def evaluate(self, data) -> dict:
        if not isinstance(data, TokenStream):
            data = TokenStream(data, 256)
        return {"loss": evaluate_lm(self.model, data.ids, seq_len=data.seq_len, max_tokens=data.max_tokens)}

    # the carried state is part of the run: a resume mid-epoch continues it
    def state_dict(self) -> dict:
        state = super().state_dict()
        if self.state is not None:
            parts = self.state if isinstance(self.state, (tuple, list)) else (self.state,)
            state["carry"] = {"arrays": [p.data for p in parts], "tuple": isinstance(self.state, (tuple, list))}
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        carry = state.get("carry")
        if carry:
            parts = [from_numpy(np.array(a)) for a in carry["arrays"]]
            self.state = tuple(parts) if carry["tuple"] else parts[0]
