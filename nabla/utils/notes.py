"""The course notes' chapters (docs/notes.zh.md), in the notes' order: the one table the experiments (each names
its chapter by id, ``CHAPTER``) and the report (its index follows them) share.

The notes (Chinese) have three top-level parts; the first, "正则化和优化" (regularisation and optimisation), is
split by its ``##`` headings, the others are ``#`` headings of their own.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chapter:
    id: str
    zh: str        # the notes' own heading
    en: str        # an English rendering
    part: str      # the notes' top-level part (its ``#`` heading)
    topics: str    # what the chapter covers, in a line (English)


_REGULARISATION = "正则化和优化 (Regularisation and optimisation)"

CHAPTERS = (
    Chapter("objective", "目标函数", "The objective function", _REGULARISATION,
            "what is minimised; local and global minima"),
    Chapter("loss-optimization", "损失函数与目标函数", "Loss functions and the objective", _REGULARISATION,
            "linear regression and MSE, gradient descent, back-propagation, non-linear models"),
    Chapter("batch-optimization", "批优化", "Batch optimisation", _REGULARISATION,
            "batch, stochastic and mini-batch gradient descent; gradients three ways; regularisation; optimisers"),
    Chapter("neural-networks", "神经网络与前向传播", "Neural networks and the forward pass",
            "神经网络与前向传播 (Neural networks and the forward pass)",
            "layers as Wx + b, why activations, back-propagation on the computational graph"),
    Chapter("cnn-basics", "卷积神经网络基础", "Convolutional network basics",
            "卷积神经网络基础 (Convolutional network basics)",
            "activation functions, convolutions and kernels, classic CNN architectures"),
    Chapter("modern-architectures", "现代深度学习架构", "Modern deep-learning architectures",
            "现代深度学习架构 (Modern deep-learning architectures)",
            "batch norm, RNN/LSTM/Transformer, detection, segmentation, generative models"),
)
