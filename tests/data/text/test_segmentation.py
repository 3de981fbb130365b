"""kjv-segment: King James text without its spaces, tagged where words begin (labels from the text)."""
import numpy as np
import pytest

from nabla.data import DataLoader
from nabla.data.text import CharVocab
from nabla.data.text.segmentation import IGNORE_INDEX, KJVSegment, insert_spaces, remove_spaces


def _need():
    if not KJVSegment.is_present():
        pytest.skip(f"sword-text-kjv is not installed here; install it with: {KJVSegment.install_hint()}")


# ---------------------------------------------------------------------------------------------- tags from text
def test_remove_spaces_tags_the_first_character_of_each_word():
    chars, tags, lengths = remove_spaces(["In the beginning God.", "¶ And it was so."])
    assert chars == "InthebeginningGod." + "¶Anditwasso."
    assert lengths.tolist() == [18, 12] and tags.dtype == np.int64
    assert tags[:18].tolist() == [1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]  # punctuation stays inside
    assert tags[18:].tolist() == [1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 0]                     # "¶" is a word
    assert insert_spaces(chars[:18], tags[:18]) == "In the beginning God."


def test_insert_spaces_checks_lengths_and_ignores_the_first_tag():
    assert insert_spaces("abc", [0, 0, 1]) == "ab c"  # a sample always starts a word
    with pytest.raises(ValueError, match="insert_spaces: 3 characters but 2 tags"):
        insert_spaces("abc", [1, 0])


# ---------------------------------------------------------------------------------------------- the real data set
@pytest.fixture(scope="module")
def splits():
    _need()
    train = KJVSegment(split="train")
    return {"train": train, "valid": KJVSegment(split="valid"), "test": KJVSegment(split="test", vocab=train.vocab)}


def test_removing_spaces_and_reinserting_them_at_the_tags_gives_the_text(splits):
    test = splits["test"]
    assert all(insert_spaces(test.sample_chars(i), test.sample_tags(i)) == test.texts[i] for i in range(len(test)))
    assert " " not in test.chars and len(test.chars) == len(test.tags) == int(test.lengths.sum())
    # tag 1 exactly where the text had a space before the character, or a verse began
    words = sum(len(t.split(" ")) for t in test.texts)
    assert int(test.tags.sum()) == words and np.all(test.tags[test.offsets] == 1)


def test_splits_are_disjoint_held_out_passages(splits):
    pos = {k: set(d.positions.tolist()) for k, d in splits.items()}
    assert not (pos["train"] & pos["valid"]) and not (pos["train"] & pos["test"]) and not (pos["valid"] & pos["test"])
    assert {k: len(d) for k, d in splits.items()} == KJVSegment.sizes
    assert sorted(pos["train"] | pos["valid"] | pos["test"]) == list(range(sum(KJVSegment.sizes.values())))
    assert np.all(np.diff(splits["test"].positions[:100]) == 1)  # a contiguous passage of 100 entries


def test_vocabulary_comes_from_the_training_split_and_batches_pad(splits):
    train, valid = splits["train"], splits["valid"]
    assert isinstance(train.vocab, CharVocab) and valid.vocab == train.vocab and train.vocab.pad_index == 0
    assert set(train.vocab.tokens) == set(train.chars)
    assert not np.any(train.ids == train.vocab.unk_index)
    tokens, lengths, tags = valid.get_batch([3, 0, 7])
    assert tokens.shape == tags.shape == (3, int(lengths.max())) and tokens.dtype == tags.dtype == np.int64
    for row, i in enumerate([3, 0, 7]):
        n = int(valid.lengths[i])
        assert lengths[row] == n and valid.vocab.decode(tokens[row, :n]) == valid.sample_chars(i)
        assert np.array_equal(tags[row, :n], valid.sample_tags(i))
        assert np.all(tokens[row, n:] == 0) and np.all(tags[row, n:] == IGNORE_INDEX)
    x, n, y = next(iter(DataLoader(valid, batch_size=4)))
    assert x.shape[0] == 4 and y.shape == x.shape


def test_registry_facts():
    assert KJVSegment.task == "tagging" and KJVSegment.tasks == ("tagging",)
    assert KJVSegment.classes == ["inside", "begin"] and "sword-text-kjv" in KJVSegment.install_hint()
