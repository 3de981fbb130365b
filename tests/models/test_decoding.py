"""Decoding: sampling (temperature, top-k, top-p), greedy decoding, and beam search checked against
exhaustive search on a small vocabulary."""
import itertools

import numpy as np
import pytest

import nabla
from nabla.models.decoding import beam_search, greedy_decode, index_state, log_softmax_np, sample, sample_decode

V, EOS = 4, 0


def _logits_of(prefix):
    """Deterministic next-token scores for a prefix (a tuple of ints)."""
    seed = 1 + sum((t + 1) * 5 ** i for i, t in enumerate(prefix))
    z = np.random.default_rng(seed).normal(0, 0.6, V)  # flat enough that greedy is often wrong
    z[EOS] -= 0.5
    return z


def _prefix_step(tokens, state):
    rows = tokens.numpy()
    assert rows.ndim == 2
    return np.stack([_logits_of(tuple(r)) for r in rows]), state


def _exhaustive(start, max_len, alpha):
    """Best hypothesis over every sequence that ends with EOS or reaches max_len."""
    best = (-np.inf, None)
    for L in range(1, max_len + 1):
        for seq in itertools.product(range(V), repeat=L):
            if EOS in seq[:-1] or (L < max_len and seq[-1] != EOS):
                continue
            prefix, score = (start,), 0.0
            for t in seq:
                score += log_softmax_np(_logits_of(prefix))[t]
                prefix += (t,)
            best = max(best, (score / L ** alpha, seq))
    return best


# ---------------------------------------------------------------------------------------------- sampling
def test_sample_argmax_cases_and_shapes():
    logits = np.array([[0.1, 2.0, -1.0], [3.0, 0.0, 2.9]])
    assert sample(logits, temperature=0).numpy().tolist() == [1, 0]
    assert sample(logits, top_k=1, generator=0).numpy().tolist() == [1, 0]
    assert sample(nabla.tensor(logits), generator=0).dtype == np.int64
    assert sample(np.zeros((2, 3, 5)), generator=0).shape == (2, 3)
    a = sample(np.zeros((100, 7)), generator=5).numpy()
    assert np.array_equal(a, sample(np.zeros((100, 7)), generator=5).numpy())


def test_sample_distributions():
    p = np.array([0.5, 0.3, 0.2])
    logits = np.tile(np.log(p), (40000, 1))
    def freq(**kw):
        return np.bincount(sample(logits, generator=0, **kw).numpy(), minlength=3) / len(logits)
    np.testing.assert_allclose(freq(), p, atol=0.01)
    np.testing.assert_allclose(freq(top_k=2), [0.625, 0.375, 0], atol=0.01)
    q = p ** 2 / (p ** 2).sum()
    np.testing.assert_allclose(freq(temperature=0.5), q, atol=0.01)
    np.testing.assert_allclose(freq(top_p=0.6), [0.625, 0.375, 0], atol=0.01)   # 0.5 + 0.3 reach 0.6
    np.testing.assert_allclose(freq(top_p=0.4), [1, 0, 0], atol=0)             # the top token alone
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample(logits, temperature=-1)
    with pytest.raises(ValueError, match="top_p must be in"):
        sample(logits, top_p=0)


def test_sample_uses_the_global_seed():
    nabla.manual_seed(3)
    a = sample(np.zeros((50, 9))).numpy()
    nabla.manual_seed(3)
    assert np.array_equal(a, sample(np.zeros((50, 9))).numpy())


# ---------------------------------------------------------------------------------------------- greedy
def _markov_step(tokens, state):
    """A first-order chain: token t -> scores T[t] (state counts the calls)."""
    T = np.array([[0, 0, 0, 0], [0, 0, 5, 1], [1, 0, 0, 5], [5, 1, 0, 0]], dtype=np.float64)
    return nabla.tensor(T[tokens.numpy()]), state + 1


def test_greedy_follows_the_argmax_and_stops_at_eos():
    tokens, lengths = greedy_decode(_markov_step, start=[1, 3, 2], max_len=10, eos=EOS, state=0)
    # 1 -> 2 -> 3 -> 0(eos); 3 -> 0; 2 -> 3 -> 0
    assert tokens.numpy().tolist() == [[2, 3, 0], [0, 0, 0], [3, 0, 0]]
    assert lengths.numpy().tolist() == [3, 1, 2]
    t, n = greedy_decode(_markov_step, start=1, max_len=2, eos=EOS, state=0)
    assert t.numpy().tolist() == [[2, 3]] and n.numpy().tolist() == [2]
    t, n = greedy_decode(_markov_step, start=1, max_len=5, batch_size=2, state=0)  # no eos: runs max_len
    assert t.shape == (2, 5)


def test_sample_decode_is_reproducible():
    a, la = sample_decode(_markov_step, start=[1, 2, 3, 1], max_len=6, eos=EOS, state=0, temperature=1.0,
                          generator=11)
    b, lb = sample_decode(_markov_step, start=[1, 2, 3, 1], max_len=6, eos=EOS, state=0, temperature=1.0,
                          generator=11)
    assert np.array_equal(a.numpy(), b.numpy()) and np.array_equal(la.numpy(), lb.numpy())
    # after eos only padding
    arr, ln = a.numpy(), la.numpy()
    for row, n in zip(arr, ln):
        assert np.all(row[n:] == 0)


