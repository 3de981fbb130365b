"""ONNX export of the recurrent and Transformer models: every registered language model, seq2seq model, text
classifier, the tagger, the forecaster and ViT run in onnxruntime with nabla's outputs (rtol 1e-3, atol 1e-4,
float32) for several batch sizes and, where the model allows, two sequence lengths; and the nn layers alone."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason='ONNX export needs onnx: pip install "nabla[onnx]"')
ort = pytest.importorskip("onnxruntime", reason='running exported models needs onnxruntime: pip install "nabla[onnx]"')

import nabla  # noqa: E402
from nabla import nn  # noqa: E402
from nabla.models.registry import build_model  # noqa: E402
from nabla.onnx import UnsupportedExport, export  # noqa: E402
from nabla.onnx.sequence_models import LanguageModelOutputs  # noqa: E402 - importing registers emitters, targets
from nabla.onnx.checkpoint import target_for  # noqa: E402

V = 13  # vocabulary sizes
CASES = [
    ("char-rnn", (V,), V, {"embed_dim": 6, "hidden_size": 8, "num_layers": 2}),
    ("char-lstm", (V,), V, {"embed_dim": 6, "hidden_size": 8, "num_layers": 2}),
    ("char-gru", (V,), V, {"embed_dim": 8, "hidden_size": 8, "tie_weights": True}),
    ("gpt", (V,), V, {"d_model": 16, "num_layers": 2, "num_heads": 2, "dim_feedforward": 24, "max_len": 16}),
    ("gpt", (V,), V, {"d_model": 16, "num_layers": 1, "num_heads": 4, "dim_feedforward": 24, "max_len": 16,
                      "positional": "sinusoidal", "activation": "relu", "tie_weights": False}),
    ("seq2seq-attn", (V,), V + 2, {"embed_dim": 6, "hidden_size": 8, "attention_size": 7, "num_layers": 2}),
    ("seq2seq-transformer", (V,), V + 2, {"d_model": 16, "nhead": 2, "num_encoder_layers": 1,
                                          "num_decoder_layers": 2, "dim_feedforward": 24}),
    ("text-cnn", (V,), 4, {"embed_dim": 6, "num_filters": 5, "widths": "2,7"}),  # T < 7: padded to 7
    ("text-lstm", (V,), 4, {"embed_dim": 6, "hidden_size": 8, "num_layers": 2}),
    ("text-lstm", (V,), 4, {"embed_dim": 6, "hidden_size": 8, "bidirectional": True, "pool": "last"}),
    ("text-lstm", (V,), 4, {"embed_dim": 6, "hidden_size": 8, "bidirectional": False, "pool": "last"}),
    ("text-transformer", (V,), 4, {"d_model": 16, "num_layers": 1, "num_heads": 2, "dim_feedforward": 24}),
    ("text-transformer", (V,), 4, {"d_model": 16, "num_layers": 2, "num_heads": 2, "dim_feedforward": 24,
                                   "pool": "cls"}),
    ("bilstm-tagger", (V,), 3, {"embed_dim": 6, "hidden_size": 8}),
    ("lstm-forecaster", (10, 1), 1, {"hidden": 8, "layers": 2, "horizon": 3}),
    ("lstm-forecaster", (10, 1), 1, {"cell": "gru", "hidden": 8, "horizon": 4, "skip": False}),
    ("vit", (1, 12, 12), 5, {"patch_size": 4, "dim": 16, "depth": 2, "heads": 2, "mlp_dim": 24}),
]


def _randomize(model, rng):
    """Every weight moved off its initial value (ViT's zero head, LayerNorm's ones and zeros, zero biases)."""
    for p in model.parameters():
        p.data[...] += rng.normal(0, 0.2, p.shape).astype(p.data.dtype)


def _nabla(module, xs):
    with nabla.no_grad():
        out = module(*[nabla.Tensor(x) for x in xs])
    flat = lambda o: [a for i in o for a in flat(i)] if isinstance(o, (tuple, list)) else [o]  # noqa: E731
    return [np.asarray(o.data) for o in flat(out)]


@pytest.mark.parametrize("name,in_shape,classes,options", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_sequence_model_matches_nabla_in_onnxruntime(tmp_path, name, in_shape, classes, options):
    rng = np.random.default_rng(0)
    model = build_model(name, in_shape, classes, **options)
    _randomize(model, rng)
    model.train()
    target = target_for(model, {"model": name, "in_shape": list(in_shape)})
    path = tmp_path / f"{name}.onnx"
    export(target.module, target.inputs(2, rng), path, input_names=target.input_names,
           output_names=target.output_names, dynamic_axes=target.dynamic_axes)
    assert model.training
    model.eval()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shapes = set()
    for seed, batch in ((1, 3), (2, 5), (3, 1), (4, 4)):
        xs = target.inputs(batch, np.random.default_rng(seed))
        shapes.add(tuple(x.shape[1:] for x in xs))
        expected = _nabla(target.module, xs)
        got = session.run(None, dict(zip(target.input_names, xs)))
        assert len(got) == len(expected) == len(target.output_names)
        for a, b in zip(got, expected):
            assert b.std() > 1e-3  # a constant output would hide a wrong graph
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)
    if name not in ("lstm-forecaster", "vit"):  # their input sizes are fixed by the weights
        assert len(shapes) >= 2, f"only one sequence length tried: {shapes}"


def _layer_check(tmp_path, module, example, others, names, axes, rng, output_names=None):
    """``module`` exported on ``example`` matches nabla on each input list of ``others`` (other sizes)."""
    _randomize(module, rng)
    module.eval()
    path = tmp_path / "layer.onnx"
    export(module, example, path, input_names=names, output_names=output_names, dynamic_axes=axes)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    declared = {v.name: v.shape for v in session.get_inputs() + session.get_outputs()}
    for name, dims in (axes or {}).items():  # every axis asked for is symbolic in the file
        assert all(isinstance(declared[name][d], str) for d in dims), (name, declared[name])
    for xs in others:
        for a, b in zip(session.run(None, dict(zip(names, xs))), _nabla(module, xs)):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4)


RECURRENT = [(nn.RNN, {"nonlinearity": "relu", "num_layers": 2}), (nn.RNN, {"bidirectional": True, "bias": False}),
             (nn.LSTM, {"num_layers": 2, "bidirectional": True, "batch_first": True}), (nn.LSTM, {}),
             (nn.GRU, {"num_layers": 3, "batch_first": True}), (nn.GRU, {"bidirectional": True, "num_layers": 2})]


@pytest.mark.parametrize("cls,options", RECURRENT, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(RECURRENT)])
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "initial-state"])
def test_recurrent_layers_with_onnx_ops(tmp_path, cls, options, with_state):
    """Gate orders, layers, directions, layouts and initial states; batch and time both dynamic."""
    rng = np.random.default_rng(1)
    m = cls(5, 6, **options)
    states = (["h0", "c0"] if cls is nn.LSTM else ["h0"]) if with_state else []
    outs = ["output", "h_n", "c_n"] if cls is nn.LSTM else ["output", "h_n"]

    def inputs(batch, steps):
        x = rng.standard_normal((batch, steps, 5) if m.batch_first else (steps, batch, 5)).astype(np.float32)
        n = m.num_layers * (2 if m.bidirectional else 1)
        return [x] + [rng.standard_normal((n, batch, 6)).astype(np.float32) for _ in states]
    b, t = (0, 1) if m.batch_first else (1, 0)
    axes = {"x": {b: "batch", t: "time"}, "output": {b: "batch", t: "time"},
            **{s: {1: "batch"} for s in states + outs[1:]}}
    if with_state:  # LSTM: forward(x, (h0, c0)); the graph takes them as two inputs
        m.forward = (lambda f: (lambda x, *s: f(x, tuple(s) if len(s) == 2 else s[0])))(m.forward)
    _layer_check(tmp_path, m, inputs(2, 4), [inputs(3, 7), inputs(1, 2)], ["x"] + states, axes, rng, outs)


def test_transformer_layers_masks_and_positions(tmp_path):
    """Post-norm nn.Transformer (sequence-first), pre-norm stacks with positions (batch first), Conv1d, LayerNorm
    without affine parameters, an Embedding in a Sequential."""
    rng = np.random.default_rng(2)
    f = lambda *shape: rng.standard_normal(shape).astype(np.float32)  # noqa: E731
    axes = {"src": {0: "s", 1: "n"}, "tgt": {0: "t", 1: "n"}, "output": {0: "t", 1: "n"}}
    _layer_check(tmp_path, nn.Transformer(8, 2, 1, 2, 12, activation="gelu"), [f(5, 2, 8), f(4, 2, 8)],
                 [[f(6, 3, 8), f(2, 3, 8)], [f(1, 1, 8), f(7, 1, 8)]], ["src", "tgt"], axes, rng)
    layer = nn.TransformerEncoderLayer(8, 4, 12, batch_first=True, norm_first=True)
    stack = nn.Sequential(nn.LearnedPositionalEncoding(10, 8, batch_first=True),
                          nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)),
                          nn.SinusoidalPositionalEncoding(8, max_len=10, batch_first=True),
                          nn.LayerNorm(8, elementwise_affine=False))
    axes = {"x": {0: "n", 1: "t"}, "output": {0: "n", 1: "t"}}
    _layer_check(tmp_path, stack, [f(2, 5, 8)], [[f(3, 9, 8)], [f(1, 2, 8)]], ["x"], axes, rng)
    ids = lambda *shape: rng.integers(0, 7, shape)  # noqa: E731
    conv = nn.Sequential(nn.Embedding(7, 4), nn.Flatten(2), nn.Conv1d(3, 5, 2, padding=1), nn.ReLU())
    _layer_check(tmp_path, conv, [ids(2, 3, 4)], [[ids(5, 3, 4)]], ["x"], None, rng)


@pytest.mark.parametrize("name,options", [("text-cnn", {"widths": "1,6"}), ("text-lstm", {"pool": "mean"}),
                                          ("text-transformer", {"pool": "cls"}), ("bilstm-tagger", {})])
def test_text_models_without_lengths_count_the_tokens_that_are_not_padding(tmp_path, name, options):
    rng = np.random.default_rng(3)
    small = {"embed_dim": 6} if "transformer" not in name else {"d_model": 8, "num_heads": 2, "dim_feedforward": 8}
    model = build_model(name, (V,), 3, **small, **options)
    axes = {"tokens": {0: "batch", 1: "sequence"},
            "output": {0: "batch", 1: "sequence"} if name == "bilstm-tagger" else {0: "batch"}}
    others = [[_padded(rng, 3, 4)], [_padded(rng, 5, 9)]]
    _layer_check(tmp_path, model, [_padded(rng, 2, 8)], others, ["tokens"], axes, rng)


def _padded(rng, batch, width):
    ids = rng.integers(1, V, (batch, width))
    ids[np.arange(width)[None, :] >= rng.integers(1, width + 1, batch)[:, None]] = 0
    return ids


def test_recurrent_language_model_continues_from_a_state_input(tmp_path):
    """tokens, h_0, c_0 -> logits, h_n, c_n: a long text run in two chunks gives the logits of one run."""
    rng = np.random.default_rng(4)
    lm = LanguageModelOutputs(build_model("char-lstm", (V,), V, embed_dim=4, hidden_size=6, num_layers=2))
    _randomize(lm, rng)
    zeros = np.zeros((2, 2, 6), np.float32)
    axes = {"tokens": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"},
            **{n: {1: "batch"} for n in ("h0", "c0", "h_n", "c_n")}}
    export(lm, [rng.integers(0, V, (2, 5)), zeros, zeros], tmp_path / "lm.onnx", input_names=["tokens", "h0", "c0"],
           output_names=["logits", "h_n", "c_n"], dynamic_axes=axes)
    session = ort.InferenceSession(str(tmp_path / "lm.onnx"), providers=["CPUExecutionProvider"])
    text = rng.integers(0, V, (3, 11))
    whole = _nabla(lm, [text])[0]
    state = [np.zeros((2, 3, 6), np.float32)] * 2
    chunks = []
    for part in (text[:, :4], text[:, 4:]):
        logits, *state = session.run(None, {"tokens": part, "h0": state[0], "c0": state[1]})
        chunks.append(logits)
    np.testing.assert_allclose(np.concatenate(chunks, 1), whole, rtol=1e-3, atol=1e-4)


class _Swish(nn.Module):
    def forward(self, x):
        return x * x.sigmoid()


def test_unsupported_options_are_refused_with_the_module_path(tmp_path):
    x = np.zeros((2, 3), np.int64)
    lm = build_model("char-lstm", (V,), V, embed_dim=4, hidden_size=4)
    lm.embedding = nn.Embedding(V, 4, max_norm=1.0)
    with pytest.raises(UnsupportedExport, match=r"Embedding at model\.embedding: max_norm"):
        export(lm, x, tmp_path / "m.onnx")
    gpt = build_model("gpt", (V,), V, d_model=8, num_layers=2, num_heads=2, dim_feedforward=8, max_len=8)
    gpt.blocks.layers[1].activation = lambda h: h
    with pytest.raises(UnsupportedExport, match=r"TransformerEncoderLayer at model\.blocks\.layers\.1: activation"):
        export(gpt, x, tmp_path / "m.onnx")
    attn = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    with pytest.raises(UnsupportedExport, match=r"MultiheadAttention at model: add_bias_kv"):
        export(attn, np.zeros((3, 2, 8), np.float32), tmp_path / "m.onnx")
    tagger = build_model("vit", (1, 8, 8), 3, patch_size=4, dim=8, depth=1, heads=2, mlp_dim=8)
    tagger.conv_proj = nn.Sequential(tagger.conv_proj, _Swish())
    with pytest.raises(UnsupportedExport, match=r"_Swish at model\.conv_proj\.1"):
        export(tagger, np.zeros((1, 1, 8, 8), np.float32), tmp_path / "m.onnx")
    with pytest.raises(UnsupportedExport, match=r"TransformerEncoderLayer at model: input of rank 2"):
        export(nn.TransformerEncoderLayer(8, 2, 8), np.zeros((3, 8), np.float32), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_nabla_export_of_a_trained_language_model_checkpoint(tmp_path, monkeypatch, capsys):
    """A checkpoint written by a tiny ``nabla train char-lstm`` run exports with its logits and (h_n, c_n)."""
    from tests.cli.helpers import KJV, dataset_present
    if not dataset_present(KJV[0]):
        pytest.skip(f"kjv is not installed here ({KJV[1]})")
    from nabla import cli
    from nabla.cli import export as export_cmd
    from nabla.train.run import rebuild_from_checkpoint
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", "char-lstm", "--set", "hidden_size=8", "--set", "embed_dim=4", "--batch-size", "4",
                     "--seq-len", "16", "--max-steps", "2", "--eval-tokens", "200", "--eval-limit", "500", "--length",
                     "5", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    capsys.readouterr()
    monkeypatch.setitem(cli.COMMANDS, "export", export_cmd)
    out = tmp_path / "lm.onnx"
    assert cli.main(["export", str(tmp_path / "run" / "last.safetensors"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "token ids (batch, sequence)" in printed and "matches nabla" in printed, printed
    model, config, _ = rebuild_from_checkpoint(tmp_path / "run" / "last.safetensors")
    assert isinstance(target_for(model, config).module, LanguageModelOutputs)
    model.eval()
    tokens = np.random.default_rng(5).integers(0, model.vocab_size, (3, 21))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["logits", "h_n", "c_n"]
    logits, (h, c) = model(nabla.Tensor(tokens))
    for a, b in zip(session.run(None, {"tokens": tokens}), (logits, h, c)):
        np.testing.assert_allclose(a, b.data, rtol=1e-3, atol=1e-4)
