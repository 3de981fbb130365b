"""The workloads: each is a pair of set-up functions, one per framework, that build the model and
data once and return a ``step()`` callable; the worker process times ``step()``.

Adding one (an MNIST epoch, an LSTM, a Transformer, a convolution): write a file in this folder with

    def _nabla(cfg):  import nabla ...; build; return step
    def _torch(cfg):  import torch ...; build; return step
    register(Workload("name", goal=1.0, description="...", nabla=_nabla, torch=_torch))

and import it at the bottom of this file.  Rules that keep the comparison fair:
- import each framework inside its own set-up function (the worker of one never loads the other);
- build the same model from the same NumPy arrays (``_data.py``), so both compute the same numbers;
- ``step()`` returns the loss (or output) tensor, unconverted: the smoke test compares the first step's
  value between the frameworks, and converting would add a sync/copy to the timed step;
- where nabla lacks something the workload needs, let the ImportError/AttributeError escape: the
  harness reports the workload as skipped with that message.
- ``config()`` (optional) runs once in the harness process, may import nabla to see what it supports,
  and returns a JSON-able dict passed to both set-ups (e.g. which loss both frameworks use).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass
class Workload:
    name: str
    goal: float                       # pass when median(nabla time / torch time) <= goal
    description: str
    nabla: Callable[[dict], Callable]
    torch: Callable[[dict], Callable]
    config: Callable[[], dict] | None = None
    source: str = ""                  # where the goal comes from (issue number)
    per: tuple = (1, "step")          # (operations per step, their name): figures are shown per operation
    smoke: dict | None = None         # config overrides for tests/test_benchmarks_smoke.py (e.g. a smaller
                                      # batch), so that heavy workloads stay quick to test

    def make_config(self, smoke: bool = False) -> dict:
        cfg = dict(self.config()) if self.config is not None else {}
        if smoke and self.smoke:
            cfg.update(self.smoke)
        return cfg

    def setup(self, framework: str, cfg: dict | None = None) -> Callable:
        if framework not in ("nabla", "torch"):
            raise ValueError(f"framework must be 'nabla' or 'torch', got {framework!r}")
        return getattr(self, framework)(cfg if cfg is not None else self.make_config())


WORKLOADS: dict[str, Workload] = {}

# errors on the nabla side that mean "nabla does not have this yet": the workload is skipped, not failed
MISSING_FEATURE = (ImportError, AttributeError, NotImplementedError)


def register(w: Workload) -> Workload:
    if w.name in WORKLOADS:
        raise ValueError(f"benchmark workload {w.name!r} is registered twice")
    WORKLOADS[w.name] = w
    return w


def framework(name: str, *submodules: str):
    """The module ``nabla`` or ``torch``, with ``submodules`` (e.g. "nn", "optim") imported too.  Call it
    inside a set-up function, so that a worker loads only its own framework; an ImportError from a
    submodule means nabla does not have it yet."""
    module = importlib.import_module(name)
    for sub in submodules:
        importlib.import_module(f"{name}.{sub}")
    return module


def training_step(optimizer, compute_loss) -> Callable:
    """The timed ``step()`` of a training workload: zero_grad, ``loss = compute_loss()``, backward,
    ``optimizer.step()``; it returns the loss."""
    def step():
        optimizer.zero_grad()
        loss = compute_loss()
        loss.backward()
        optimizer.step()
        return loss
    return step


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise KeyError(f"no benchmark workload {name!r}; known: {', '.join(WORKLOADS)}") from None


from . import per_op, mlp  # noqa: E402,F401  (each file registers its workloads)
from .. import workloads_transformer  # noqa: E402,F401  (issue 6: benchmarks/workloads_transformer.py)
from .. import workloads_rnn  # noqa: E402,F401  (issue 6: benchmarks/workloads_rnn.py)
from .. import workloads_conv  # noqa: E402,F401  (issue 5: benchmarks/workloads_conv.py)
from . import mnist_epoch  # noqa: E402,F401
from . import detection_ops  # noqa: E402,F401  (issue 13: nms, roi_align, roi_pool)
from . import detection_steps  # noqa: E402,F401  (issue 13: yolo and faster-rcnn training steps)
from . import segmentation_steps  # noqa: E402,F401  (issue 14: unet and segnet training steps)
from . import generative_steps  # noqa: E402,F401  (issue 15: vae, dcgan and pixelcnn training steps)
