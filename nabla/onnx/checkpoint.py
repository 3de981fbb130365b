"""``nabla export CKPT --format onnx``: a checkpoint's model as ONNX, rebuilt from the file alone, and checked.

What is exported, and on what input, depends on the checkpoint's task: an ``ExportTarget`` says which network
(the classifier itself; a GAN's generator, a VAE's decoder), how to draw a random input batch of any size (images
of the checkpoint's ``in_shape``; token ids; latent vectors) and the graph's input and output names.  A task
registers its own with ``@export_target("task", ...)``; a task with none gets ``image_target`` (a random normal
batch of ``in_shape``).  The example batch has 2 items (the batch axis is dynamic).

Where onnxruntime is installed, the file is run on a fresh random batch of another size (3) and the largest
absolute difference from nabla's outputs is reported: the export is wrong, not merely imprecise, if it exceeds
the tolerance the tests use (1e-4 + 1e-3 |nabla|).  A target may name companions, further graphs of the same
model written and checked beside the file (Faster R-CNN's split: ``model.features.onnx``, ``model.heads.onnx``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .export import export


@dataclass
class ExportTarget:
    """``module``: the network written to the file; ``inputs(batch, rng)``: a list of input arrays (float32, or
    int64 token ids) for ``batch`` items; ``describe``: the input in words for the printed line."""
    module: object
    inputs: Callable
    describe: str
    input_names: list = field(default_factory=lambda: ["input"])
    output_names: list = field(default_factory=lambda: ["output"])
    dynamic_axes: dict | None = None
    companions: tuple = ()  # (suffix, ExportTarget): further graphs, written beside the file as ROOT.suffix.onnx


_TARGETS: dict = {}


def export_target(*tasks: str):
    """Register ``fn(model, config) -> ExportTarget`` as what ``nabla export`` writes for ``tasks``' checkpoints."""
    def register(fn):
        for task in tasks:
            _TARGETS[task] = fn
        return fn
    return register


def image_target(model, config) -> ExportTarget:
    """The model itself on a random normal batch of the checkpoint's ``in_shape``."""
    in_shape = tuple(int(d) for d in config["in_shape"])
    return ExportTarget(model, lambda batch, rng: [rng.standard_normal((batch, *in_shape)).astype(np.float32)],
                        f"(batch, {', '.join(map(str, in_shape))})")


def target_for(model, config) -> ExportTarget:
    from . import dense, detection, generative, sequence_models  # noqa: F401 - importing registers the export targets
    from ..models.registry import get_model_entry
    task = config.get("task") or get_model_entry(config["model"]).task
    return _TARGETS.get(task, image_target)(model, config)


def _outputs(value) -> list:
    items = value if isinstance(value, (tuple, list)) else (value,)
    return [np.asarray(getattr(v, "data", v)) for v in items]


def max_difference(module, path, inputs, batch: int = 3, seed: int = 0):
    """(max |onnxruntime - nabla| over every output, all within rtol 1e-3 / atol 1e-4) on a random batch from
    ``inputs(batch, rng)``; None if onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from ..autograd import Tensor, no_grad
    xs = inputs(batch, np.random.default_rng(seed))
    was_training = module.training
    module.eval()
    try:
        with no_grad():
            expected = _outputs(module(*[Tensor(x) for x in xs]))
    finally:
        module.train(was_training)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), xs)})
    worst = max(float(np.abs(a - b).max()) for a, b in zip(got, expected))
    return worst, all(np.allclose(a, b, rtol=1e-3, atol=1e-4) for a, b in zip(got, expected))


def export_checkpoint(checkpoint, out, opset_version: int = 17, echo=print) -> dict:
    """Rebuild the checkpoint's model, export its target to ``out`` (and its companions beside it), check each;
    returns what was printed as a dict (a companion's under ``companions[suffix]``; ``ok`` False if any differs)."""
    from ..train.run import rebuild_from_checkpoint
    model, config, _ = rebuild_from_checkpoint(checkpoint)
    target = target_for(model, config)
    result = _write(target, out, opset_version, config["model"], target.module is model, echo)
    root, ext = os.path.splitext(os.fspath(out))
    result["companions"] = {suffix: _write(t, f"{root}.{suffix}{ext or '.onnx'}", opset_version, config["model"],
                                           False, echo) for suffix, t in target.companions}
    if any(c["ok"] is False for c in result["companions"].values()):
        result["ok"] = False
    return result


def _write(target, out, opset_version: int, model_name: str, is_model: bool, echo) -> dict:
    """Export ``target`` to ``out``, print the line that says so, and run it in onnxruntime against nabla."""
    example = target.inputs(2, np.random.default_rng(1))
    export(target.module, example, out, opset_version=opset_version, input_names=target.input_names,
           output_names=target.output_names, dynamic_axes=target.dynamic_axes)
    result = {"path": os.fspath(out), "opset": int(opset_version), "model": model_name,
              "max_abs_diff": None, "ok": None}
    what = model_name if is_model else f"{type(target.module).__name__} of {model_name}"
    echo(f"wrote {result['path']} ({what}, ONNX opset {opset_version}, input {target.describe})")
    check = max_difference(target.module, out, target.inputs)
    if check is None:
        echo('onnxruntime is not installed: the file was not run (pip install "nabla[onnx]")')
    else:
        result["max_abs_diff"], result["ok"] = check
        verdict = "matches nabla" if check[1] else "DIFFERS from nabla beyond rtol 1e-3, atol 1e-4"
        echo(f"onnxruntime vs nabla on a random batch of 3: max |difference| {check[0]:.3g} ({verdict})")
    return result
