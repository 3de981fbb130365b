"""Saving and loading tensors, state dicts and checkpoints: ``nabla.save`` / ``nabla.load`` (PyTorch's
names) on one safetensors file format, shared with ``nabla.train.checkpoint``.

Layout: every array in the (nested) object -- weights, optimizer moments, buffers -- is stored as a
safetensors tensor under its dotted path; everything else (numbers, strings, config, RNG state) is JSON
in the file's metadata, with ``{"__array__": key}`` where an array was (``"tensor": true`` added where
``save`` was handed a Tensor, so that ``load`` gives a Tensor back).  Loading parses a length-prefixed
JSON header and raw bytes: it never executes code (unlike pickle, which ``torch.save`` uses; so only
arrays, tensors, numbers, strings, None, lists, tuples and dicts can be saved).  Writes go to a temporary
file in the same folder, are flushed to disk, then renamed over the target, so a crash mid-save leaves
the previous file intact; the file gets the permissions of any new file (0o666 less the umask).
"""
from __future__ import annotations

import json
import os
import uuid

import numpy as np

from .autograd.tensor import Tensor

__all__ = ["save", "load", "SerializationError"]

FORMAT = "nabla-checkpoint-1"


class SerializationError(RuntimeError):
    """A file is missing, corrupt, truncated, or not one that nabla wrote."""


def _flatten(obj, prefix, arrays, who, mark_tensors=False):
    """Split a nested structure into arrays (keyed by dotted path) and a JSON skeleton."""
    tensor = isinstance(obj, Tensor)
    if tensor:
        obj, tensor_requires_grad = obj.data, obj.requires_grad
    if isinstance(obj, np.ndarray):
        key = prefix or "value"
        arrays[key] = np.ascontiguousarray(obj)
        skel = {"__array__": key}
        if obj.ndim == 0:  # safetensors' NumPy side reads a 0-d array back as shape (1,): say so
            skel["shape"] = []
        if tensor and mark_tensors:
            skel["tensor"] = True
            if tensor_requires_grad:
                skel["requires_grad"] = True
        return skel
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            sk = str(k)
            out[sk] = _flatten(v, f"{prefix}.{sk}" if prefix else sk, arrays, who, mark_tensors)
        # remember keys that were ints (optimizer state is keyed by parameter index)
        int_keys = [str(k) for k in obj if isinstance(k, (int, np.integer)) and not isinstance(k, bool)]
        if int_keys:
            out["__int_keys__"] = int_keys
        return out
    if isinstance(obj, (list, tuple)):
        items = [_flatten(v, f"{prefix}.{i}", arrays, who, mark_tensors) for i, v in enumerate(obj)]
        return {"__tuple__": items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"{who}: cannot store a value of type {type(obj).__name__} at {prefix!r} "
                    "(only arrays, tensors, numbers, strings, lists, tuples and dicts)")


def _unflatten(skel, arrays, error=SerializationError):
    if isinstance(skel, dict):
        if "__array__" in skel:
            key = skel["__array__"]
            if key not in arrays:
                raise error(f"the file is inconsistent: array {key!r} named in the header is missing")
            a = arrays[key]
            a = a.reshape(skel["shape"]) if "shape" in skel and a.size == 1 else a
            return Tensor(a, requires_grad=bool(skel.get("requires_grad"))) if skel.get("tensor") else a
        if "__tuple__" in skel:
            return tuple(_unflatten(v, arrays, error) for v in skel["__tuple__"])
        int_keys = set(skel.get("__int_keys__", ()))
        return {(int(k) if k in int_keys else k): _unflatten(v, arrays, error)
                for k, v in skel.items() if k != "__int_keys__"}
    if isinstance(skel, list):
        return [_unflatten(v, arrays, error) for v in skel]
    return skel


def _safetensors():
    try:
        from safetensors import numpy as st_numpy
        return st_numpy
    except ImportError:  # pragma: no cover - an install requirement
        raise ImportError("saving and loading need the safetensors package: pip install safetensors") from None


def encode(obj, who: str = "save", mark_tensors: bool = False) -> bytes:
    """The file's bytes for ``obj``."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = _flatten(obj, "", arrays, who, mark_tensors)
    header = {"format": FORMAT, "skeleton": json.dumps(skeleton)}
    return _safetensors().save(arrays, metadata=header)


def write_atomic(path, blob: bytes) -> str:
    """Write ``blob`` to ``path`` through a temporary file renamed over it; returns the path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # a fresh name created exclusively with mode 0o666, so the kernel applies the umask, as to any new file
    # (mkstemp would give 0o600; reading the umask means setting it, a process-wide race)
    tmp = os.path.join(folder, f".tmp-{os.getpid()}-{uuid.uuid4().hex}.safetensors")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
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


def read(path, error=SerializationError, what: str = "file", foreign: bool = False):
    """The object stored at ``path`` (arrays as arrays, tensors as Tensors); ``error`` (a class) and ``what``
    (the word for the file) make the messages of the caller's kind.  ``foreign``: a safetensors file that
    another library wrote (no nabla header: ``safetensors.torch.save_file``, a model hub's weights) is read as
    the flat dict of its arrays, as ``safetensors.numpy.load_file`` reads it."""
    st = _safetensors()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise error(f"{what} {path!r} does not exist")
    try:
        with open(path, "rb") as f:
            blob = f.read()
        arrays = st.load(blob)
        # the metadata from the same bytes: an 8-byte little-endian header length, then the JSON header
        meta = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")]).get("__metadata__") or {}
    except Exception as e:  # safetensors raises its own error types for bad headers and sizes
        raise error(f"{what} {path!r} is corrupt or truncated ({type(e).__name__}: {e})") from None
    if foreign and meta.get("format") != FORMAT and "skeleton" not in meta:  # e.g. {"format": "pt"} or none
        return dict(arrays)
    if meta.get("format") != FORMAT:
        raise error(f"{path!r} is a safetensors file but not a nabla {what} "
                    f"(format {meta.get('format')!r}, expected {FORMAT!r})")
    try:
        skeleton = json.loads(meta["skeleton"])
    except (KeyError, ValueError) as e:
        raise error(f"{what} {path!r} has a damaged header ({e})") from None
    return _unflatten(skeleton, arrays, error)


def save(obj, f) -> None:
    """Save a tensor, a state dict (``module.state_dict()``, ``optimizer.state_dict()``) or any nesting of
    dicts, lists and tuples of tensors, arrays, numbers and strings to the file ``f`` (a path), as
    ``torch.save`` does.  Tensors come back from :func:`load` as tensors (requires_grad kept), arrays as
    arrays."""
    write_atomic(f, encode(obj, "save", mark_tensors=True))


def load(f, map_location=None, weights_only: bool = True):
    """The object :func:`save` (or ``nabla.train.save_checkpoint``) wrote to the file ``f``, as
    ``torch.load`` reads it.  It never runs code from the file (``weights_only`` is always in effect);
    ``map_location`` is accepted for PyTorch's signature (everything loads into host memory).  A safetensors
    file written by another library (PyTorch's ``safetensors.torch.save_file``) loads as a dict of arrays, so
    ``model.load_state_dict(nb.load(path))`` takes PyTorch's weights."""
    return read(f, foreign=True)
