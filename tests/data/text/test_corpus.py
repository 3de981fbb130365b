"""Bible corpora (real data when the Debian packages are installed), the zText reader on a
synthetic module, LM windows and truncated-BPTT stream batches."""
import numpy as np
import pytest

from nabla.data import DataLoader
from nabla.data.datasets import cache
from nabla.data.text import KJV, WEB, CharLMDataset, CharVocab, LMStreamLoader, batchify, read_ztext, split_entries
from nabla.data.text.corpus import CHUNK

from ._sword import write_ztext


def _need(cls):
    if not cls.is_present():
        pytest.skip(f"{cls.__name__} is not installed here; install it with: {cls.install_hint()}")



# ---------------------------------------------------------------------------------------------- zText reader
def test_read_ztext_synthetic(tmp_path):
    ot = [
        "", '<milestone type="x-importer"/>',
        'Preface words <div canonical="true" osisID="Gen" sID="g1" type="book"/><title>The First Book</title>',
        '<chapter n="1" osisID="Gen.1" sID="Gen.1"/> ',
        'In the <w lemma="strong:H7225">beginning</w> God<note type="x-footnote">a note</note>.',
        'And the \\nd LORD\\+nd* said &amp; saw ¶ it.',
        'Last verse. <chapter eID="Gen.1"/> <div eID="g1" osisID="Gen" type="book"/> <div type="glossary"/>Glossary',
        '<div osisID="Exod" sID="g2" type="book"/>Exodus',
        '<chapter n="1" osisID="Exod.1" sID="Exod.1"/>',
        'Now these <d',  # markup cut short: left out
        'are the names.',
    ]
    nt = ["", "", '<chapter n="1" osisID="Matt.1" sID="Matt.1"/>', "The book of the generation."]
    write_ztext(tmp_path / "mod", ot, nt)
    e = read_ztext(tmp_path / "mod")
    assert len(e) == len(ot) + len(nt)
    assert e[2] == ("Gen", "The First Book")                   # preface before the book cut off
    assert e[4] == ("Gen", "In the beginning God.")           # tags dropped; the footnote too (no space before ".")
    assert e[5] == ("Gen", "And the LORD said & saw ¶ it.")   # USFM markers and entities
    assert e[6] == ("Gen", "Last verse.")                     # glossary after the book's end cut off
    assert e[7] == ("Exod", "Exodus") and e[9] == ("Exod", "") and e[10] == ("Exod", "are the names.")
    assert e[-1] == ("Matt", "The book of the generation.") and e[0] == ("", "")


def test_read_ztext_missing(tmp_path):
    with pytest.raises(cache.DatasetNotFoundError, match="cannot read the SWORD module"):
        read_ztext(tmp_path)


# ---------------------------------------------------------------------------------------------- splits
def test_chunk_split_is_a_partition_of_blocks():
    books = ["A"] * 5000
    parts = [split_entries(books, s, "chunk") for s in ("train", "valid", "test")]
    allp = np.sort(np.concatenate(parts))
    assert np.array_equal(allp, np.arange(5000))
    assert len(parts[1]) == len(parts[2]) == 2 * CHUNK  # blocks 18, 38 and 19, 39 of 50
    assert parts[1][0] == 18 * CHUNK and parts[1][CHUNK - 1] == 19 * CHUNK - 1 and parts[2][0] == 19 * CHUNK
    assert len(parts[0]) == 5000 - len(parts[1]) - len(parts[2])


def test_book_split():
    books = [f"B{i}" for i in range(12) for _ in range(3)]
    valid = split_entries(books, "valid", "book")
    test = split_entries(books, "test", "book")
    assert {books[i] for i in valid} == {"B8"} and {books[i] for i in test} == {"B9"}
    with pytest.raises(ValueError, match="split_by must be 'chunk' or 'book'"):
        split_entries(books, "train", "verse")


# ---------------------------------------------------------------------------------------------- LM windows
def test_char_lm_windows_and_batches():
    ids = np.arange(50)
    ds = CharLMDataset(ids, seq_len=8)
    assert len(ds) == (50 - 1 - 8) // 8 + 1 == 6
    x, y = ds.get_batch(np.array([0, 5, -1]))
    assert x.shape == (3, 8) and x.dtype == np.int64
    np.testing.assert_array_equal(x[0], np.arange(8))
    np.testing.assert_array_equal(y[1], np.arange(41, 49))
    np.testing.assert_array_equal(x[2], x[1])
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi.numpy(), np.arange(16, 24))
    np.testing.assert_array_equal(yi.numpy(), np.arange(17, 25))
    # stride 1: every window; the last one ends at the last token
    d1 = CharLMDataset(ids, seq_len=8, stride=1)
    assert len(d1) == 42 and d1.get_batch([41])[1][0, -1] == 49
    batches = list(DataLoader(d1, batch_size=16, shuffle=True, seed=0))
    assert [b[0].shape[0] for b in batches] == [16, 16, 10]
    got = np.concatenate([b[0].numpy()[:, 0] for b in batches])
    assert sorted(got.tolist()) == list(range(42))
    with pytest.raises(IndexError, match="index 6 is out of range for a dataset of size 6"):
        ds.get_batch([6])
    with pytest.raises(ValueError, match="1-d integer array"):
        CharLMDataset(np.zeros((2, 3), np.int64), 2)
    v = CharVocab("ab")
    assert CharLMDataset("abab", 2, vocab=v).get_batch([0])[1].tolist() == [[v["b"], v["a"]]]


