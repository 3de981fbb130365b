"""Sequence pairs: padded seq2seq batches, bucketing, CMUdict (G2P) and English-Spanish verse pairs."""
import zlib

import numpy as np
import pytest

from nabla.data import DataLoader
from nabla.data.text import (BucketBatchSampler, CharVocab, CMUDict, EnglishSpanish, PairDataset, WordVocab,
                             pad_collate, read_cmudict, split_by_word, PHONEMES, PHONEMES_STRESS)


def _need(cls):
    if not cls.is_present():
        pytest.skip(f"{cls.__name__} is not installed here; install it with: {cls.install_hint()}")



def _toy():
    sv, tv = CharVocab("abc"), WordVocab(["X", "Y"])
    return PairDataset(["ab", "c", "abca"], [["X"], ["Y", "X", "Y"], []], sv, tv), sv, tv


def test_pair_batch_padding_and_teacher_forcing():
    ds, sv, tv = _toy()
    src, n, tin, tout = ds.get_batch(np.array([0, 1, 2]))
    a, b, c = sv["a"], sv["b"], sv["c"]
    X, Y = tv["X"], tv["Y"]
    assert src.tolist() == [[a, b, 0, 0], [c, 0, 0, 0], [a, b, c, a]] and n.tolist() == [2, 1, 4]
    assert tin.tolist() == [[1, X, 0, 0], [1, Y, X, Y], [1, 0, 0, 0]]
    assert tout.tolist() == [[X, 2, 0, 0], [Y, X, Y, 2], [2, 0, 0, 0]]
    assert all(t.dtype == np.int64 for t in (src, n, tin, tout))
    s1, n1, ti1, to1 = ds[1]
    assert s1.numpy().tolist() == [c] and n1 == 1 and ti1.numpy().tolist() == [1, Y, X, Y]
    # source with <eos>
    ds2 = PairDataset(["ab", "c"], [["X"], ["Y"]], sv, tv, src_eos=True)
    s, n, _, _ = ds2.get_batch([0, 1])
    assert s.tolist() == [[a, b, 2], [c, 2, 0]] and n.tolist() == [3, 2] and ds2.src_lengths.tolist() == [3, 2]


def test_pair_loader_fast_path_and_collate():
    ds, sv, tv = _toy()
    batches = list(DataLoader(ds, batch_size=2))
    assert len(batches) == 2 and len(batches[0]) == 4 and batches[0][0].shape == (2, 2)
    ref = ds.get_batch([0, 1])
    got = pad_collate([(ds.src_ids(0), ds.tgt_ids(0)), (ds.src_ids(1), ds.tgt_ids(1))])
    for r, g in zip(ref, got):
        np.testing.assert_array_equal(r, g.numpy())


def test_pair_errors():
    sv, tv = CharVocab("ab"), WordVocab(["X"])
    with pytest.raises(ValueError, match="2 source sequences but 1 target"):
        PairDataset(["a", "b"], [["X"]], sv, tv)
    with pytest.raises(ValueError, match=r"target ids must lie in \[0, 5\)"):
        PairDataset([np.array([4])], [np.array([7])], sv, tv)
    ds = PairDataset(["a"], [["X"]], sv, tv)
    with pytest.raises(IndexError, match="index 1 is out of range for a dataset of size 1"):
        ds.get_batch([1])


def test_bucket_batch_sampler():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 100, 1000)
    bs = BucketBatchSampler(lengths, batch_size=32, seed=0)
    batches = list(bs.index_batches())
    assert len(batches) == len(bs)
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 10  # random batches of 32 would span ~90
    assert [b.tolist() for b in bs.index_batches()] != [b.tolist() for b in batches]  # a new order each epoch
    ordered = list(BucketBatchSampler(lengths, 100, shuffle=False))
    flat = np.concatenate(ordered)
    assert np.all(np.diff(lengths[flat]) >= 0) and len(ordered) == 10
    dropped = BucketBatchSampler(lengths, 32, drop_last=True, seed=1, bucket_factor=4)
    assert all(len(b) == 32 for b in dropped) and len(list(dropped)) == len(dropped)
    small = BucketBatchSampler(lengths, 32, bucket_factor=4, seed=0)
    assert len(small) == len(list(small))
    ds, _, _ = _toy()
    dl = DataLoader(ds, batch_sampler=BucketBatchSampler(ds.src_lengths, 2, seed=0))
    assert sum(b[0].shape[0] for b in dl) == 3


