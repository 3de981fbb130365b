"""``nabla export CKPT --format onnx``: a checkpoint's model as ONNX, rebuilt from the file alone, and checked.

The example input is a random batch of the checkpoint's ``in_shape`` (batch 2; the batch axis is dynamic).
Where onnxruntime is installed, the file is run on a fresh random batch of another size (3) and the largest
absolute difference from nabla's outputs is reported: the export is wrong, not merely imprecise, if it
exceeds the tolerance the tests use (1e-4 + 1e-3 |nabla|).
"""
from __future__ import annotations

import os

import numpy as np

from .export import export


def max_difference(model, path, in_shape, batch: int = 3, seed: int = 0):
    """(max |onnxruntime - nabla|, within rtol 1e-3 / atol 1e-4) on a random batch; None if onnxruntime is missing."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from ..autograd import Tensor, no_grad
    x = np.random.default_rng(seed).standard_normal((batch, *in_shape)).astype(np.float32)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            expected = model(Tensor(x)).data
    finally:
        model.train(was_training)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x})[0]
    return float(np.abs(got - expected).max()), bool(np.allclose(got, expected, rtol=1e-3, atol=1e-4))


def export_checkpoint(checkpoint, out, opset_version: int = 17, echo=print) -> dict:
    """Rebuild the checkpoint's model, export it to ``out``, check it; returns what was printed as a dict."""
    from ..train.run import rebuild_from_checkpoint
    model, config, _ = rebuild_from_checkpoint(checkpoint)
    in_shape = tuple(int(d) for d in config["in_shape"])
    example = np.random.default_rng(1).standard_normal((2, *in_shape)).astype(np.float32)
    export(model, example, out, opset_version=opset_version)
    result = {"path": os.fspath(out), "opset": int(opset_version), "model": config["model"],
              "max_abs_diff": None, "ok": None}
    echo(f"wrote {result['path']} ({config['model']}, ONNX opset {opset_version}, input (batch, "
         f"{', '.join(map(str, in_shape))}))")
    check = max_difference(model, out, in_shape)
    if check is None:
        echo('onnxruntime is not installed: the file was not run (pip install "nabla[onnx]")')
    else:
        result["max_abs_diff"], result["ok"] = check
        verdict = "matches nabla" if check[1] else "DIFFERS from nabla beyond rtol 1e-3, atol 1e-4"
        echo(f"onnxruntime vs nabla on a random batch of 3: max |difference| {check[0]:.3g} ({verdict})")
    return result
