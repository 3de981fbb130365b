"""The model registry behind ``nabla train MODEL`` and ``nabla models``.

A model registers a builder ``build(in_shape, num_classes, **options) -> nn.Module`` with the
options the command line may set; checkpoints store (name, options) so ``nabla eval`` can rebuild it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass
class ModelEntry:
    name: str
    build: Callable
    description: str
    task: str = "classification"        # or "regression"
    default_dataset: str = "mnist"
    options: dict = field(default_factory=dict)  # option -> default value
    # make_loss(base_loss) -> the training loss, for models whose training output is not the logits alone
    # (GoogLeNet's auxiliary classifiers); None: the base loss as it is
    make_loss: Callable | None = None

    def training_loss(self, base_loss):
        """The loss to train this model with: ``make_loss(base_loss)``, or ``base_loss`` itself."""
        return base_loss if self.make_loss is None else self.make_loss(base_loss)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(name: str, description: str, task: str = "classification", default_dataset: str = "mnist",
                   make_loss: Callable | None = None, **options):
    """Decorator: ``@register_model("mlp", "a multi-layer perceptron", depth=2, width=512)``.

    make_loss: for a model whose training-mode output is more than its logits, a function that wraps the
    task's loss (``make_loss(nn.CrossEntropyLoss()) -> loss_fn(outputs, target)``)."""
    def wrap(build):
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, build, description, task, default_dataset, dict(options), make_loss)
        return build
    return wrap


def model_names() -> list:
    return list(_REGISTRY)


def get_model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; valid names: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def build_model(name: str, in_shape, num_classes: int, **options):
    """Build a registered model; unknown options are an error naming the valid ones."""
    entry = get_model_entry(name)
    unknown = set(options) - set(entry.options)
    if unknown:
        raise TypeError(f"model {name!r} has no option(s) {sorted(unknown)}; its options are "
                        f"{sorted(entry.options) or 'none'}")
    opts = {**entry.options, **options}
    return entry.build(tuple(in_shape), int(num_classes), **opts)
