"""The ``nabla train`` command that repeats a run, from what its checkpoint records.

A run folder keeps the run's record (model, data set, options, every resolved setting) in its checkpoints'
metadata, not the command line that started it.  The command is rebuilt from the record: the model and data
set, ``--set`` for each option that differs from the model's default, a flag for each setting that differs from
what ``nabla train`` would resolve by itself (the task's, then the model's defaults), and ``--out`` the folder.
A setting with no flag (``betas``, ``momentum``) is left out: only the model's own defaults set those.
"""
from __future__ import annotations

import shlex

from ..models import get_model_entry
from ..train import settings as S

_BOOLEAN_FLAGS = ("augment", "sync_bn")
# settings that the command line cannot set (they come from the model's registration only)
_NO_FLAG = ("betas", "momentum", "min_lr_ratio")


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    return str(value)


def _default_lr(settings: dict):
    entry = S.OPTIMIZERS.get(settings.get("optimizer"))
    return entry[1] if entry else None


def _setting_flags(recorded: dict, defaults: dict) -> list:
    flags = []
    for key, value in recorded.items():
        if key in _NO_FLAG or key not in defaults or value == defaults[key]:
            continue
        if key == "lr" and defaults[key] is None and value == _default_lr(recorded):
            continue  # the optimizer's own default rate, recorded as the rate used
        if key in _BOOLEAN_FLAGS:
            flags += [f"--{key.replace('_', '-')}"] if value else []
        elif value is not None:
            flags += [f"--{key.replace('_', '-')}", _text(value)]
    return flags


def train_command(config: dict, folder: str) -> str:
    """``nabla train MODEL --dataset D [--set k=v ...] [--flag value ...] --out FOLDER`` for a checkpoint's
    record; "" when the record names no model."""
    model = config.get("model")
    if not model:
        return ""
    words = ["nabla", "train", model]
    if config.get("dataset"):
        words += ["--dataset", str(config["dataset"])]
    options, recorded = dict(config.get("options") or {}), dict(config.get("settings") or {})
    try:
        entry = get_model_entry(model)
        default_options = entry.options
        defaults = S.resolve(config.get("task") or entry.task, entry.training)
    except (KeyError, ValueError):  # a model this version no longer registers: every value, explicitly
        default_options, defaults = {}, {k: object() for k in recorded}
    for key, value in options.items():
        if key not in default_options or default_options[key] != value:
            words += ["--set", f"{key}={_text(value)}"]
    words += _setting_flags(recorded, defaults)
    if int(config.get("world_size") or 1) > 1:
        words = ["mpiexec", "-n", str(int(config["world_size"]))] + words
    return shlex.join(words + ["--out", folder])