def test_stream_loader_is_contiguous():
    ids = np.arange(103)
    rows = batchify(ids, 4)
    assert rows.shape == (4, 25) and rows[1, 0] == 25
    dl = LMStreamLoader(ids, batch_size=4, seq_len=10)
    batches = list(dl)
    assert len(dl) == len(batches) == 3  # 24 input columns: 10 + 10 + 4
    assert [b[0].shape for b in batches] == [(4, 10), (4, 10), (4, 4)]
    x = np.concatenate([b[0].numpy() for b in batches], axis=1)
    y = np.concatenate([b[1].numpy() for b in batches], axis=1)
    np.testing.assert_array_equal(x, rows[:, :-1])
    np.testing.assert_array_equal(y, rows[:, 1:])
    assert len(LMStreamLoader(ids, 4, 10, drop_last=True)) == 2
    r = LMStreamLoader(ids, 4, 10, random_offset=True, seed=0)
    firsts = {int(next(iter(r))[0].numpy()[0, 0]) for _ in range(20)}
    assert len(firsts) > 1 and all(0 <= f < 10 for f in firsts)
    assert all(b[0].shape[1] == 10 for b in LMStreamLoader(ids, 4, 10, drop_last=True, random_offset=True, seed=1))
    with pytest.raises(ValueError, match="cannot cut 3 tokens into 4 rows"):
        batchify(np.arange(3), 4)


# ---------------------------------------------------------------------------------------------- real texts
def test_kjv_splits_sizes_and_alphabet():
    _need(KJV)
    parts = {s: KJV(split=s) for s in ("train", "valid", "test")}
    assert {s: len(d.ids) for s, d in parts.items()} == KJV.sizes
    train = parts["train"]
    assert train.text.startswith("The First Book of Moses, called Genesis\nIn the beginning God created the heaven "
                                 "and the earth.\n")
    assert train.books[0] == "Gen" and train.lines[-1].endswith("Amen.")
    assert set(train.text) | set(parts["valid"].text) | set(parts["test"].text) == set(KJV.alphabet)
    assert not np.any(train.ids == train.vocab.unk_index)
    assert len(KJV.classes) == len(train.vocab) == 95 and train.vocab.decode(train.ids[:11]) == "The First B"
    assert sum(len(d.lines) for d in parts.values()) == 31169
    assert len(train) == (len(train.ids) - 129) // 128 + 1
    x, y = train.get_batch(np.array([0, 1]))
    assert x.shape == (2, 128) and np.array_equal(x[0, 1:], y[0, :-1])
    assert KJV(train=False).split == "test" and KJV(split="val").split == "valid"
    with pytest.raises(ValueError, match="unknown split 'dev2'"):
        KJV(split="dev2")


def test_kjv_book_split():
    _need(KJV)
    valid = KJV(split="valid", split_by="book")
    test = KJV(split="test", split_by="book", seq_len=64, stride=32)
    assert list(dict.fromkeys(valid.books)) == ["1Sam", "Ps", "Joel", "Mal", "Eph", "Jas"]
    assert list(dict.fromkeys(test.books)) == ["2Sam", "Prov", "Amos", "Matt", "Phil", "1Pet"]
    assert test.seq_len == 64 and len(test) == (len(test.ids) - 65) // 32 + 1


def test_web():
    _need(WEB)
    valid = WEB(split="valid")
    assert len(valid.ids) == WEB.sizes["valid"] and set(valid.text) <= set(WEB.alphabet)
    assert "Preface" not in valid.text and not np.any(valid.ids == valid.vocab.unk_index)


def test_missing_package_names_the_install_line(tmp_path, monkeypatch):
    monkeypatch.setenv("NABLA_DATA", str(tmp_path))
    monkeypatch.setattr(cache.DebianSource, "locate", lambda self, f: None)
    assert not KJV.is_present()
    assert KJV.install_hint() == "apt-get install sword-text-kjv"
    with pytest.raises(cache.DatasetNotFoundError, match="Install it with: apt-get install sword-text-kjv"):
        KJV()


def test_files_in_cache_are_checksummed(tmp_path, monkeypatch):
    _need(KJV)
    import shutil
    monkeypatch.setenv("NABLA_DATA", str(tmp_path))
    src = KJV.module.source.path
    dest = tmp_path / "kjv" / "engKJV2006eb"
    dest.mkdir(parents=True)
    for f in KJV.module.files:
        shutil.copy(f"{src}/{f}", dest / f)
    with open(dest / "nt.bzv", "r+b") as f:
        f.write(b"\xff\xff\xff\xff")
    with pytest.raises(cache.ChecksumError, match="nt.bzv"):
        KJV(split="valid")
