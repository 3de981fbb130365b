"""Scores of a word segmentation from per-character tags: hand-made cases with known answers."""
import numpy as np
import pytest

from nabla.metrics.word_segmentation import WordSegmentationScores, segmentation_scores, word_spans

GOLD = [1, 0, 0, 1, 0, 0, 1, 0, 0]   # the|cat|sat
PRED = [1, 0, 1, 0, 0, 0, 1, 0, 0]   # th|ecat|sat


def test_character_and_word_scores_of_a_hand_made_case():
    s = segmentation_scores(PRED, GOLD, lengths=[9])
    assert s["accuracy"] == pytest.approx(7 / 9)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)   # TP 2, FP 1, FN 1
    assert s["f1"] == pytest.approx(2 / 3)
    # only "sat" has both boundaries right: 1 of 3 predicted words, 1 of 3 true words
    assert s["word_precision"] == pytest.approx(1 / 3) and s["word_recall"] == pytest.approx(1 / 3)
    assert s["word_f1"] == pytest.approx(1 / 3)


def test_a_word_needs_both_boundaries_and_nothing_inside():
    gold = [1, 0, 0, 1, 0]                               # abc|de
    merged = segmentation_scores([1, 0, 0, 0, 0], gold, lengths=[5])   # abcde: no word right
    split = segmentation_scores([1, 0, 1, 1, 0], gold, lengths=[5])    # ab|c|de: "de" right
    assert merged["word_f1"] == 0.0 and merged["precision"] == 1.0 and merged["recall"] == 0.5  # its one tag is right
    assert split["word_precision"] == pytest.approx(1 / 3) and split["word_recall"] == pytest.approx(1 / 2)
    assert split["word_f1"] == pytest.approx(2 * 1 / (3 + 2))
    perfect = segmentation_scores(gold, gold, lengths=[5])
    assert perfect["word_f1"] == perfect["f1"] == perfect["accuracy"] == 1.0


def test_a_sample_always_starts_a_word_and_words_stop_at_sample_ends():
    # two samples "ab" and "cd": a missing tag at a sample start is still a boundary for the words
    s = segmentation_scores([0, 0, 0, 0], [1, 0, 1, 0], lengths=[2, 2])
    assert s["word_f1"] == 1.0 and s["recall"] == 0.0 and s["accuracy"] == 0.5
    n = 4
    assert word_spans([0, 0, 0, 0], [2, 2]).tolist() == [0 * (n + 1) + 2, 2 * (n + 1) + 4]
    with pytest.raises(ValueError, match="lengths sum to 3 but 4 tags"):
        word_spans([1, 0, 0, 0], [3])


def test_padded_batches_accumulate_as_one_flat_update():
    pad = -100
    target = np.array([GOLD, [1, 0, 1, 1, pad, pad, pad, pad, pad]])
    preds = np.array([PRED, [1, 1, 1, 0, 1, 1, 0, 0, 1]])        # predictions at padding do not count
    batch = WordSegmentationScores()
    batch.update(preds[:1], target[:1])
    batch.update(preds[1:], target[1:])
    flat = segmentation_scores(PRED + [1, 1, 1, 0], GOLD + [1, 0, 1, 1], lengths=[9, 4])
    assert batch.compute() == flat
    # the second sample ab|c|d predicted a|b|cd: no word right; of the first, only "sat"
    assert flat["true_words"] == 6 and flat["pred_words"] == 6 and flat["correct_words"] == 1
    assert flat["chars"] == 13


def test_bad_input():
    m = WordSegmentationScores()
    with pytest.raises(ValueError, match="padding .* must follow"):
        m.update(np.array([[1, 0, 1]]), np.array([[1, -100, 1]]))
    with pytest.raises(ValueError, match="same shape"):
        m.update(np.array([[1, 0]]), np.array([[1, 0, 1]]))
    with pytest.raises(ValueError, match=r"expected \(B, T\) tags"):
        m.update(np.array([1, 0]), np.array([1, 0]))
    assert m.compute()["word_f1"] == 0.0 and m.compute()["chars"] == 0