def test_read_cmudict_and_word_split(tmp_path):
    p = tmp_path / "cmudict.dict"
    p.write_text("'bout B AW1 T\nread R IY1 D\nread(2) R EH1 D\naalborg AO1 L B AO0 R G # place, danish\n",
                 encoding="utf-8")
    assert read_cmudict(p) == [("'bout", ["B", "AW1", "T"]), ("read", ["R", "IY1", "D"]), ("read", ["R", "EH1", "D"]),
                               ("aalborg", ["AO1", "L", "B", "AO0", "R", "G"])]
    words = [f"w{i}" for i in range(2000)]
    parts = [split_by_word(words, s) for s in ("train", "valid", "test")]
    assert np.array_equal(np.sort(np.concatenate(parts)), np.arange(2000))
    assert all(zlib.crc32(words[i].encode()) % 20 == 19 for i in parts[2])
    assert 0.03 < len(parts[1]) / 2000 < 0.07
    assert len(PHONEMES) == 39 and len(PHONEMES_STRESS) == 69


def test_cmudict_real():
    _need(CMUDict)
    parts = {s: CMUDict(split=s) for s in ("train", "valid", "test")}
    assert {s: len(d) for s, d in parts.items()} == CMUDict.sizes
    words = [set(d.words) for d in parts.values()]
    assert not (words[0] & words[1]) and not (words[0] & words[2]) and not (words[1] & words[2])
    v = parts["valid"]
    assert v.words[0] == "aalborg" and v.phonemes[0] == ["AO", "L", "B", "AO", "R", "G"]
    assert len(v.src_vocab) == 33 and len(v.tgt_vocab) == 43 and len(CMUDict.classes) == 43
    src, n, tin, tout = v.get_batch(np.arange(len(v)))
    assert not np.any(src == v.src_vocab.unk_index) and not np.any(tout == v.tgt_vocab.unk_index)
    assert v.decode_src(src[0]) == "aalborg" and v.decode_tgt(tout[0]) == "AO L B AO R G"
    assert n.min() >= 1 and src.shape[1] == n.max()
    tr = parts["train"]
    i = tr.words.index("granting")
    assert tr.phonemes[i] == ["G", "R", "AE", "N", "T", "IH", "NG"]
    assert tr.pronunciations["read"] == [["R", "EH", "D"], ["R", "IY", "D"]]
    alt = CMUDict(split="test", stress=True, alternates=True)
    assert len(alt) > len(parts["test"]) and len(alt.tgt_vocab) == 73
    assert not np.any(alt.get_batch(np.arange(len(alt)))[3] == alt.tgt_vocab.unk_index)
    assert any(p[-1][-1].isdigit() or p[0][-1].isdigit() for p in alt.phonemes[:10])


def test_english_spanish_real():
    _need(EnglishSpanish)
    valid = EnglishSpanish(split="valid")
    test = EnglishSpanish(split="test")
    assert (len(valid), len(test)) == (EnglishSpanish.sizes["valid"], EnglishSpanish.sizes["test"])
    assert test.books[0] == "Exod" and test.pairs[0][0].startswith("but the egyptians pursued after them, all the")
    assert test.pairs[0][1].startswith("siguiéndolos, pues, los egipcios, con toda la caballería")
    assert valid.src_vocab == test.src_vocab and valid.tgt_vocab == test.tgt_vocab  # both from the training split
    assert valid.references[0] == WordVocab.tokenize(valid.pairs[0][1])
    src, n, tin, tout = test.get_batch([0])
    assert test.decode_src(src[0]).startswith("but the egyptians pursued after them , all the")
    assert test.decode_tgt(tout[0]).startswith("<unk> , pues , los egipcios")  # a rare word
    assert tin[0, 0] == test.tgt_vocab.bos_index and tout[0, n[0] - 1] != 0
    short = EnglishSpanish(split="valid", max_len=12, src_vocab=valid.src_vocab, tgt_vocab=valid.tgt_vocab)
    assert 0 < len(short) < len(valid) and short.tgt_lengths.max() <= 12 and short.src_vocab == valid.src_vocab
    chars = EnglishSpanish(split="test", level="char", split_by="book")
    assert isinstance(chars.tgt_vocab, CharVocab)
    assert set(chars.books) == {"2Sam", "Prov", "Amos", "Matt", "Phil", "1Pet"}
    assert "ñ" in chars.tgt_vocab and chars.decode_tgt(chars.get_batch([0])[3][0]) == chars.pairs[0][1]
