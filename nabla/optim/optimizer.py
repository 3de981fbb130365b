"""Optimizer: the base class every update rule shares (PyTorch's ``torch.optim.Optimizer``).

An optimizer holds *param groups* -- lists of tensors, each with its own hyper-parameters (``lr``,
``weight_decay`` ...), the constructor's values filling in what a group leaves out -- and a
per-parameter ``state`` dict (momentum buffers, moment estimates, step counts).  ``step()`` reads
each parameter's ``.grad`` and updates ``.data`` in place.

The updates are plain NumPy on the raw arrays: ufuncs with ``out=`` into preallocated state buffers
and reusable scratch buffers, so a step makes no temporaries the size of the model and no Python
loop runs over elements, only over parameters (and over cache-sized blocks of large ones).
Each in-place update bumps the tensor's ``_version`` so a graph that saved the old value notices.
"""
from __future__ import annotations

import copy
import os
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from itertools import chain

import numpy as np

from ..autograd.tensor import Tensor, from_numpy
from ..autograd.grad_mode import enable_grad

__all__ = ["Optimizer", "required", "set_num_threads", "get_num_threads"]

_BLOCK = 32768  # elements per block of an update: a few such arrays fit in a core's L2 cache


class _Threads:
    """The worker threads that share the blocks of a large update (created on first use, per process)."""

    def __init__(self):
        # one by default: on a machine whose cores are busy (BLAS threads, other processes) a second
        # thread made the MLP's Adam step slower, not faster; set_num_threads(n) opts in
        self.count = 1
        self._pool = None
        self._pool_key = None

    def pool(self) -> ThreadPoolExecutor:
        key = (os.getpid(), self.count)  # a forked child inherits the executor but not its threads
        if self._pool_key != key:
            if self._pool is not None and self._pool_key[0] == os.getpid():
                self._pool.shutdown(wait=False)
            self._pool = ThreadPoolExecutor(max_workers=self.count - 1, thread_name_prefix="nabla-optim")
            self._pool_key = key
        return self._pool


_threads = _Threads()


