"""All parameters as one flat vector and back (PyTorch's parameters_to_vector / vector_to_parameters)."""
from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """Flatten and concatenate the parameters, in order, into one 1-d Tensor (differentiable)."""
    from ... import ops
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    if not parameters:
        raise ValueError("parameters_to_vector: got no parameters")
    return ops.cat([ops.reshape(p, (-1,)) for p in parameters])


def vector_to_parameters(vec, parameters) -> None:
    """Copy consecutive slices of the 1-d ``vec`` into the parameters (in place, sizes must add up)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-d, got shape {vec.shape}")
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    total = sum(p.data.size for p in parameters)
    if total != vec.shape[0]:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} elements, the parameters have {total}")
    pointer = 0
    for p in parameters:
        n = p.data.size
        np.copyto(p.data, vec.data[pointer:pointer + n].reshape(p.data.shape), casting="same_kind")
        p._version += 1
        pointer += n
