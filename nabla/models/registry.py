"""The model registry behind ``nabla train MODEL``, ``nabla models`` and ``nabla eval``.

A model registers a builder ``build(in_shape, num_classes, **options) -> nn.Module`` with the facts the
rest of nabla asks for instead of testing names:

* ``task``: "classification", "regression", "lm", "seq2seq" (later: detection, segmentation, gan...):
  the training step and the data sets that fit;
* ``options``: each with a type and a default (``Option``; a plain default declares its own type), so
  ``--set width=abc`` is a one-line error naming the option, the type and the value;
* ``training``: its training defaults (optimizer and its settings, learning rate, batch size, budget,
  schedule, warm-up, clipping...), so ``nabla train NAME`` with no flags trains it well;
* ``default_dataset``, ``normalize`` (its own input normalisation, e.g. a GAN's [-1, 1]; None: the data
  set's), ``options_from_settings`` (options whose default is a training setting: a Transformer's
  ``max_len`` is its ``seq_len``), ``make_loss`` (a training loss that is not the task's, e.g.
  GoogLeNet's auxiliary heads) and ``rebuild`` (how to rebuild the model from a checkpoint's config,
  with any compatibility shim for older files).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


@dataclass(frozen=True)
class Option:
    """A model option: its default, its type (int, float, bool, str), the allowed values where there are
    few, and a help line.  ``Option(None, type=int)``: no default, but a declared type."""
    default: object = None
    type: type | None = None
    choices: tuple | None = None
    help: str = ""

    def __post_init__(self):
        if self.type is None:
            if self.default is None:
                raise TypeError("Option: an option whose default is None must declare its type")
            object.__setattr__(self, "type", type(self.default))

    def type_name(self) -> str:
        return self.type.__name__

    def parse(self, name: str, text: str, owner: str = "model"):
        """The option's value from command-line text; a ValueError names the option, type and value."""
        value = self._convert(name, str(text).strip(), owner)
        self.check(name, value, owner)
        return value

    def _convert(self, name, text, owner):
        expected = f"{owner} option {name!r} expects {'a' if self.type is not int else 'an'} {self.type_name()}"
        low = text.lower()
        if self.default is None and low == "none":
            return None
        if self.type is bool:
            if low in _TRUE or low in _FALSE:
                return low in _TRUE
            raise ValueError(f"{expected} (true/false, yes/no, 1/0, on/off), got {text!r}")
        try:
            if self.type is int:
                return int(text)
            if self.type is float:
                return float(text)
        except ValueError:
            raise ValueError(f"{expected}, got {text!r}") from None
        return self.type(text)

    def check(self, name: str, value, owner: str = "model") -> None:
        if value is None and self.default is None:
            return
        ok = isinstance(value, self.type) and not (self.type is int and isinstance(value, bool))
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise ValueError(f"{owner} option {name!r} expects {self.type_name()}, got {value!r}")
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{owner} option {name!r} must be one of {', '.join(map(str, self.choices))}, "
                             f"got {value!r}")


def _default_rebuild(entry, config: dict, weights=None):
    return build_model(entry.name, tuple(config["in_shape"]), int(config["num_classes"]),
                       **config.get("options", {}))


@dataclass
class ModelEntry:
    name: str
    build: Callable
    description: str
    task: str = "classification"
    default_dataset: str = "mnist"
    option_specs: dict = field(default_factory=dict)   # name -> Option
    training: dict = field(default_factory=dict)       # training defaults (see nabla.train.settings)
    normalize: tuple | None = None                     # (mean, std) of the model's own; None: the data set's
    options_from_settings: dict = field(default_factory=dict)  # option -> training setting it defaults to
    make_loss: Callable | None = None
    rebuild_fn: Callable | None = None

    @property
    def options(self) -> dict:
        """Option name -> default (what ``nabla models`` lists and checkpoints record)."""
        return {k: o.default for k, o in self.option_specs.items()}

    def training_loss(self, base_loss):
        """The loss to train this model with: ``make_loss(base_loss)``, or ``base_loss`` itself."""
        return base_loss if self.make_loss is None else self.make_loss(base_loss)

    def parse_option(self, name: str, text: str):
        """``--set name=text``: the typed value, or a one-line ValueError."""
        key = name.strip().replace("-", "_")
        if key not in self.option_specs:
            valid = ", ".join(f"{k}={o.default}" for k, o in self.option_specs.items()) or "none"
            raise ValueError(f"model {self.name!r} has no option {name!r}; its options: {valid}")
        return key, self.option_specs[key].parse(key, text, owner=self.name)

    def rebuild(self, config: dict, weights: dict | None = None):
        """The model a checkpoint's config describes, its weights loaded when given (``weights``: the
        checkpoint's model state dict; a compatibility shim may look at its keys)."""
        model = (self.rebuild_fn or _default_rebuild)(self, config, weights)
        if weights is not None:
            model.load_state_dict(weights)
        return model


_REGISTRY: dict[str, ModelEntry] = {}
_DEFAULT = {"name": None}


def register_model(name: str, description: str, task: str = "classification", default_dataset: str = "mnist",
                   make_loss: Callable | None = None, training: dict | None = None, normalize=None,
                   options_from_settings: dict | None = None, rebuild: Callable | None = None,
                   default: bool = False, **options):
    """Decorator: ``@register_model("mlp", "a multi-layer perceptron", depth=2, width=Option(512, int))``.

    An option given as a plain value is its default and declares its type; ``Option(...)`` adds allowed
    values and help.  ``default=True`` makes this the model ``nabla train`` trains when none is named."""
    specs = {k: v if isinstance(v, Option) else Option(v) for k, v in options.items()}

    def wrap(build):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, build, description, task, default_dataset, specs, dict(training or {}),
                                     normalize, dict(options_from_settings or {}), make_loss, rebuild)
        if default:
            _DEFAULT["name"] = name
        return build
    return wrap


def model_names() -> list:
    return list(_REGISTRY)


def default_model_name() -> str:
    """The model ``nabla train`` trains when none is named."""
    return _DEFAULT["name"] or next(iter(_REGISTRY))


def get_model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def build_model(name: str, in_shape, num_classes: int, **options):
    """Build a registered model; unknown options or values of the wrong type are an error naming them."""
    entry = get_model_entry(name)
    unknown = set(options) - set(entry.option_specs)
    if unknown:
        raise TypeError(f"model {name!r} has no option(s) {sorted(unknown)}; its options are "
                        f"{sorted(entry.option_specs) or 'none'}")
    for k, v in options.items():
        entry.option_specs[k].check(k, v, owner=name)
    opts = {**entry.options, **options}
    return entry.build(tuple(in_shape), int(num_classes), **opts)
