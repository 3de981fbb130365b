"""Edit distance, PER / WER / CER, and BLEU against hand-computed values and sacrebleu's."""
import math

import numpy as np
import pytest

import nabla
from nabla.train.text_metrics import (character_error_rate, corpus_bleu, edit_distance, edit_distances, error_rate,
                                      phoneme_error_rate, sentence_bleu, sequence_error_rate, word_error_rate)


def _dp(a, b):
    """The textbook O(n m) Levenshtein table, as the reference."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    return d[-1][-1]


def test_edit_distance_known_values():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("flaw", "lawn") == 2
    assert edit_distance("", "abc") == 3 and edit_distance("abc", "") == 3 and edit_distance("", "") == 0
    assert edit_distance("abc", "abc") == 0
    assert edit_distance(["AH", "B", "AW1", "T"], ["AH", "B", "AW", "T", "S"]) == 2
    assert edit_distance(nabla.tensor([1, 2, 3]), np.array([1, 3])) == 1


def test_edit_distances_batch_matches_the_table():
    rng = np.random.default_rng(0)
    a = ["".join(rng.choice(list("abcd"), rng.integers(0, 12))) for _ in range(200)]
    b = ["".join(rng.choice(list("abcd"), rng.integers(0, 12))) for _ in range(200)]
    got = edit_distances(a, b)
    assert got.dtype == np.int64 and got.tolist() == [_dp(x, y) for x, y in zip(a, b)]
    assert edit_distances([], []).shape == (0,)
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        edit_distances(["a", "b"], ["a"])


def test_error_rates():
    refs = [["K", "AE", "T"], ["D", "AO", "G"]]
    hyps = [["K", "AE", "T"], ["D", "AA", "G", "Z"]]
    assert phoneme_error_rate(hyps, refs) == pytest.approx(2 / 6)
    assert word_error_rate(["the cat sat", "a dog"], ["the cat sat down", "the dog"]) == pytest.approx(2 / 6)
    assert character_error_rate(["kitten"], ["sitting"]) == pytest.approx(3 / 7)
    assert sequence_error_rate(hyps, refs) == 0.5
    # several references: the closest one counts
    multi = [[["R", "IY", "D"], ["R", "EH", "D"]], [["D", "AO", "G"]]]
    assert phoneme_error_rate([["R", "EH", "D"], ["D", "AO", "G"]], multi, multi_reference=True) == 0.0
    assert phoneme_error_rate([["R", "EH"], ["D", "AO", "G"]], multi, multi_reference=True) == pytest.approx(1 / 6)
    assert sequence_error_rate([["R", "EH", "D"]], [multi[0]], multi_reference=True) == 0.0
    assert word_error_rate(["a b"], [["a b c", "a b"]], multi_reference=True) == 0.0
    assert error_rate([[]], [[]]) == 0.0


def test_bleu_hand_computed():
    hyp = "the cat sat on the mat".split()
    ref = "the cat is on the mat".split()
    d = corpus_bleu([hyp], [ref], return_details=True)
    # p1 = 5/6, p2 = 3/5, p3 = 1/4, p4 = 0/3: no 4-gram match, so unsmoothed BLEU is 0
    assert d["matches"] == [5, 3, 1, 0] and d["totals"] == [6, 5, 4, 3] and d["bleu"] == 0.0
    assert corpus_bleu([hyp], [ref], max_n=2) == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    # Papineni et al.'s clipping example: "the" x7 against two references -> unigram precision 2/7
    refs = [["the cat is on the mat".split(), "there is a cat on the mat".split()]]
    assert corpus_bleu([["the"] * 7], refs, max_n=1) == pytest.approx(2 / 7)
    # brevity penalty exp(1 - r/c) with r = 6, c = 2
    assert corpus_bleu(["the cat"], ["the cat is on the mat"], max_n=2) == pytest.approx(math.exp(1 - 6 / 2))
    assert corpus_bleu([ref], [ref]) == pytest.approx(1.0)
    assert corpus_bleu([[]], [ref]) == 0.0
    # smoothing of the zero 4-gram precision
    assert corpus_bleu([hyp], [ref], smoothing="floor") == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 0.1 / 3) ** 0.25)
    assert corpus_bleu([hyp], [ref], smoothing="exp") == pytest.approx((5 / 6 * 3 / 5 * 1 / 4 * 1 / (2 * 3)) ** 0.25)
    assert corpus_bleu([hyp], [ref], smoothing="add-k") == pytest.approx((5 / 6 * 4 / 6 * 2 / 5 * 1 / 4) ** 0.25)
    assert sentence_bleu(hyp, ref) == corpus_bleu([hyp], [ref], smoothing="exp")


# values from sacrebleu 2.6.0: corpus_bleu(hyps, [r1, r2], tokenize="none", smooth_method=...).score / 100
_SACREBLEU = [
    (["d a a e", "c e a", "b a a d d a b"], ["e d a", "e a b e a e e d a", "a e b c"],
     ["b e a e c e", "b a e e b c a e a", "a e b d e d c"],
     {"add-k": 0.18029515876958663, "exp": 0.10990247346947805, "floor": 0.058449387371683065, "none": 0.0}),
    (["d c c b b b a", "c e d c d c e", "a e d"], ["c b d d", "a e e", "c c c e d e d a a"],
     ["d a a c e", "d c d c a d c b", "a d a b c b b"],
     {"add-k": 0.30830207480491306, "exp": 0.23967729739144134, "floor": 0.23967729739144134,
      "none": 0.23967729739144134}),
    (["e b e", "c e a"], ["b e d", "c c e c"], ["a a d d d d", "a b a c c"],
     {"add-k": 0.5408536609893485, "exp": 0.0, "floor": 0.0, "none": 0.0}),
    (["a b b b a b e d", "b e e d c b e e b", "a a e"], ["b d b b a c b c", "b e c c e d b", "c d e"],
     ["e d e b e b e e a", "d b e a b b b d e", "a e a c e e e d"],
     {"add-k": 0.2545355660554532, "exp": 0.1836028134946796, "floor": 0.12278260149096115, "none": 0.0}),
]


@pytest.mark.parametrize("hyps,r1,r2,expected", _SACREBLEU)
def test_bleu_matches_sacrebleu(hyps, r1, r2, expected):
    refs = [[a, b] for a, b in zip(r1, r2)]
    for method, value in expected.items():
        got = corpus_bleu(hyps, refs, smoothing=None if method == "none" else method)
        assert got == pytest.approx(value, abs=1e-12)


def test_bleu_against_installed_oracles():
    sacrebleu = pytest.importorskip("sacrebleu")
    rng = np.random.default_rng(3)
    words = list("abcdef")
    for _ in range(20):
        hyps = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(3)]
        refs = [" ".join(rng.choice(words, rng.integers(1, 12))) for _ in range(3)]
        want = sacrebleu.corpus_bleu(hyps, [refs], tokenize="none", force=True, smooth_method="exp").score / 100
        assert corpus_bleu(hyps, refs, smoothing="exp") == pytest.approx(want, abs=1e-12)


def test_bleu_errors():
    with pytest.raises(ValueError, match="smoothing must be"):
        corpus_bleu(["a"], ["a"], smoothing="add1")
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        corpus_bleu(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="expected 4 weights"):
        corpus_bleu(["a"], ["a"], weights=[0.5, 0.5])
