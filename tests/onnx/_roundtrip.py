"""What the ONNX tests of the vision, generative and detection models share: weights moved far from their
initial values, and one export run in onnxruntime against nabla on a second batch of another size."""
import numpy as np

import nabla
from nabla import nn
from nabla.onnx import export


def randomize_batch_norm(model, rng):
    """Batch-norm statistics and affine terms far from 0/1, so that an export that drops or misreads one shows."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.data[...] = rng.normal(0, 0.1, c)
            m.running_var.data[...] = rng.uniform(0.5, 1.5, c)
            m.weight.data[...] = rng.uniform(0.5, 1.5, c)
            m.bias.data[...] = rng.normal(0, 0.1, c)


def randomize(model, rng, noise: float = 0.1):
    """``randomize_batch_norm``, and noise on every parameter, so that every layer (zero-initialised score
    layers, masked taps, biases) moves the outputs."""
    randomize_batch_norm(model, rng)
    for p in model.parameters():
        p.data[...] += rng.normal(0, noise, p.shape).astype(p.data.dtype)


def outputs(value) -> list:
    items = value if isinstance(value, (tuple, list)) else (value,)
    return [np.asarray(v.data) for v in items]


def check_roundtrip(module, make_inputs, path, rng, input_names, output_names=None, dynamic_axes=None,
                    batches=(2, 5)):
    """Export ``module`` on ``make_inputs(batches[0], rng)``; run the file on a fresh batch of each size in
    ``batches`` and compare every output with nabla's (rtol 1e-3, atol 1e-4).  Returns the session."""
    import onnxruntime as ort
    module.train()  # export runs eval mode and gives the mode back
    export(module, make_inputs(batches[0], rng), path, input_names=input_names, output_names=output_names,
           dynamic_axes=dynamic_axes)
    assert module.training
    module.eval()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # onnxruntime runs a batch of another size even where the file declares a static one: check the declaration
    declared = {v.name: v.shape for v in session.get_inputs() + session.get_outputs()}
    for name, dims in (dynamic_axes or {n: [0] for n in declared}).items():
        assert all(isinstance(declared[name][d], str) for d in dims), (name, declared[name])
    for batch in batches:
        xs = make_inputs(batch, rng)
        with nabla.no_grad():
            expected = outputs(module(*[nabla.Tensor(x) for x in xs]))
        got = session.run(None, dict(zip(input_names, xs)))
        assert len(got) == len(expected)
        for name, a, e in zip(output_names or ["output"] * len(got), got, expected):
            assert e.std() > 1e-3, f"{name}: a near-constant output would hide a wrong graph"
            np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-4, err_msg=f"output {name}, batch {batch}")
    return session
