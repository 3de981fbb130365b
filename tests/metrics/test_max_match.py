"""The dictionary baseline: greedy forward maximum matching, vectorised (against a plain loop)."""
import numpy as np
import pytest

from nabla.metrics.max_match import MaxMatch


def reference_max_match(text, words):
    """The textbook loop: longest dictionary word at each position, else one character."""
    out, i, longest = [], 0, max(map(len, words))
    while i < len(text):
        n = next((k for k in range(min(longest, len(text) - i), 0, -1) if text[i:i + k] in words), 1)
        out.append(text[i:i + n])
        i += n
    return out


def test_longest_word_first_and_unknown_characters_alone():
    m = MaxMatch(["the", "there", "is", "a", "dog", "here"])
    assert m.segment("thereisadog") == ["there", "is", "a", "dog"]       # "there" before "the"
    assert m.segment("thereisxdog") == ["there", "is", "x", "dog"]       # unknown character: a word of its own
    assert m.segment("qq") == ["q", "q"] and len(m) == 6 and m.max_length == 5


def test_greedy_is_not_always_right():
    # the classic failure: the longest first word leaves an unknown remainder
    assert MaxMatch(["the", "them", "theme", "men"]).segment("themen") == ["theme", "n"]


def test_words_never_cross_sample_boundaries():
    m = MaxMatch(["ab"])
    assert m.tags("abab", lengths=[1, 3]).tolist() == [1, 1, 1, 0]    # "a" | "b", "ab"
    assert m.tags("abab").tolist() == [1, 0, 1, 0]
    with pytest.raises(ValueError, match="lengths sum to 3 but the text has 4"):
        m.tags("abab", lengths=[3])
    with pytest.raises(ValueError, match="dictionary is empty"):
        MaxMatch([""])


def test_vectorised_walk_equals_the_loop_on_random_texts():
    rng = np.random.default_rng(0)
    letters = np.array(list("abcde"))
    words = {"".join(rng.choice(letters, rng.integers(1, 6))) for _ in range(40)} - {"e"}
    m = MaxMatch(words)
    texts = ["".join(rng.choice(letters, n)) for n in rng.integers(1, 300, 12)]
    tags = m.tags("".join(texts), lengths=[len(t) for t in texts])
    got, a = [], 0
    for t in texts:
        bounds = np.nonzero(tags[a:a + len(t)])[0].tolist() + [len(t)]
        got.append([t[i:j] for i, j in zip(bounds[:-1], bounds[1:])])
        a += len(t)
    assert got == [reference_max_match(t, words) for t in texts]
