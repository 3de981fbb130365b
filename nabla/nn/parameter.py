"""Parameter: a Tensor that a Module registers as learnable (``requires_grad=True`` by default).

Assigning a Parameter to a Module attribute (``self.weight = Parameter(...)``) is what puts it in
``module.parameters()`` and ``state_dict()``; a plain Tensor attribute is not registered.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd.tensor import Tensor


class Parameter(Tensor):
    """A learnable tensor.  ``Parameter(t)`` shares ``t``'s array (no copy), as in PyTorch."""
    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        if data is None:
            data = np.empty((0,), dtype=backend.get_default_dtype())
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (Parameter, (self.data, self.requires_grad))


class Buffer(Tensor):
    """A tensor that is part of a module's state but not learned (PyTorch's ``nn.Buffer``).
    Assigning ``self.x = Buffer(t)`` registers it like ``register_buffer('x', t)``."""
    __slots__ = ("persistent",)

    def __init__(self, data, persistent: bool = True):
        super().__init__(data.data if isinstance(data, Tensor) else data)
        self.persistent = persistent
