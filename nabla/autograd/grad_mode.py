"""Whether operations record the graph: the one switch, set by context managers (PyTorch's API)."""
from __future__ import annotations

import functools
import threading


class _ThreadGradState(threading.local):
    """Grad mode per thread, as PyTorch: each thread starts with recording on, and a no_grad() block in one
    thread does not switch it off in another (a data-loading thread, a server's request threads)."""
    enabled = True  # read by Function.apply on every op; the class value is each new thread's default


_GradState = _ThreadGradState()


def is_grad_enabled() -> bool:
    return _GradState.enabled


class set_grad_enabled:
    """Turn graph recording on or off: a function call, a context manager, or a decorator."""

    def __init__(self, mode: bool):
        self.prev = _GradState.enabled
        self.mode = bool(mode)
        _GradState.enabled = self.mode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _GradState.enabled = self.prev
        return False

    def __call__(self, func):
        """As a decorator: constructing it switched the mode, so switch back; calls of func use mode."""
        _GradState.enabled = self.prev
        return _wrap(func, self.mode)


def _wrap(func, mode):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        prev = _GradState.enabled
        _GradState.enabled = mode
        try:
            return func(*args, **kwargs)
        finally:
            _GradState.enabled = prev

    return wrapper


class _GradModeContext:
    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is not None:  # bare ``@no_grad`` (no parentheses), as PyTorch allows
            return _wrap(func, cls.mode)
        return self

    def __enter__(self):
        self.prev = _GradState.enabled
        _GradState.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _GradState.enabled = self.prev
        return False

    def __call__(self, func):
        return _wrap(func, self.mode)


class no_grad(_GradModeContext):
    """Ops inside run as plain array code and record nothing (evaluation, optimizer updates)."""

    mode = False


class enable_grad(_GradModeContext):
    """Record the graph again, e.g. inside a ``no_grad`` block."""

    mode = True
