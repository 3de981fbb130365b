"""Linear models: the notes' first examples.

LinearRegression   y_hat = x W^T + b, trained with MSE (least squares)
SoftmaxRegression  p(y | x) = softmax(x W^T + b), trained with cross-entropy (multinomial logistic
                   regression): a one-layer network with no hidden units.
"""
from __future__ import annotations

import math

from .. import nn
from .registry import register_model


class LinearRegression(nn.Module):
    def __init__(self, in_features: int, out_features: int = 1):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return self.linear(self.flatten(x))


class SoftmaxRegression(nn.Module):
    """Outputs logits; CrossEntropyLoss applies the (log-)softmax, as in PyTorch."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear = nn.Linear(in_features, num_classes)

    def forward(self, x):
        return self.linear(self.flatten(x))


@register_model("linear-regression", "least-squares linear regression y = xW^T + b (MSE)", task="regression",
                default_dataset="linear", training={"optimizer": "sgd", "lr": 0.1, "batch_size": 32, "epochs": 10})
def _linear_regression(in_shape, num_classes):
    return LinearRegression(math.prod(in_shape), 1)


@register_model("softmax-regression", "multinomial logistic regression: softmax(xW^T + b), cross-entropy")
def _softmax_regression(in_shape, num_classes):
    return SoftmaxRegression(math.prod(in_shape), num_classes)
