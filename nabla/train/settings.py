"""Training settings: their types and defaults, each task's defaults, and how a run's settings are resolved.

A run's settings come from, later winning: the defaults below, the task's (``TASK_DEFAULTS``), the model's
registry entry (``training=``), a resumed checkpoint's record, and what the user set explicitly.  Every
setting is checked here, before any work: ``epochs 0`` or ``lr nan`` is a one-line error naming the
setting, the value and what was expected.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    type: type
    default: object
    help: str = ""
    positive: bool = False      # must be > 0 (where set)
    non_negative: bool = False  # must be >= 0
    choices: tuple | None = None


OPTIMIZERS = {  # name -> (class name in nabla.optim, default lr, extra keyword arguments)
    "sgd": ("SGD", 0.1, {}),
    "momentum": ("SGD", 0.05, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.05, {"momentum": 0.9, "nesterov": True}),
    "adagrad": ("Adagrad", 0.01, {}),
    "rmsprop": ("RMSprop", 1e-3, {}),
    "adam": ("Adam", 1e-3, {}),
    "adamw": ("AdamW", 1e-3, {}),
}
SCHEDULERS = ("cosine", "step", "none", "warmup-cosine")

SETTINGS = {
    "optimizer": Setting(str, "adam", "optimizer", choices=tuple(OPTIMIZERS)),
    "lr": Setting(float, None, "learning rate (default: the model's, else the optimizer's)", positive=True),
    "betas": Setting(tuple, None, "Adam's (beta1, beta2)"),
    "momentum": Setting(float, None, "SGD momentum (default: the optimizer's)", non_negative=True),
    "weight_decay": Setting(float, 0.0, "L2 weight decay", non_negative=True),
    "l1": Setting(float, 0.0, "L1 penalty lambda: lambda * sign(w) added to the gradient of each weight tensor of "
                              "2+ dimensions (biases and norm parameters are not penalised; 0: off)",
                  non_negative=True),
    "batch_size": Setting(int, 128, "samples per step", positive=True),
    "epochs": Setting(float, 10, "passes over the training data", positive=True),
    "max_steps": Setting(int, None, "stop after this many optimizer steps", positive=True),
    "time_budget": Setting(float, None, "stop after this many seconds of training", positive=True),
    "budget_clock": Setting(str, "wall", "what time_budget counts", choices=("wall", "cpu")),
    "scheduler": Setting(str, "cosine", "learning-rate schedule", choices=SCHEDULERS),
    "warmup": Setting(int, 0, "learning-rate warm-up steps (warmup-cosine)", non_negative=True),
    "min_lr_ratio": Setting(float, 0.1, "warmup-cosine decays to this fraction of the rate", non_negative=True),
    "clip": Setting(float, 0.0, "gradient-norm clipping threshold (0: off)", non_negative=True),
    "eval_every": Setting(int, None, "steps between evaluations (default: each epoch)", positive=True),
    "eval_tokens": Setting(int, 50_000, "validation tokens scored during training (language models)",
                           positive=True),
    "eval_size": Setting(int, 500, "validation pairs decoded during training (seq2seq)", positive=True),
    "sync_bn": Setting(bool, False, "data parallelism: batch norm layers become nn.SyncBatchNorm (statistics over "
                                    "every process's batch; one process: plain batch norm)"),
    "augment": Setting(bool, False, "random shifted crops (and mirror images where labels allow); detection and "
                                     "segmentation: random shifts that move the boxes and masks with the pixels"),
    "dice_weight": Setting(float, 0.0, "segmentation: weight of the soft Dice loss added to the per-pixel "
                                       "cross-entropy (0: cross-entropy alone)", non_negative=True),
    "train_scenes": Setting(int, 0, "detection, segmentation: train on a fixed set of this many scenes, the same "
                                    "each epoch (0: fresh scenes every epoch)", non_negative=True),
    "seq_len": Setting(int, 128, "tokens per training window (language models)", positive=True),
    "seed": Setting(int, 0, "random seed"),
    "patience": Setting(int, 0, "early-stopping patience in evaluations (0: off)", non_negative=True),
}

# what a task trains with unless its model says otherwise
TASK_DEFAULTS = {
    "lm": {"scheduler": "warmup-cosine", "clip": 1.0, "eval_every": 200, "min_lr_ratio": 0.1},
    "seq2seq": {"scheduler": "warmup-cosine", "clip": 1.0, "min_lr_ratio": 0.05},
    "detection": {"batch_size": 32, "epochs": 5, "clip": 10.0},
}

# settings a resumed run may change: its budget (the schedule is re-planned over it) and its patience
EXTENDABLE = ("epochs", "max_steps", "time_budget", "patience")


class SettingsError(ValueError):
    """A training setting has a value it cannot take (one line: the setting, the value, what was expected)."""


def check_setting(name: str, value):
    """``value`` converted to the setting's type and checked; a SettingsError otherwise."""
    spec = SETTINGS[name]
    if value is None:
        return None
    if spec.type is tuple:
        value = tuple(float(v) for v in value)
    elif spec.type is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        value = float(value)
    elif not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        raise SettingsError(f"{name} expects {spec.type.__name__}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SettingsError(f"{name} must be a finite number, got {value}")
    if spec.positive and not value > 0:
        raise SettingsError(f"{name} must be positive, got {value:g}")
    if spec.non_negative and value < 0:
        raise SettingsError(f"{name} must not be negative, got {value:g}")
    if spec.choices is not None and value not in spec.choices:
        raise SettingsError(f"{name} must be one of {', '.join(spec.choices)}, got {value!r}")
    return value


def resolve(task: str, model_training: dict, recorded: dict | None = None, given: dict | None = None) -> dict:
    """The settings of a run: defaults < task defaults < the model's < a checkpoint's record < ``given``."""
    out = {k: s.default for k, s in SETTINGS.items()}
    for layer in (TASK_DEFAULTS.get(task, {}), model_training, recorded or {}, given or {}):
        for k, v in layer.items():
            if k not in SETTINGS:
                raise SettingsError(f"unknown training setting {k!r}; valid: {', '.join(SETTINGS)}")
            out[k] = v
    return {k: check_setting(k, v) for k, v in out.items()}


def make_optimizer(settings: dict, params):
    """The optimizer the settings name, with their rate (or the optimizer's default) and options."""
    from .. import optim
    cls_name, default_lr, extra = OPTIMIZERS[settings["optimizer"]]
    kwargs = dict(extra)
    if settings.get("betas") is not None and cls_name in ("Adam", "AdamW"):
        kwargs["betas"] = settings["betas"]
    if settings.get("momentum") is not None and cls_name == "SGD":
        kwargs["momentum"] = settings["momentum"]
    lr = default_lr if settings["lr"] is None else settings["lr"]
    return getattr(optim, cls_name)(params, lr=lr, weight_decay=settings["weight_decay"], **kwargs)


def make_scheduler(settings: dict, optimizer):
    """``(scheduler, interval)``: cosine annealing to 0 over the epochs, a step decay by 10 at each third,
    the budget-following warm-up + cosine, or none."""
    from ..optim import lr_scheduler
    from .schedules import WarmupCosine
    name, epochs = settings["scheduler"], settings["epochs"]
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(int(math.ceil(epochs)), 1)), "epoch"
    if name == "step":
        return lr_scheduler.StepLR(optimizer, step_size=max(int(epochs) // 3, 1), gamma=0.1), "epoch"
    if name == "warmup-cosine":
        return WarmupCosine(settings["warmup"], settings["min_lr_ratio"]), "step"
    return None, "epoch"


def replan(scheduler, settings: dict, epochs_done: int) -> None:
    """A resumed run with a larger budget: the epoch schedule is re-planned over the new total from the
    current epoch, as if the run had been planned for it from the start (the rate does not stay at the
    end of the old cosine).  Budget schedules follow the budget by themselves."""
    from ..optim import lr_scheduler
    if isinstance(scheduler, lr_scheduler.CosineAnnealingLR):
        scheduler.T_max = max(int(math.ceil(settings["epochs"])), 1)
    elif isinstance(scheduler, lr_scheduler.StepLR):
        scheduler.step_size = max(int(settings["epochs"]) // 3, 1)
    else:
        return
    closed = scheduler._get_closed_form_lr()
    for group, lr in zip(scheduler.optimizer.param_groups, closed):
        group["lr"] = lr
    scheduler._last_lr = list(closed)
