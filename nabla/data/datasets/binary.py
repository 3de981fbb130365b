"""Binary views of the digit sets: is the digit odd?  The notes' binary log loss, on real images.

    label = digit mod 2        0: "even" (0, 2, 4, 6, 8), 1: "odd" (1, 3, 5, 7, 9)

MNIST's training split is 50.8% odd, its test split 50.7% (4,926 even, 5,074 odd digits): predicting the
majority class scores 50.7%, so a model has to read the digit to do better.  The images, files and decoded
cache are those of ``mnist`` / ``mnist-5k`` (nothing new is fetched or stored); ``.digits`` keeps the original
0-9 labels beside ``.targets`` (0/1).

The facts the run layer asks for: ``tasks = ("binary",)`` and ``binary = True``.  The binary task trains the
image classifiers (``mlp``, ``lenet5``...) with one output logit and ``BCEWithLogitsLoss``
(``nabla.train.tasks.binary``).
"""
from __future__ import annotations

from .mnist import MNIST, MNIST5k

__all__ = ["OddEvenMNIST", "OddEvenMNIST5k"]


class _OddEven:
    """The odd/even view of a digit set (mixed in before ``MNIST`` / ``MNIST5k``)."""

    source_class = None          # the digit set whose files and cache this one reads
    binary = True                # one logit, BCE: the fact the run layer asks for
    task = "binary"              # what `nabla datasets` shows
    tasks = ("binary",)
    classes = ["even", "odd"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # after loading, never in _decode: the decoded cache on disk keeps the digits, shared with the source set
        self.digits = self._labels
        self.targets = self._labels % 2

    @classmethod
    def folder(cls, root=None):
        """The digit set's folder: the same files and the same decoded cache."""
        return cls.source_class.folder(root)


class OddEvenMNIST(_OddEven, MNIST):
    """MNIST with the label "odd" (1) or "even" (0): 60,000 train / 10,000 test 28x28 images.

    ``OddEvenMNIST(root=None, train=True, download=False, transform=None, target_transform=None)``, as
    ``MNIST`` (whose files and cache it reads)."""

    name = "mnist-odd-even"
    source_class = MNIST
    description = "MNIST digits labelled odd (1) / even (0): binary classification with one logit"


class OddEvenMNIST5k(_OddEven, MNIST5k):
    """The 5,000 digits of ``mnist-5k`` labelled odd / even, split 4,000 / 1,000 as there (fast tests)."""

    name = "mnist-5k-odd-even"
    source_class = MNIST5k
    description = "the 5,000 digits of mnist-5k labelled odd / even (fast tests)"

