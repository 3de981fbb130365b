"""Tensor: an array, whether it needs a gradient, its gradient, and the Function that made it.

Operators and math methods (``+``, ``@``, ``.exp()``, ``.sum()`` ...) are attached by ``nabla.ops``,
one family per file, so this file holds only what a tensor *is*.  ``Tensor.data`` is the raw array
(NumPy), the way Chainer/DeZero keep it; PyTorch's ``tensor.data`` is a Tensor, here use ``detach()``.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .grad_mode import _GradState


def _to_array(data, dtype=None) -> np.ndarray:
    """Python data or arrays to an ndarray; Python floats take the default dtype (PyTorch's rule)."""
    if isinstance(data, Tensor):
        arr = data.data
    elif isinstance(data, np.ndarray):
        arr = data
    else:
        arr = np.asarray(data)
        if dtype is None and arr.dtype == np.float64 and not isinstance(data, np.generic):
            arr = arr.astype(backend.get_default_dtype())
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    if type(arr) is not np.ndarray:  # np.generic scalars become 0-d arrays
        arr = np.asarray(arr)
    return arr


def from_numpy(array) -> "Tensor":
    """A tensor on ``array`` itself (no copy: writes to one show in the other), outside any graph
    (requires_grad False), as ``torch.from_numpy``.  The one public way to wrap an array without a graph."""
    if not isinstance(array, np.ndarray) and not isinstance(array, backend.xp.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    return Tensor._make(array, None)


class Tensor:
    __slots__ = ("data", "requires_grad", "grad", "_fn", "_version", "_retains_grad", "_hooks",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        self.data = _to_array(data, backend.resolve_dtype(dtype))
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.data.dtype}")
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._fn = None
        self._version = 0
        self._retains_grad = False
        self._hooks = None

    @classmethod
    def _make(cls, data: np.ndarray, fn) -> "Tensor":
        """Fast path for op outputs: no checks, no copies."""
        t = object.__new__(cls)
        t.data = data
        t.requires_grad = fn is not None
        t.grad = None
        t._fn = fn
        t._version = 0
        t._retains_grad = False
        t._hooks = None
        return t

    # ------------------------------------------------------------------ description
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def size(self, dim: int | None = None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return self.data.size

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    @property
    def is_leaf(self) -> bool:
        return self._fn is None

    @property
    def grad_fn(self):
        return self._fn

    @property
    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    @property
    def device(self) -> str:
        return "cpu" if backend.xp is np else backend.xp.__name__

    def cpu(self) -> "Tensor":
        """This tensor in host memory: itself when its array is a NumPy array (``torch.Tensor.cpu`` on a CPU
        tensor), else a copy moved there (an array of another backend, e.g. CuPy's ``asnumpy``)."""
        if isinstance(self.data, np.ndarray):
            return self
        return Tensor._make(backend.xp.asnumpy(self.data), None)

    # ------------------------------------------------------------------ conversion
    def item(self):
        if self.data.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to Python scalars, got shape {self.shape}")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        if self.requires_grad and _GradState.enabled:
            raise RuntimeError("numpy(): this tensor requires grad; call tensor.detach().numpy() to say you do not need the graph")
        return self.data

    def tolist(self):
        return self.data.tolist()

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    __hash__ = object.__hash__  # == is elementwise, identity still hashes

    def detach(self) -> "Tensor":
        """The same array, cut from the graph."""
        return Tensor._make(self.data, None)

    def detach_(self) -> "Tensor":
        self._fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if not self.is_leaf:
            raise RuntimeError("requires_grad_(): only leaf tensors can change requires_grad; use detach()")
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (reverse mode, one sweep)."""
        from .engine import run_backward
        run_backward((self,), (gradient,), retain_graph=retain_graph, create_graph=create_graph,
                     accumulate_into=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a non-None return replaces it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook(): cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        hooks = self._hooks

        class _Handle:
            def remove(self_inner):
                if hook in hooks:
                    hooks.remove(hook)
        return _Handle()

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad(): the tensor does not require grad")
        if self._fn is not None:
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    # ------------------------------------------------------------------ in-place updates
    def _check_inplace(self, op: str) -> None:
        if _GradState.enabled and self.requires_grad:
            if self._fn is None:
                raise RuntimeError(f"{op}: a leaf tensor that requires grad cannot be modified in place while "
                                   "the graph is recorded; wrap the update in `with nabla.no_grad():`")
            raise RuntimeError(f"{op}: in-place update of a tensor that is part of the graph (made by "
                               f"{self._fn.name}); use the out-of-place form, e.g. x = x + y")

    def _bump(self) -> "Tensor":
        self._version += 1
        return self

    def zero_(self) -> "Tensor":
        self._check_inplace("zero_")
        self.data[...] = 0
        return self._bump()

    def fill_(self, value) -> "Tensor":
        self._check_inplace("fill_")
        self.data[...] = value.data if isinstance(value, Tensor) else value
        return self._bump()

    def copy_(self, src) -> "Tensor":
        self._check_inplace("copy_")
        src = src.data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.copyto(self.data, np.broadcast_to(src, self.shape), casting="unsafe")
        except ValueError:
            raise ValueError(f"copy_: cannot copy a tensor of shape {src.shape} into one of shape {self.shape}") from None
        return self._bump()

    def _inplace(self, ufunc, other, op):
        self._check_inplace(op)
        other_arr = other.data if isinstance(other, Tensor) else other
        if isinstance(other, Tensor) and other.requires_grad and _GradState.enabled:
            raise RuntimeError(f"{op}: the other operand requires grad; in-place ops are not recorded")
        ufunc(self.data, other_arr, out=self.data, casting="same_kind")
        return self._bump()

    def add_(self, other, alpha=1):
        if alpha != 1:
            other = (other.data if isinstance(other, Tensor) else other) * alpha
        return self._inplace(np.add, other, "add_")

    def sub_(self, other, alpha=1):
        if alpha != 1:
            other = (other.data if isinstance(other, Tensor) else other) * alpha
        return self._inplace(np.subtract, other, "sub_")

    def mul_(self, other):
        return self._inplace(np.multiply, other, "mul_")

    def div_(self, other):
        return self._inplace(np.true_divide, other, "div_")

    def clamp_(self, min=None, max=None):
        self._check_inplace("clamp_")
        np.clip(self.data, min, max, out=self.data)
        return self._bump()

    def uniform_(self, a: float = 0.0, b: float = 1.0):
        self._check_inplace("uniform_")
        self.data[...] = backend.rng().uniform(a, b, self.shape)
        return self._bump()

    def normal_(self, mean: float = 0.0, std: float = 1.0):
        self._check_inplace("normal_")
        self.data[...] = backend.rng().normal(mean, std, self.shape)
        return self._bump()

    def __setitem__(self, index, value):
        self._check_inplace("__setitem__")
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        self.data[index] = value.data if isinstance(value, Tensor) else value
        self._bump()

    def _iop(self, inplace, outofplace, other):
        """``x += y``: in place when nothing is recorded and the dtype is kept, else ``x = x + y``."""
        if _GradState.enabled and (self.requires_grad or (isinstance(other, Tensor) and other.requires_grad)):
            return outofplace(self, other)
        arr = other.data if isinstance(other, Tensor) else other
        if np.result_type(self.data, arr) != self.data.dtype or (
                inplace == self.div_ and self.data.dtype.kind != "f"):
            return outofplace(self, other)
        return inplace(arr)

    def __iadd__(self, other):
        return self._iop(self.add_, type(self).__add__, other)

    def __isub__(self, other):
        return self._iop(self.sub_, type(self).__sub__, other)

    def __imul__(self, other):
        return self._iop(self.mul_, type(self).__mul__, other)

    def __itruediv__(self, other):
        return self._iop(self.div_, type(self).__truediv__, other)

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        from .tensor_str import tensor_repr  # the printing rules, kept out of what a tensor is
        return tensor_repr(self)

    __str__ = __repr__
