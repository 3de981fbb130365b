"""The array backend: which array module nabla computes with, its default dtype, its random generator.

Chainer's ``xp`` pattern: creation functions ask this module for ``xp`` (NumPy today).  Ops call
NumPy's ufuncs and array functions, which dispatch to other array libraries (CuPy) through NumPy's
``__array_ufunc__`` / ``__array_function__`` protocols, so a GPU backend plugs in here, not in the ops.
"""
from __future__ import annotations

import numpy as np

xp = np  # the array module used to create arrays

_default_dtype = np.dtype(np.float32)
_rng = np.random.default_rng()

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
# PyTorch-style aliases
half, float, double, long, int = float16, float32, float64, int64, int32


def set_array_module(module) -> None:
    """Use ``module`` (NumPy-compatible, e.g. CuPy) to create arrays from now on."""
    global xp
    xp = module


def get_default_dtype() -> np.dtype:
    """The floating dtype new tensors get from Python floats and from rand/randn/zeros..."""
    return _default_dtype


def set_default_dtype(dtype) -> None:
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_dtype = dtype


def manual_seed(seed: int) -> np.random.Generator:
    """Seed nabla's random generator (used by rand, randn, dropout, init, shuffling)."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def rng() -> np.random.Generator:
    """The current global random generator."""
    return _rng


def get_rng_state() -> dict:
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state


def is_floating(dtype) -> bool:
    return np.dtype(dtype).kind == "f"


def resolve_dtype(dtype):
    """None stays None; anything NumPy understands becomes a np.dtype."""
    return None if dtype is None else np.dtype(dtype)
