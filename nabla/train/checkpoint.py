"""Checkpoints: everything needed to resume training, in one safetensors file.

The file format (arrays as safetensors tensors under their dotted paths, everything else JSON in the
metadata; never executes code when loading; written atomically) is ``nabla.serialization``'s, the one
``nabla.save`` / ``nabla.load`` use: a checkpoint is a nested dict saved with it.
"""
from __future__ import annotations

from ..serialization import FORMAT, SerializationError, encode, read, write_atomic

__all__ = ["save_checkpoint", "load_checkpoint", "CheckpointError", "FORMAT"]


class CheckpointError(SerializationError):
    """A checkpoint file is missing, corrupt, truncated, or does not fit what it is loaded into."""


def save_checkpoint(path, state: dict) -> str:
    """Write ``state`` (a nested dict of arrays/tensors and plain values) atomically to ``path``."""
    return write_atomic(path, encode(state, "save_checkpoint"))


def load_checkpoint(path) -> dict:
    """Read a checkpoint written by ``save_checkpoint``; a clear CheckpointError if it is not one."""
    return read(path, CheckpointError, "checkpoint")
