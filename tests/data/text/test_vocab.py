"""Vocabularies: specials, encode/decode round trips, vectorised char encoding, JSON save/load."""
import numpy as np
import pytest

from nabla.data.text import CharVocab, Vocab, WordVocab, load_vocab, pad_sequences
from nabla.data.text.vocab import gather_padded


def test_specials_come_first():
    v = CharVocab("abc")
    assert v.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert (v.pad_index, v.bos_index, v.eos_index, v.unk_index) == (0, 1, 2, 3)
    assert len(v) == 7 and v["a"] == 4 and v["z"] == v.unk_index and "b" in v and v.tokens == list("abc")


def test_char_encode_decode_round_trip_and_unknowns():
    v = CharVocab("\n abcé’")
    text = "abc é’\ncab"
    ids = v.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert v.decode(ids) == text
    assert v.encode("axb").tolist() == [v["a"], v.unk_index, v["b"]]
    assert v.decode(v.encode("abc", add_bos=True, add_eos=True)) == "abc"
    assert v.encode("ab", add_bos=True, add_eos=True).tolist() == [1, v["a"], v["b"], 2]
    # decode stops at <eos>, drops <pad>/<bos>; strip=False keeps them
    assert v.decode([1, v["a"], 2, v["b"], 0]) == "a"
    assert v.decode([1, v["a"], 2], strip=False) == "<bos>a<eos>"
    assert v.encode("") .shape == (0,)


def test_char_encode_matches_dictionary_lookup():
    rng = np.random.default_rng(0)
    alphabet = "".join(sorted(set("the quick brown fox jumps over the lazy dog ¶’—")))
    v = CharVocab(alphabet)
    text = "".join(rng.choice(list(alphabet + "XYZ"), 500))
    ref = [v.stoi.get(c, v.unk_index) for c in text]
    assert v.encode(text).tolist() == ref


def test_word_vocab_build_is_deterministic():
    texts = ["Let there be light: and there was light.", "And God saw the light"]
    v = WordVocab.build(texts)
    assert WordVocab.tokenize(texts[0]) == ["Let", "there", "be", "light", ":", "and", "there", "was", "light", "."]
    # by descending count, then alphabetically
    assert v.tokens[:3] == ["light", "there", "."]
    assert WordVocab.build(texts) == v
    assert v.decode(v.encode("there was light")) == "there was light"
    small = WordVocab.build(texts, min_freq=2)
    assert small.tokens == ["light", "there"]
    assert len(WordVocab.build(texts, max_size=2)) == 6
    # token lists (e.g. phonemes) encode as they are
    ph = WordVocab(["AA", "B"])
    assert ph.encode(["B", "AA", "ZZ"]).tolist() == [5, 4, 3]


def test_batch_decode_and_encode_batch():
    v = CharVocab("abc")
    ids, lengths = v.encode_batch(["ab", "c", ""], add_eos=True)
    assert ids.shape == (3, 3) and lengths.tolist() == [3, 2, 1]
    assert ids[1].tolist() == [v["c"], 2, 0]
    assert v.decode(ids) == ["ab", "c", ""]


def test_save_load(tmp_path):
    for v in (CharVocab("ab\n"), WordVocab(["hello", "world"]), Vocab(["x"])):
        p = v.save(tmp_path / f"{v.kind}.json")
        w = load_vocab(p)
        assert type(w) is type(v) and w == v and w.itos == v.itos
    with open(tmp_path / "bad.json", "w") as f:
        f.write('{"kind": "nope", "itos": []}')
    with pytest.raises(ValueError, match="not a nabla vocabulary"):
        load_vocab(tmp_path / "bad.json")


def test_errors():
    with pytest.raises(ValueError, match="single characters"):
        CharVocab(["ab"])
    with pytest.raises(IndexError, match="id 9 is out of range for a vocabulary of size 6"):
        CharVocab("ab").decode([9])
    with pytest.raises(ValueError, match="specials must include"):
        Vocab(["a"], specials=("<pad>",))


def test_pad_sequences_and_gather():
    padded, lengths = pad_sequences([[1, 2, 3], [4], []], pad_value=0)
    assert padded.tolist() == [[1, 2, 3], [4, 0, 0], [0, 0, 0]] and lengths.tolist() == [3, 1, 0]
    flat = np.arange(10)
    out = gather_padded(flat, np.array([2, 7]), np.array([3, 2]), pad_value=-1, width=4)
    assert out.tolist() == [[2, 3, 4, -1], [7, 8, -1, -1]]
