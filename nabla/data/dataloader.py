"""DataLoader: batches of a data set, in order or shuffled, as nabla Tensors (torch.utils.data names)."""
from __future__ import annotations

import collections.abc
from numbers import Integral, Number

import numpy as np

from ..autograd.tensor import Tensor, from_numpy
from .dataset import as_generator
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert"]


def _wrap(arr) -> Tensor:
    return from_numpy(np.asarray(arr))


def default_convert(data):
    """Arrays and numbers become Tensors; containers are converted element by element (no batching)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return _wrap(data) if data.dtype.kind in "biufc" else data
    if isinstance(data, np.generic):
        return _wrap(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, (list, tuple)):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch):
    """Stack a list of samples into a batch, as PyTorch's ``default_collate``.

    Tensors and arrays are stacked on a new first axis; Python ints become an int64 Tensor, floats a
    float64 Tensor and bools a bool Tensor (PyTorch's dtypes); strings stay a list; mappings,
    named tuples and sequences are collated field by field (a tuple or list comes back as a list).
    """
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _wrap(np.stack([b.data for b in batch]))
    if isinstance(elem, (np.ndarray, np.generic)):
        if elem.dtype.kind not in "biufc":
            raise TypeError(f"default_collate: batch must contain tensors, numbers, dicts or lists; "
                            f"found an array of dtype {elem.dtype}")
        return _wrap(np.stack([np.asarray(b) for b in batch]))
    if isinstance(elem, bool):
        return _wrap(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, Integral):
        return _wrap(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, Number) and not isinstance(elem, complex):
        return _wrap(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(b) != len(elem) for b in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size, got "
                               f"lengths {sorted({len(b) for b in batch})}")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, arrays, numbers, dicts or lists; "
                    f"found {type(elem).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches: each batch is collated into nabla Tensors.

    ``DataLoader(dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None,
    drop_last=False, collate_fn=None, generator=None, seed=None)`` with PyTorch's meaning:

    * ``shuffle=True`` visits a new random permutation each epoch (each ``iter(loader)``);
      ``sampler`` gives the order yourself; ``batch_sampler`` gives whole batches of indices
      (then batch_size, shuffle, sampler and drop_last must be left at their defaults).
    * ``drop_last`` drops the last, short batch.  ``len(loader)`` is the number of batches.
    * ``collate_fn(list_of_samples)`` builds a batch; the default stacks samples into Tensors
      (images float32, labels int64 for nabla's data sets).  ``batch_size=None`` turns batching off
      and yields single samples.
    * ``generator`` (a numpy Generator) or ``seed`` (an int) makes the shuffling reproducible: the same
      seed gives the same sequence of epoch orders run after run, and each epoch still gets a new one.
      With neither, shuffling draws from nabla's global generator, so ``nabla.manual_seed`` fixes it.

    **One loop, three kinds of gradient descent.**  A training loop ::

        for epoch in range(epochs):
            for x, y in DataLoader(train_set, batch_size=B, shuffle=True):
                opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()

    is *batch* gradient descent when ``B = len(train_set)`` (one exact gradient of the full loss per
    epoch, one step per epoch), *stochastic* gradient descent when ``B = 1`` (one noisy step per sample,
    ``len(train_set)`` steps per epoch), and *mini-batch* gradient descent for anything between (the
    gradient averaged over B samples: less noise than B = 1, more steps than B = n, and vectorised).
    Only the batch size changes; the loop does not.

    **Fast path.**  When ``collate_fn`` is None and the data set is array-backed (it has
    ``get_batch(indices)``: TensorDataset, Subset/ConcatDataset of such, and nabla's image data sets),
    a batch is made by one fancy-index of each whole array with the batch's index array, not by a
    Python loop over samples, and samplers hand over each epoch's order as one array.
    ``num_workers`` and ``pin_memory`` are accepted for compatibility and ignored (single process).
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool = False, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, generator=None, seed: int | None = None):
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: give either generator or seed, not both")
        if seed is not None:
            generator = as_generator(int(seed))
        elif generator is not None:
            generator = as_generator(generator)
        if not isinstance(num_workers, Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: num_workers should be a non-negative integer, got {num_workers!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, bool(drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.generator, self.num_workers, self.pin_memory = generator, num_workers, pin_memory
        self.collate_fn = collate_fn
        self._auto_collation = batch_sampler is not None

    # ------------------------------------------------------------------ iteration
    def _index_batches(self):
        bs = self.batch_sampler
        if hasattr(bs, "index_batches"):
            return bs.index_batches()
        return (np.asarray(b, dtype=np.int64) for b in bs)

    def __iter__(self):
        if not self._auto_collation:  # batch_size=None: single samples, converted
            convert = self.collate_fn or default_convert
            for i in self.sampler:
                yield convert(self.dataset[i])
            return
        if self.collate_fn is None and hasattr(self.dataset, "get_batch"):
            get_batch = self.dataset.get_batch
            for idx in self._index_batches():
                # arrays as they are; anything else (a detection set's list of target dicts) element-wise
                yield [_wrap(a) if isinstance(a, np.ndarray) else default_convert(a) for a in get_batch(idx)]
            return
        collate = self.collate_fn or default_collate
        for idx in self._index_batches():
            yield collate([self.dataset[int(i)] for i in idx])

    def __len__(self) -> int:
        if self._auto_collation:
            return len(self.batch_sampler)
        return len(self.sampler)

    # ------------------------------------------------------------------ resuming
    def state_dict(self) -> dict:
        """The state of the loader's own generator (if it has one), to resume shuffling exactly."""
        return {"generator": None if self.generator is None else self.generator.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        if state.get("generator") is not None:
            if self.generator is None:
                raise ValueError("DataLoader.load_state_dict: the state holds a generator state, but this loader "
                                 "has no generator (pass generator= or seed=)")
            self.generator.bit_generator.state = state["generator"]

    def __repr__(self) -> str:
        return (f"DataLoader(dataset={type(self.dataset).__name__} of {len(self.dataset)}, "
                f"batch_size={self.batch_size}, sampler={type(self.sampler).__name__}, drop_last={self.drop_last})")