def test_decoders_do_not_record_a_graph():
    w = nabla.randn(V, V, requires_grad=True)
    seen = []
    def step(tokens, state):
        out = w[tokens]
        seen.append(out.requires_grad)
        return out, state
    greedy_decode(step, start=1, max_len=3)
    beam_search(step, start=1, beam_size=2, max_len=3, eos=EOS)
    assert not any(seen)


# ---------------------------------------------------------------------------------------------- beam search
@pytest.mark.parametrize("alpha", [0.0, 1.0])
def test_beam_search_equals_exhaustive_search_when_the_beam_holds_everything(alpha):
    max_len, starts = 4, [1, 2, 3]
    tokens, scores = beam_search(_prefix_step, start=starts, beam_size=V ** max_len, max_len=max_len, eos=EOS,
                                 length_penalty=alpha, feed="prefix")
    _, greedy_scores = beam_search(_prefix_step, start=starts, beam_size=1, max_len=max_len, eos=EOS,
                                   length_penalty=alpha, feed="prefix")
    for b, start in enumerate(starts):
        want_score, want_seq = _exhaustive(start, max_len, alpha)
        n = len(want_seq)
        assert tokens.numpy()[b, :n].tolist() == list(want_seq) and np.all(tokens.numpy()[b, n:] == 0)
        assert scores.numpy()[b] == pytest.approx(want_score)
    assert np.any(greedy_scores.numpy() < scores.numpy() - 1e-6)  # the check can tell a beam of one apart


def test_beam_of_one_is_greedy():
    g, gl = greedy_decode(_prefix_step, start=[1, 2, 3], max_len=6, eos=EOS, feed="prefix")
    b, _ = beam_search(_prefix_step, start=[1, 2, 3], beam_size=1, max_len=6, eos=EOS, feed="prefix")
    width = g.shape[1]
    assert np.array_equal(b.numpy()[:, :width], g.numpy())


def test_beam_finds_what_greedy_misses():
    # from start: 'A' (p .6) then a flat distribution; 'B' (p .4) then eos with p ~1
    def step(tokens, state):
        rows = tokens.numpy()
        out = np.full((len(rows), 4), -30.0)
        for i, r in enumerate(rows):
            if len(r) == 1:
                out[i, 1], out[i, 2] = np.log(0.6), np.log(0.4)
            elif r[1] == 1:
                out[i] = 0.0                      # uniform: every continuation 1/4
            else:
                out[i, EOS] = 0.0                 # 'B' is followed by eos
        return out, state
    g, _ = greedy_decode(step, start=3, max_len=2, eos=EOS, feed="prefix")
    b, s = beam_search(step, start=3, beam_size=2, max_len=2, eos=EOS, length_penalty=0.0, feed="prefix")
    assert g.numpy()[0, 0] == 1 and b.numpy()[0].tolist() == [2, 0]
    assert s.numpy()[0] == pytest.approx(np.log(0.4), abs=1e-6)
    all_t, all_s, all_n = beam_search(step, start=3, beam_size=2, max_len=2, eos=EOS, length_penalty=0.0,
                                      feed="prefix", return_all=True)
    assert all_t.shape == (1, 2, 2) and all_s.numpy()[0, 0] >= all_s.numpy()[0, 1] and all_n.numpy()[0, 0] == 2


def test_beam_search_reorders_a_recurrent_state():
    """A state in PyTorch's recurrent layout (layers, N, H) carries the prefix; with index_state(dim=1)
    the search gives the same result as the stateless prefix version."""
    def step(tokens, state):
        h = state[0].numpy().copy()                       # (1, N, max_len + 1): the prefix so far
        n = state[1]
        h[0, :, n] = tokens.numpy()
        logits = np.stack([_logits_of(tuple(int(v) for v in row[:n + 1])) for row in h[0]])
        return logits, (nabla.tensor(h), n + 1)
    max_len, start = 4, [1, 3]
    h0 = np.zeros((1, 2, max_len + 1), np.int64)
    got, gs = beam_search(step, start=start, beam_size=3, max_len=max_len, eos=EOS, state=(nabla.tensor(h0), 0),
                          reorder_state=index_state(dim=1))
    want, ws = beam_search(_prefix_step, start=start, beam_size=3, max_len=max_len, eos=EOS, feed="prefix")
    assert np.array_equal(got.numpy(), want.numpy()) and np.allclose(gs.numpy(), ws.numpy())


def test_beam_search_errors():
    with pytest.raises(ValueError, match="beam_size must be a positive integer"):
        beam_search(_prefix_step, 1, beam_size=0, max_len=3, eos=EOS, feed="prefix")
    with pytest.raises(ValueError, match="eos 9 is not a token of a vocabulary of size 4"):
        beam_search(_prefix_step, 1, beam_size=2, max_len=3, eos=9, feed="prefix")
    with pytest.raises(ValueError, match="feed must be 'last' or 'prefix'"):
        greedy_decode(_prefix_step, 1, max_len=3, feed="all")
    with pytest.raises(ValueError, match=r"returned logits of shape \(4,\)"):
        greedy_decode(lambda t, s: (np.zeros(4), s), 1, max_len=3)
