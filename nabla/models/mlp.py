"""The multi-layer perceptron: y_hat = f_L(... f_2(f_1(x))), each f = activation(W x + b).

Depth, width, activation, dropout and batch normalisation are options, so the notes'
regularisation and activation experiments use one model."""
from __future__ import annotations

import math

from .. import nn
from .registry import Option, register_model

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "leaky_relu": nn.LeakyReLU,
               "elu": nn.ELU, "gelu": nn.GELU}


class MLP(nn.Module):
    """in_features -> [Linear -> (BatchNorm1d) -> activation -> (Dropout)] x depth -> Linear(num_classes)."""

    def __init__(self, in_features: int, num_classes: int, depth: int = 2, width: int = 512,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        if depth < 0 or width < 1 or not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: need depth >= 0, width >= 1 and 0 <= dropout < 1, got depth={depth}, "
                             f"width={width}, dropout={dropout}")
        layers = [nn.Flatten()]
        features = in_features
        for _ in range(depth):
            layers.append(nn.Linear(features, width))
            if batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            features = width
        layers.append(nn.Linear(features, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


@register_model("mlp", "multi-layer perceptron (depth, width, activation, dropout, batch_norm)", default=True,
                depth=2, width=512, activation=Option("relu", choices=tuple(ACTIVATIONS)), dropout=0.0,
                batch_norm=False)
def _mlp(in_shape, num_classes, **options):
    return MLP(math.prod(in_shape), num_classes, **options)


# the notes' MLP regression example: one hidden layer of 10 ReLU units, Adam, mean squared error
MLP_REGRESSOR_TRAINING = {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 100}


@register_model("mlp-regressor", "the notes' regression MLP: x -> 10 ReLU units -> y (Adam, MSE)", task="regression",
                default_dataset="linear", training=MLP_REGRESSOR_TRAINING, depth=1, width=10,
                activation=Option("relu", choices=tuple(ACTIVATIONS)))
def _mlp_regressor(in_shape, num_classes, **options):
    # one output whatever num_classes says: a regression set has no classes (y is one number per sample)
    return MLP(math.prod(in_shape), 1, **options)
