"""The bidirectional LSTM tagger: shapes, padding, and that both directions reach each position."""
import numpy as np
import pytest

import nabla as nb
from nabla import nn
from nabla.autograd.tensor import from_numpy
from nabla.models import build_model, get_model_entry
from nabla.models.tagger import BiLSTMTagger

V, C = 12, 2


def tokens(*shape, seed=0):
    return from_numpy(np.random.default_rng(seed).integers(4, V, shape).astype(np.int64))


def tagger(**kw):
    nb.manual_seed(0)
    return BiLSTMTagger(V, C, embed_dim=6, hidden_size=5, **kw).eval()


def test_shapes_and_registry_entry():
    entry = get_model_entry("bilstm-tagger")
    assert entry.task == "tagging" and entry.default_dataset == "kjv-segment"
    assert entry.options["bidirectional"] is True and entry.training["budget_clock"] == "cpu"
    m = build_model("bilstm-tagger", (V,), C, hidden_size=7, num_layers=2, dropout=0.1)
    assert m(tokens(3, 9), np.array([9, 4, 1])).shape == (3, 9, C)
    assert m.lstm.bidirectional and m.head.in_features == 14
    assert tagger(bidirectional=False).head.in_features == 5
    with pytest.raises(ValueError, match=r"BiLSTMTagger: expected tokens of shape \(B, T\)"):
        m(tokens(9))


def test_padding_does_not_change_the_real_positions_in_eval_mode():
    m = tagger(num_layers=2)
    short, long_ = tokens(1, 5, seed=1), tokens(1, 9, seed=2)
    alone = m(short).data[0]
    padded = np.zeros((2, 9), np.int64)
    padded[0, :5], padded[1] = short.data[0], long_.data[0]
    batch = m(from_numpy(padded), np.array([5, 9])).data
    np.testing.assert_allclose(batch[0, :5], alone, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(batch[1], m(long_).data[0], rtol=1e-5, atol=1e-6)
    # different padding ids or more of it change nothing either
    padded[0, 5:] = 7
    np.testing.assert_allclose(m(from_numpy(padded), np.array([5, 9])).data[0, :5], alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("bidirectional", [True, False])
def test_the_output_at_t_depends_on_a_later_token_only_when_bidirectional(bidirectional):
    m = tagger(bidirectional=bidirectional)
    x = tokens(1, 8, seed=3)
    y = x.data.copy()
    y[0, 6] = 4 if y[0, 6] != 4 else 5   # change a later token
    a, b = m(x).data[0], m(from_numpy(y)).data[0]
    earlier = np.abs(a[:6] - b[:6]).max(axis=1)            # the outputs before the changed token
    if bidirectional:
        assert np.all(earlier > 1e-6)                       # the reverse LSTM carries it back to t = 0
    else:
        assert np.all(earlier == 0)
    assert np.abs(a[6] - b[6]).max() > 1e-6


def test_padding_is_ignored_by_the_loss_and_gets_no_gradient():
    m = tagger()
    x = np.array([[5, 6, 7, 0, 0], [8, 9, 10, 11, 4]])
    tags = np.array([[1, 0, 1, -100, -100], [1, 0, 0, 1, 0]])
    loss_fn = nn.CrossEntropyLoss(ignore_index=-100)
    logits = m(from_numpy(x), np.array([3, 5]))
    loss = loss_fn(logits.reshape(-1, C), from_numpy(tags.reshape(-1)))
    real = tags.reshape(-1) != -100
    manual = loss_fn(from_numpy(logits.data.reshape(-1, C)[real]), from_numpy(tags.reshape(-1)[real]))
    assert float(loss.item()) == pytest.approx(float(manual.item()), rel=1e-6)
    loss.backward()
    assert np.all(m.embedding.weight.grad.data[0] == 0)   # the padding id's row