def set_num_threads(n: int) -> None:
    """How many threads an optimizer step may use for parameters of more than 2 * 32768 elements
    (default 1).  More threads help on a machine with idle cores; the results do not change."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    _threads.count = n


def get_num_threads() -> int:
    """The number of threads an optimizer step may use (see :func:`set_num_threads`)."""
    return _threads.count


class _RequiredParameter:
    """Marks a hyper-parameter that has no default: every param group must give it."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class: param groups, per-parameter state, ``zero_grad``, ``state_dict``/``load_state_dict``.

    Args:
        params: an iterable of tensors (or ``(name, tensor)`` pairs), or of dicts, each dict a param
            group ``{"params": [...], "lr": ..., ...}`` whose missing options come from ``defaults``.
        defaults: the optimizer's hyper-parameters, used for groups that do not set them.

    Subclasses implement ``_update_group(group)`` (one update of every parameter of a group that has
    a gradient) and, to validate hyper-parameters, ``_check_hyperparameters(options)``.
    """

    def __init__(self, params, defaults: dict):
        self.defaults = defaults
        self._check_hyperparameters(defaults)
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {type(params).__name__}")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._scratch: dict = {}
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def _check_hyperparameters(self, options: dict) -> None:
        """Raise ValueError for an invalid hyper-parameter (negative lr ...); subclasses extend it."""
        lr = options.get("lr", None)
        if lr is not None and lr is not required and lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")

    @staticmethod
    def _check_nonnegative(options: dict, *names: str) -> None:
        """ValueError for the first of ``names`` that is negative (or NaN), worded as PyTorch's."""
        for name in names:
            if not 0.0 <= options[name]:
                raise ValueError(f"Invalid {'epsilon' if name == 'eps' else name} value: {options[name]}")

    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own hyper-parameters (e.g. unfreezing layers mid-training)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        param_group = dict(param_group)  # do not change the caller's dict
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        else:
            params = list(params)

        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                p = p[1]
            tensors.append(p)
        if names:
            if len(names) != len(tensors):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = tensors

        for i, p in enumerate(tensors):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but parameter {i} of the group is a "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (parameter {i} of the group, shape "
                                 f"{p.shape}, made by {p.grad_fn.name}); optimize the leaf it was computed from")
            # a frozen tensor (requires_grad=False) is accepted, as in PyTorch: it never gets a
            # gradient, so step() skips it, and unfreezing it later makes it train

        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(f"parameter group didn't specify a value of required optimization parameter {name}")
            param_group.setdefault(name, default)
        self._check_hyperparameters(param_group)

        seen = set()
        for i, p in enumerate(tensors):
            if id(p) in seen:
                raise ValueError(f"optimizer got parameter {i} (shape {p.shape}) twice in the same parameter group; "
                                 "each tensor may appear only once")
            seen.add(id(p))
        for g in self.param_groups:
            if not seen.isdisjoint(id(q) for q in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
            if ("param_names" in g) != ("param_names" in param_group):
                raise ValueError("all optimizer param groups should be with/without names.")

        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients and steps
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set every ``.grad`` to None (default), or fill it with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if set_to_none:
                    p.grad = None
                    continue
                g.detach_()
                arr = g.data
                if arr.flags.writeable and arr.base is None:
                    arr[...] = 0
                    g._version += 1
                else:  # a view or a read-only broadcast: do not write through it into someone else's array
                    p.grad = from_numpy(np.zeros_like(p.data))

    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        closure: optional callable that re-evaluates the model (zero_grad, forward, backward) and
        returns the loss; it runs first, with gradient recording on, and its loss is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update_group(group) or step()")

    @staticmethod
    def _params_with_grad(group: dict):
        """The group's parameters that have a gradient (the others are left as they are)."""
        return (p for p in group["params"] if p.grad is not None)

    def _update_param(self, p: Tensor, state_arrays: tuple, *args) -> None:
        """Update ``p`` in place: ``self._kernel(p.data, grad, *state_arrays, *args)`` run block by block,
        then ``p``'s version bumped so that a graph that saved the old value notices."""
        self._blocked(self._kernel, (p.data, self._grad_of(p), *state_arrays), *args)
        p._version += 1

    def _blocked(self, kernel, arrays, *args) -> None:
        """Run ``kernel(*arrays, *args)`` on consecutive blocks of the (flattened) arrays.

        An update is a dozen elementwise passes; over blocks that fit in the L2 cache only the first
        read and last write of each array go to main memory, which makes a large update about a
        third faster.  With ``set_num_threads(n > 1)`` the blocks are shared among n threads (NumPy
        releases the GIL inside ufuncs), as PyTorch spreads its update over its intra-op threads.
        Arrays that are not C-contiguous, or small, are done in one piece.
        """
        n = arrays[0].size
        if n <= _BLOCK or not all(a is None or a.flags.c_contiguous for a in arrays):
            kernel(*arrays, *args)
            return
        flat = [None if a is None else a.reshape(-1) for a in arrays]

        def run(lo, hi):
            for s in range(lo, hi, _BLOCK):
                kernel(*[None if a is None else a[s:min(s + _BLOCK, hi)] for a in flat], *args)

        nblocks = -(-n // _BLOCK)
        workers = min(_threads.count, nblocks // 2)  # at least two blocks per thread
        if workers <= 1:
            run(0, n)
            return
        per = -(-nblocks // workers) * _BLOCK
        pool = _threads.pool()
        futures = [pool.submit(run, lo, min(lo + per, n)) for lo in range(per, n, per)]
        run(0, min(per, n))
        for f in futures:
            f.result()

    def _tmp(self, like: np.ndarray, slot: int = 0) -> np.ndarray:
        """A scratch array shaped like ``like``: a view of one flat buffer per (dtype, slot), reused
        by every parameter, so a step allocates nothing once the buffers have grown."""
        key = (like.dtype, slot, threading.get_ident())  # one set per thread of a blocked update
        buf = self._scratch.get(key)
        n = like.size
        if buf is None or buf.size < n:
            buf = np.empty(n, dtype=like.dtype)
            self._scratch[key] = buf
        return buf[:n].reshape(like.shape)

    @staticmethod
    def _grad_of(p: Tensor) -> np.ndarray:
        g = p.grad.data
        if g.shape != p.data.shape:
            raise RuntimeError(f"optimizer step: the gradient has shape {g.shape} but the parameter has shape "
                               f"{p.data.shape}")
        return g

    def _direction(self, p: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
        """``(-g if maximize else g) + weight_decay * p``; the gradient itself when neither applies
        (never written to), else scratch slot 0."""
        if weight_decay != 0:
            t = self._tmp(p, 0)
            np.multiply(p, weight_decay, out=t)
            if maximize:
                t -= g
            else:
                t += g
            return t
        if maximize:
            t = self._tmp(p, 0)
            np.negative(g, out=t)
            return t
        return g

    # ------------------------------------------------------------------ saving and loading
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` (PyTorch's layout).

        Parameters are numbered in the order the groups list them; the state's arrays are the live
        NumPy buffers (copy them, or save them, before stepping again if the snapshot must not change).
        """
        mapping: dict[int, int] = {}
        index = 0
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for p in g["params"]:
                if id(p) not in mapping:
                    mapping[id(p)] = index
                    index += 1
            packed["params"] = [mapping[id(p)] for p in g["params"]]
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict()`` (this optimizer's, or a PyTorch one converted to arrays).

        The saved groups must have as many parameters as this optimizer's, in the same order;
        arrays are copied and cast to each parameter's dtype, and their shapes are checked.
        """
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with keys 'state' and 'param_groups' "
                             "(as returned by state_dict())")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups ({len(saved_groups)}, "
                             f"the optimizer has {len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't match the size of "
                                 f"optimizer's group (group {i}: {len(s['params'])} saved, "
                                 f"{len(g['params'])} in the optimizer)")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))

        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                p = id_map[k]
                state[p] = {key: self._cast_state(p, k, key, value) for key, value in v.items()}
            else:
                state[k] = copy.deepcopy(v)

        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            for name, default in self.defaults.items():
                s.setdefault(name, default)
            self._fix_loaded_group(s)
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    def _fix_loaded_group(self, group: dict) -> None:
        """Hook: normalise a loaded group (e.g. betas to a tuple of floats)."""

    @staticmethod
    def _cast_state(p: Tensor, index, key, value):
        if key == "step":
            return float(np.asarray(value.data if isinstance(value, Tensor) else value))
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        arr = value.data if isinstance(value, Tensor) else value
        if hasattr(arr, "__array__") or isinstance(arr, (list, tuple)):
            arr = np.asarray(arr)
            dtype = p.data.dtype if arr.dtype.kind in "fc" else arr.dtype
            arr = np.array(arr, dtype=dtype, copy=True, order="C")
            if arr.ndim > 0 and arr.shape != p.data.shape:
                raise ValueError(f"load_state_dict: state '{key}' of parameter {index} has shape {arr.shape}, "
                                 f"but the parameter has shape {p.data.shape}")
            return arr
        return copy.deepcopy(value)

    # ------------------------------------------------------------------ description
    def __getstate__(self) -> dict:
        d = dict(self.__dict__)
        d["_scratch"] = {}  # scratch buffers are not state
        d.pop("step", None)  # an lr scheduler's wrapper around step
        return d

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        s = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}\n"
            for key in sorted(group.keys()):
                if key != "params":
                    s += f"    {key}: {group[key]}\n"
        return s + ")"
