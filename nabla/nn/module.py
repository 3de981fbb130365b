"""Module: the base class of every layer and model.

A module keeps three ordered registries (dicts, so iteration order is registration order):
    _parameters   name -> Parameter   learned, returned by parameters(), saved in state_dict
    _buffers      name -> Tensor      state that is not learned (running means), saved unless
                                      registered with persistent=False
    _modules      name -> Module      children; their entries appear under dotted names ("0.weight")
Assigning a Parameter or a Module to an attribute registers it (``__setattr__``); reading it back goes
through ``__getattr__``, as in PyTorch.  ``module(x)`` runs the forward pre-hooks, ``forward(x)`` and
the forward hooks.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor, from_numpy
from .parameter import Buffer, Parameter


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class _RemovableHandle:
    _next_id = 0

    def __init__(self, hooks: dict):
        self.hooks = hooks
        self.id = _RemovableHandle._next_id
        _RemovableHandle._next_id += 1

    def remove(self) -> None:
        self.hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _array_of(value):
    """The ndarray inside a Tensor, a NumPy array, or anything np.asarray understands (torch tensors)."""
    if isinstance(value, Tensor):
        return value.data
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor, without importing torch
        return value.detach().cpu().numpy()
    return np.asarray(value)


class Module:
    """Base class for layers and models: subclass it, create parameters/children in ``__init__``
    (after ``super().__init__()``) and define ``forward``."""

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments {args} {kwargs}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers"] = {}
        d["_modules"] = {}
        d["_forward_hooks"] = {}
        d["_forward_pre_hooks"] = {}

    # ------------------------------------------------------------------ forward
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            res = hook(self, args)
            if res is not None:
                args = res if isinstance(res, tuple) else (res,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            res = hook(self, args, out)
            if res is not None:
                out = res
        return out

    def register_forward_hook(self, hook) -> _RemovableHandle:
        """``hook(module, inputs, output)`` after forward; a non-None return replaces the output."""
        h = _RemovableHandle(self._forward_hooks)
        self._forward_hooks[h.id] = hook
        return h

    def register_forward_pre_hook(self, hook) -> _RemovableHandle:
        """``hook(module, inputs)`` before forward; a non-None return replaces the inputs."""
        h = _RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[h.id] = hook
        return h

    # ------------------------------------------------------------------ registration
    def _check_name(self, name, kind):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got {name!r}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                            "(nabla.nn.Parameter or None required)")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            "(nabla Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.pop(name, None)
        else:
            self._non_persistent_buffers[name] = True

    def add_module(self, name: str, module: "Module | None") -> None:
        self._check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            if name not in params:
                self._remove_from(name, d, params)
            params[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                "(nabla.nn.Parameter or None expected)")
            params[name] = value
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            if name not in d["_modules"]:
                self._remove_from(name, d, params)
            d["_modules"][name] = value
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module '{name}' "
                                "(nabla.nn.Module or None expected)")
            d["_modules"][name] = value
        elif isinstance(value, Buffer):
            if params is None:
                raise AttributeError("cannot assign buffers before Module.__init__() call")
            if name not in d["_buffers"]:
                self._remove_from(name, d, params)
            self.register_buffer(name, value, value.persistent)
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                "(nabla Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    @staticmethod
    def _remove_from(name, d, params):
        d.pop(name, None)
        for reg in (params, d["_buffers"], d["_modules"], d["_non_persistent_buffers"]):
            reg.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            r = d.get(reg)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for reg in (self._parameters, self._buffers, self._modules):
            if name in reg:
                del reg[name]
                self._non_persistent_buffers.pop(name, None)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """(dotted name, module) for this module and every descendant, depth first, in order."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate=True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for mod_prefix, m in mods:
            for name, v in getattr(m, registry).items():
                if v is None:
                    continue
                if remove_duplicate:
                    if id(v) in seen:
                        continue
                    seen.add(id(v))
                yield mod_prefix + ("." if mod_prefix else "") + name, v

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        """(dotted name, Parameter), e.g. ("0.weight", ...), in registration order; shared ones once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> "Module":
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if item not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule `{item}` (looking up {target!r})")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer `{name}`")
        return mod._buffers[name]

    def num_parameters(self, only_trainable: bool = False) -> int:
        """How many scalars the parameters hold (shared parameters counted once)."""
        return sum(p.data.size for p in self.parameters() if p.requires_grad or not only_trainable)

    # ------------------------------------------------------------------ modes and bulk operations
    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout drops, batch norm uses batch statistics) for this module and all below."""
        if not isinstance(mode, bool):
            raise ValueError(f"train(): mode is expected to be a bool, got {type(mode).__name__}")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or fill them with zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = from_numpy(np.zeros_like(p.grad.data))

    def apply(self, fn) -> "Module":
        """Call ``fn(m)`` on every submodule (children first) and then on self, e.g. to initialise."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply(self, fn) -> "Module":
        """Replace every parameter's and buffer's array by ``fn(array)`` (dtype casts)."""
        for m in self.modules():
            for reg in (m._parameters, m._buffers):
                for k, t in reg.items():
                    if t is None:
                        continue
                    new = fn(t.data)
                    if new is not t.data:
                        t.data = new
                        t._bump()
                        if t.grad is not None:
                            t.grad = from_numpy(fn(t.grad.data))
        return self

    def to(self, *args, **kwargs) -> "Module":
        """``module.to(nabla.float64)`` casts floating parameters and buffers; devices other than the
        current one are not supported."""
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, str) or a is None:
                continue
            dtype = a
        if dtype is None:
            return self
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{type(self).__name__}.to() only accepts floating dtypes, got {dtype}")
        return self._apply(lambda a: a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a)

    def double(self) -> "Module":
        return self.to(np.float64)

    def float(self) -> "Module":
        return self.to(np.float32)

    def half(self) -> "Module":
        return self.to(np.float16)

    def cpu(self) -> "Module":
        return self

    def type(self, dst_type) -> "Module":
        return self.to(dst_type)

    # ------------------------------------------------------------------ state dict
    def _save_to_state_dict(self, destination, prefix, keep_vars):
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An ordered dict of dotted name -> tensor for every parameter and persistent buffer.
        The tensors share memory with the module (detached, unless ``keep_vars``)."""
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(self, state_dict, prefix, strict, missing, unexpected, errors):
        local = {**{k: v for k, v in self._parameters.items() if v is not None},
                 **{k: v for k, v in self._buffers.items()
                    if v is not None and k not in self._non_persistent_buffers}}
        for name, target in local.items():
            key = prefix + name
            if key not in state_dict:
                missing.append(key)
                continue
            arr = _array_of(state_dict[key])
            if target.ndim == 0 and arr.shape == (1,):
                # a 0-d buffer saved as one element (older nabla checkpoints; PyTorch accepts it too)
                arr = arr.reshape(())
            if arr.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape {tuple(arr.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(target.shape)} "
                              f"(in {self._short_repr()})")
                continue
            try:
                with no_grad():
                    np.copyto(target.data, arr, casting="unsafe")
                    target._bump()
            except Exception as e:  # noqa: BLE001 - report the key, keep loading the others
                errors.append(f"while copying the parameter named {key!r}, whose shape in the model is "
                              f"{tuple(target.shape)} and in the checkpoint {tuple(arr.shape)}: {e}")

    def _short_repr(self) -> str:
        extra = self.extra_repr()
        return f"{type(self).__name__}({extra})" if "\n" not in extra else type(self).__name__

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy ``state_dict``'s arrays (nabla tensors, NumPy arrays, or torch tensors) into this module's
        parameters and buffers, in place.  Returns (missing_keys, unexpected_keys); with ``strict``
        either list being non-empty raises, and a shape mismatch always raises, naming each key, the
        two shapes and the layer."""
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a dict-like state_dict, got {type(state_dict).__name__}")
        missing, unexpected, errors = [], [], []
        for prefix, m in self.named_modules(prefix=""):
            p = prefix + "." if prefix else ""
            m._load_from_state_dict(state_dict, p, strict, missing, unexpected, errors)
        known = set(self.state_dict(keep_vars=True).keys())
        unexpected.extend(k for k in state_dict.keys() if k not in known)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (e.g. ``in_features=4, ...``)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(m), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __getstate__(self):
        return self.__dict__.copy()

    def __setstate__(self, state):
        self.__dict__.update(state)
