"""Checkpoints: everything needed to resume training, in one safetensors file.

Layout: every NumPy array in the (nested) checkpoint dict -- model weights, optimizer moments,
buffers -- is stored as a safetensors tensor under its dotted path; everything else (epoch, config,
hyper-parameters, RNG state) is JSON in the file's metadata, with ``{"__array__": key}`` where an
array was.  Loading parses a length-prefixed JSON header and raw bytes: it never executes code
(unlike pickle).  Writes go to a temporary file in the same folder, are flushed to disk, then
renamed over the target, so a crash mid-save leaves the previous checkpoint intact.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from ..autograd.tensor import Tensor

FORMAT = "nabla-checkpoint-1"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, corrupt, truncated, or does not fit what it is loaded into."""


def _flatten(obj, prefix, arrays):
    """Split a nested structure into arrays (keyed by dotted path) and a JSON skeleton."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        key = prefix or "value"
        arrays[key] = np.ascontiguousarray(obj)
        if obj.ndim == 0:  # safetensors' NumPy side reads a 0-d array back as shape (1,): say so
            return {"__array__": key, "shape": []}
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            sk = str(k)
            out[sk] = _flatten(v, f"{prefix}.{sk}" if prefix else sk, arrays)
        # remember keys that were ints (optimizer state is keyed by parameter index)
        int_keys = [str(k) for k in obj if isinstance(k, (int, np.integer)) and not isinstance(k, bool)]
        if int_keys:
            out["__int_keys__"] = int_keys
        return out
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, f"{prefix}.{i}", arrays) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"save_checkpoint: cannot store a value of type {type(obj).__name__} at {prefix!r} "
                    "(only arrays, tensors, numbers, strings, lists, tuples and dicts)")


def _unflatten(skel, arrays):
    if isinstance(skel, dict):
        if "__array__" in skel:
            key = skel["__array__"]
            if key not in arrays:
                raise CheckpointError(f"checkpoint is inconsistent: array {key!r} named in the header is missing")
            a = arrays[key]
            return a.reshape(skel["shape"]) if "shape" in skel and a.size == 1 else a
        if "__tuple__" in skel:
            return tuple(_unflatten(v, arrays) for v in skel["__tuple__"])
        int_keys = set(skel.get("__int_keys__", ()))
        return {(int(k) if k in int_keys else k): _unflatten(v, arrays)
                for k, v in skel.items() if k != "__int_keys__"}
    if isinstance(skel, list):
        return [_unflatten(v, arrays) for v in skel]
    return skel


def _safetensors():
    try:
        from safetensors import numpy as st_numpy
        return st_numpy
    except ImportError:  # pragma: no cover - an install requirement
        raise ImportError("checkpoints need the safetensors package: pip install safetensors") from None


def save_checkpoint(path, state: dict) -> str:
    """Write ``state`` (a nested dict of arrays/tensors and plain values) atomically to ``path``."""
    st = _safetensors()
    arrays: dict[str, np.ndarray] = {}
    skeleton = _flatten(state, "", arrays)
    header = {"format": FORMAT, "skeleton": json.dumps(skeleton)}
    blob = st.save(arrays, metadata=header)
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".safetensors", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new one, never half
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``; a clear CheckpointError if it is not one."""
    st = _safetensors()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    try:
        with open(path, "rb") as f:
            blob = f.read()
        arrays = st.load(blob)
        from safetensors import safe_open
        with safe_open(path, framework="numpy") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for bad headers and sizes
        raise CheckpointError(f"checkpoint {path!r} is corrupt or truncated ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path!r} is a safetensors file but not a nabla checkpoint "
                              f"(format {meta.get('format')!r}, expected {FORMAT!r})")
    try:
        skeleton = json.loads(meta["skeleton"])
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"checkpoint {path!r} has a damaged header ({e})") from None
    return _unflatten(skeleton, arrays)
