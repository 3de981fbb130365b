"""Sequence classifiers (text-cnn, text-lstm, text-transformer): shapes, padding never changes the output,
a batch of mixed lengths equals each sequence alone, gradients reach every parameter (tiny sizes)."""
import numpy as np
import pytest

import nabla as nb
from nabla.autograd.tensor import from_numpy
from nabla.models import build_model, get_model_entry
from nabla.models.text_classifiers import TextCNN, TextLSTM, TextTransformer, masked_mean, padding_mask
from nabla.ops.loss import cross_entropy

V, C = 23, 5
LENGTHS = np.array([7, 2, 5, 1], np.int64)

MODELS = {
    "cnn": lambda: TextCNN(V, C, embed_dim=8, num_filters=6, widths=(3, 4, 5), dropout=0.5),
    "cnn-width2": lambda: TextCNN(V, C, embed_dim=8, num_filters=6, widths=(2,)),
    "lstm-mean": lambda: TextLSTM(V, C, embed_dim=8, hidden_size=6, pool="mean"),
    "lstm-last": lambda: TextLSTM(V, C, embed_dim=8, hidden_size=6, pool="last"),
    "lstm-uni-last": lambda: TextLSTM(V, C, embed_dim=8, hidden_size=6, bidirectional=False, pool="last"),
    "lstm-2layers": lambda: TextLSTM(V, C, embed_dim=8, hidden_size=6, num_layers=2, pool="mean"),
    "transformer-mean": lambda: TextTransformer(V, C, d_model=8, num_layers=2, num_heads=2, dim_feedforward=16),
    "transformer-cls": lambda: TextTransformer(V, C, d_model=8, num_layers=1, num_heads=2, dim_feedforward=16,
                                               pool="cls"),
}


def batch(lengths=LENGTHS, extra=0, seed=0):
    """Tokens (B, max(lengths) + extra) of ids 1..V-1, zero (padding) past each length."""
    T = int(lengths.max()) + extra
    tok = np.random.default_rng(seed).integers(1, V, (len(lengths), T)).astype(np.int64)
    tok[np.arange(T)[None, :] >= lengths[:, None]] = 0
    return tok


def run(model, tokens, lengths=LENGTHS):
    return model(from_numpy(tokens), from_numpy(lengths)).data


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_padding_never_changes_the_output(name):
    nb.manual_seed(0)
    model = MODELS[name]().eval()
    tok = batch()
    out = run(model, tok)
    assert out.shape == (len(LENGTHS), C) and np.isfinite(out).all()
    padded = np.concatenate([tok, np.zeros((len(LENGTHS), 6), np.int64)], 1)   # more padding, same verses
    np.testing.assert_allclose(run(model, padded), out, rtol=1e-5, atol=1e-5)
    alone = np.concatenate([run(model, tok[i:i + 1, :n], LENGTHS[i:i + 1]) for i, n in enumerate(LENGTHS)])
    np.testing.assert_allclose(alone, out, rtol=1e-5, atol=1e-5)                 # the batch's padding is ignored
    np.testing.assert_allclose(model(from_numpy(tok)).data, out, rtol=1e-6, atol=1e-6)   # lengths from the padding


@pytest.mark.parametrize("name", MODELS)
def test_gradients_reach_every_parameter(name):
    nb.manual_seed(1)
    model = MODELS[name]().train()
    tok = batch(seed=2)
    loss = cross_entropy(model(from_numpy(tok), from_numpy(LENGTHS)), from_numpy(np.array([0, 1, 2, 3])))
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None and np.isfinite(p.grad.data).all(), pname
        if pname != "embedding.weight":
            assert np.abs(p.grad.data).sum() > 0, pname
    g = model.embedding.weight.grad.data
    assert not g[0].any() and g[tok[tok > 0]].any()   # the <pad> row learns nothing; the tokens read do


def test_tokens_are_changed_only_inside_the_verse():
    """A token past a verse's length changes nothing; one inside it changes the logits."""
    nb.manual_seed(3)
    model = MODELS["cnn"]().eval()
    tok = batch(extra=3)
    out = run(model, tok)
    inside = tok.copy()
    inside[0, 3] = 1 + inside[0, 3] % (V - 1)
    assert not np.allclose(run(model, inside)[0], out[0])
    np.testing.assert_array_equal(run(model, inside)[1:], out[1:])


def test_masked_helpers():
    mask = padding_mask(np.array([2, 3]), 4)
    np.testing.assert_array_equal(mask, [[False, False, True, True], [False, False, False, True]])
    h = np.arange(2 * 4 * 3, dtype=np.float32).reshape(2, 4, 3)
    got = masked_mean(from_numpy(h), np.array([2, 3])).data
    np.testing.assert_allclose(got, np.stack([h[0, :2].mean(0), h[1, :3].mean(0)]))


def test_bad_inputs_and_options_are_one_line_errors():
    model = MODELS["cnn"]()
    with pytest.raises(ValueError, match=r"TextCNN.*lengths \(B,\) = \(4,\) in \[1, 7\]"):
        run(model, batch(), np.array([7, 2, 5, 0]))
    with pytest.raises(ValueError, match="expected tokens of shape"):
        model(from_numpy(np.zeros((2, 3, 1), np.int64)), from_numpy(np.array([1, 1])))
    with pytest.raises(ValueError, match="pool must be 'mean' or 'last'"):
        TextLSTM(V, C, pool="max")
    with pytest.raises(ValueError, match="pool must be 'mean' or 'cls'"):
        TextTransformer(V, C, d_model=8, num_heads=2, pool="max")
    with pytest.raises(ValueError, match="exceeds max_len=4"):
        run(TextTransformer(V, C, d_model=8, num_heads=2, max_len=4), batch())
    with pytest.raises(ValueError, match="'widths' expects comma-separated positive integers"):
        build_model("text-cnn", (V,), C, widths="3,x")


@pytest.mark.parametrize("name", ["text-cnn", "text-lstm", "text-transformer"])
def test_registered_for_text_classification(name):
    entry = get_model_entry(name)
    assert entry.task == "text-classification" and entry.default_dataset == "kjv-books"
    assert entry.training["budget_clock"] == "cpu" and entry.training["time_budget"] <= 240
    small = {"text-cnn": {"embed_dim": 8, "num_filters": 4, "widths": "2,3"},
             "text-lstm": {"embed_dim": 8, "hidden_size": 4, "pool": "last"},
             "text-transformer": {"d_model": 8, "num_heads": 2, "dim_feedforward": 8, "pool": "cls"}}[name]
    model = build_model(name, (V,), C, **small).eval()
    assert model.embedding.num_embeddings == V and run(model, batch()).shape == (len(LENGTHS), C)
