"""King James verses labelled by book / testament: the passage split (synthetic books), and on the real text
(skipped where sword-text-kjv is not installed) labels from the text, disjoint splits covering every verse
and every book, a vocabulary built from the training split only, padded batches."""
import numpy as np
import pytest

from nabla.data import DataLoader
from nabla.data.datasets import datasets_for_task, get_dataset, list_datasets
from nabla.data.text import KJV, WordVocab
from nabla.data.text.pairs import BucketBatchSampler
from nabla.data.text.verses import BOOKS, HELD, OLD_TESTAMENT, KJVBooks, KJVTestament, passage_split

needs_kjv = pytest.mark.skipif(not KJVBooks.is_present(),
                               reason=f"kjv-books needs sword-text-kjv, not installed here ({KJVBooks.install_hint()})")


# ---------------------------------------------------------------------------------------------- the split
def test_passage_split_partitions_every_book():
    sizes = {"A": 13, "B": 199, "C": 450, "D": 2461, "E": 2}
    books = [b for b, n in sizes.items() for _ in range(n)]
    parts = {s: passage_split(books, s) for s in ("train", "valid", "test")}
    together = np.sort(np.concatenate(list(parts.values())))
    np.testing.assert_array_equal(together, np.arange(len(books)))          # disjoint, and every verse
    for b, n in sizes.items():
        held = {s: sum(books[i] == b for i in p) for s, p in parts.items()}
        if n >= 3:
            assert held["valid"] == held["test"] >= 1, (b, held)             # every book in every split
            assert held["test"] <= max(1, round(HELD * n)) + 2, (b, held)    # about 5 % each
        else:
            assert held["train"] == n                                        # too short to hold anything out
    test_a = [i for i in parts["test"] if books[i] == "A"]
    assert test_a == [12] and [i for i in parts["valid"] if books[i] == "A"] == [11]  # the book's last verses
    d_test = np.array([i for i in parts["test"] if books[i] == "D"])
    runs = np.split(d_test, np.flatnonzero(np.diff(d_test) > 1) + 1)
    assert len(runs) == 12 and all(len(r) >= 5 for r in runs)                # contiguous passages through the book
    with pytest.raises(ValueError, match="split must be 'train', 'valid' or 'test'"):
        passage_split(books, "dev")


# ---------------------------------------------------------------------------------------------- real verses
@pytest.fixture(scope="module")
def splits():
    return {s: KJVBooks(split=s) for s in ("train", "valid", "test")}


@needs_kjv
def test_labels_come_from_the_text(splits):
    train = splits["train"]
    assert train.classes == list(BOOKS) and len(BOOKS) == 66
    assert train.texts[0] == "In the beginning God created the heaven and the earth." and train.labels[0] == 0
    test = splits["test"]
    assert test.texts[-1].startswith("The grace of our Lord Jesus Christ") and test.classes[test.labels[-1]] == "Rev"
    wept = [(s.classes[s.labels[i]], s.books[i]) for s in splits.values() for i, t in enumerate(s.texts)
            if t == "Jesus wept."]
    assert wept == [("John", "John")]
    np.testing.assert_array_equal(np.diff(train.labels) >= 0, True)        # canonical order
    assert [train.classes[k] for k in train.labels[:3]] == train.books[:3]
    everything = [t for s in splits.values() for t in s.texts]
    assert not any(t.startswith("The First Book of Moses") or t == "THE GOSPEL ACCORDING TO ST. MATTHEW"
                   for t in everything)                                     # book titles name their book: left out
    testament = KJVTestament(split="train")
    assert testament.classes == ["OT", "NT"] and testament.texts == train.texts
    np.testing.assert_array_equal(testament.labels, train.labels >= OLD_TESTAMENT)


@needs_kjv
def test_splits_are_disjoint_cover_every_verse_and_every_book(splits):
    entries = [e for e in KJV(split="train")._read_module(KJV.module.module, False) if e[0] and e[1]]
    assert sum(len(s) for s in splits.values()) == len(entries) - 66        # every verse but the 66 titles
    for name, ds in splits.items():
        assert len(ds) == KJVBooks.sizes[name] == KJVTestament.sizes[name]
        assert set(ds.books) == set(BOOKS), name                            # every book in every split
    positions = np.sort(np.concatenate([s.indices for s in splits.values()]))
    np.testing.assert_array_equal(positions, np.arange(len(entries) - 66))  # disjoint
    assert len(splits["test"]) / len(splits["train"]) == pytest.approx(0.056, abs=0.01)


@needs_kjv
def test_vocabulary_from_the_training_split_only(splits):
    train, test = splits["train"], splits["test"]
    assert test.vocab is train.vocab and len(train.vocab) > 5000
    tokens = [t for text in train.texts for t in KJVBooks.tokenize(text)]
    assert train.vocab == WordVocab.build([tokens], min_freq=2)
    assert "lord" in train.vocab and "LORD" not in train.vocab and "¶" in train.vocab   # lower-cased words, marks
    unseen = {t for text in test.texts for t in KJVBooks.tokenize(text)} - set(tokens)
    assert unseen and not any(t in train.vocab for t in unseen)             # held-out words are <unk>
    word = sorted(unseen)[0]
    i = next(i for i, text in enumerate(test.texts) if word in KJVBooks.tokenize(text))
    assert train.vocab.unk_index in test.token_ids(i)
    small = KJVBooks(split="valid", min_freq=50)
    assert len(small.vocab) < len(train.vocab)


@needs_kjv
def test_padded_batches_and_the_registry(splits):
    train = splits["train"]
    tokens, lengths, labels = train.get_batch(np.array([0, 5, 2]))
    assert tokens.dtype == np.int64 and tokens.shape == (3, lengths.max())
    np.testing.assert_array_equal(lengths, train.lengths[[0, 5, 2]])
    assert (tokens[np.arange(tokens.shape[1])[None, :] >= lengths[:, None]] == 0).all()
    np.testing.assert_array_equal(tokens[0, :lengths[0]], train.vocab.encode(KJVBooks.tokenize(train.texts[0])))
    np.testing.assert_array_equal(labels, train.labels[[0, 5, 2]])
    loader = DataLoader(train, batch_sampler=BucketBatchSampler(train.lengths, 64, seed=0))
    x, n, y = next(iter(loader))
    assert x.shape[0] == 64 and x.shape[1] == int(n.data.max())
    assert get_dataset("kjv-books", split="test").labels.shape == (1564,)
    assert {"kjv-books", "kjv-testament"} <= set(datasets_for_task("text-classification"))
    row = next(r for r in list_datasets() if r["name"] == "kjv-books")
    assert row["num_classes"] == 66 and row["present"] and row["task"] == "text-classification"
