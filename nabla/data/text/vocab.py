"""Vocabularies: tokens <-> integer ids, with the special tokens ``<pad> <bos> <eos> <unk>`` first.

* ``CharVocab``: one token per character; ``encode`` of a long text is vectorised (the text's code
  points are looked up with one ``np.searchsorted``), so a 4-million-character corpus encodes in
  milliseconds.
* ``WordVocab``: tokens are words and punctuation (``tokenize`` splits ``\\w+`` runs and single
  punctuation marks), or any already-split token lists (phonemes, for instance).

Both number the specials 0-3 (``pad_index == 0``, so zero-filled batches are padding), then the
ordinary tokens in the order given (``build`` sorts by descending count, then alphabetically, so the
numbering is the same run after run).  ``save(path)`` / ``load(path)`` keep a vocabulary as JSON.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

from ...autograd.tensor import Tensor
from ..datasets.cache import atomic_write

__all__ = ["Vocab", "CharVocab", "WordVocab", "SPECIALS", "PAD", "BOS", "EOS", "UNK", "pad_sequences",
           "load_vocab"]

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
_WORD_RE = re.compile(r"\w+|[^\w\s]")


def _ids(x) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def pad_sequences(seqs, pad_value: int = 0, dtype=np.int64):
    """Stack integer sequences of different lengths into ``(padded (B, T), lengths (B,))``.

    One concatenation and one masked gather (no loop over positions); ``T`` is the longest length.
    """
    seqs = [np.asarray(s, dtype=dtype).reshape(-1) for s in seqs]
    lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    flat = np.concatenate(seqs) if seqs else np.zeros(0, dtype)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return gather_padded(flat, offsets, lengths, pad_value), lengths


def gather_padded(flat: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, pad_value: int = 0,
                  width: int | None = None) -> np.ndarray:
    """Rows ``flat[offsets[i] : offsets[i] + lengths[i]]`` padded with ``pad_value`` to ``width``
    (default: the longest row), as one (B, width) array."""
    width = int(lengths.max(initial=0)) if width is None else int(width)
    pos = np.arange(width, dtype=np.int64)
    mask = pos < lengths[:, None]
    if flat.size == 0:
        return np.full((len(lengths), width), pad_value, flat.dtype)
    take = np.minimum(offsets[:, None] + pos, flat.size - 1)  # clamp: masked cells read anything
    return np.where(mask, flat[take], np.asarray(pad_value, flat.dtype))


class Vocab:
    """Tokens <-> ids.  ``vocab[token]`` is its id (``unk_index`` when unknown), ``vocab.itos[i]`` its
    token, ``len(vocab)`` the number of ids (specials included).

    ``encode(text, add_bos=False, add_eos=False)`` gives an int64 array; ``decode(ids)`` gives the text
    back (stopping at the first ``<eos>`` and dropping ``<pad>``/``<bos>`` unless ``strip=False``).
    Subclasses say how a text becomes tokens (``tokenize``) and tokens a text (``join``).
    """

    kind = "tokens"

    def __init__(self, tokens=(), specials=SPECIALS):
        specials = tuple(specials)
        missing = [s for s in SPECIALS if s not in specials]
        if missing:
            raise ValueError(f"{type(self).__name__}: specials must include {list(SPECIALS)}, missing {missing}")
        itos = list(specials)
        seen = set(itos)
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"{type(self).__name__}: tokens must be strings, got {type(t).__name__} ({t!r})")
            if t not in seen:
                seen.add(t)
                itos.append(t)
        self.itos = itos
        self.stoi = {t: i for i, t in enumerate(itos)}
        self.specials = specials
        self.pad_index, self.bos_index = self.stoi[PAD], self.stoi[BOS]
        self.eos_index, self.unk_index = self.stoi[EOS], self.stoi[UNK]

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, texts, min_freq: int = 1, max_size: int | None = None, specials=SPECIALS):
        """A vocabulary of the tokens of ``texts`` seen at least ``min_freq`` times, the ``max_size`` most
        frequent (specials not counted), ordered by descending count then alphabetically."""
        counts = Counter()
        for t in texts:
            counts.update(cls.tokenize(t) if isinstance(t, str) else t)
        items = sorted((kv for kv in counts.items() if kv[1] >= min_freq and kv[0] not in specials),
                       key=lambda kv: (-kv[1], kv[0]))
        if max_size is not None:
            items = items[:max_size]
        return cls([t for t, _ in items], specials=specials)

    # ------------------------------------------------------------------ lookup
    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token) -> bool:
        return token in self.stoi

    def __getitem__(self, token) -> int:
        return self.stoi.get(token, self.unk_index)

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.itos == other.itos

    def __repr__(self) -> str:
        shown = ", ".join(repr(t) for t in self.itos[len(self.specials):len(self.specials) + 8])
        more = ", ..." if len(self) > len(self.specials) + 8 else ""
        return f"{type(self).__name__}(size={len(self)}, tokens=[{shown}{more}])"

    @property
    def tokens(self) -> list:
        """The ordinary tokens (specials left out), in id order."""
        return self.itos[len(self.specials):]

    @staticmethod
    def tokenize(text: str) -> list:
        return text.split()

    @staticmethod
    def join(tokens) -> str:
        return " ".join(tokens)

    # ------------------------------------------------------------------ encode / decode
    def encode(self, text, add_bos: bool = False, add_eos: bool = False) -> np.ndarray:
        """Ids (int64) of ``text`` (a string, tokenized by this vocabulary, or a list of tokens)."""
        toks = self.tokenize(text) if isinstance(text, str) else list(text)
        ids = np.fromiter((self.stoi.get(t, self.unk_index) for t in toks), np.int64, len(toks))
        return self._wrap(ids, add_bos, add_eos)

    def _wrap(self, ids, add_bos, add_eos):
        if add_bos or add_eos:
            ids = np.concatenate([[self.bos_index] if add_bos else [], ids,
                                  [self.eos_index] if add_eos else []]).astype(np.int64)
        return ids

    def encode_batch(self, texts, add_bos: bool = False, add_eos: bool = False):
        """``(ids (B, T) padded with pad_index, lengths (B,))`` for a list of texts."""
        return pad_sequences([self.encode(t, add_bos, add_eos) for t in texts], self.pad_index)

    def decode_tokens(self, ids, strip: bool = True) -> list:
        """Tokens of ``ids`` (1-d); with ``strip``, stop at the first ``<eos>`` and drop ``<pad>``/``<bos>``."""
        ids = _ids(ids).reshape(-1).astype(np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= len(self)):
            bad = ids[(ids < 0) | (ids >= len(self))][0]
            raise IndexError(f"{type(self).__name__}.decode: id {int(bad)} is out of range for a vocabulary of "
                             f"size {len(self)}")
        if strip:
            stop = np.nonzero(ids == self.eos_index)[0]
            if stop.size:
                ids = ids[:stop[0]]
            ids = ids[(ids != self.pad_index) & (ids != self.bos_index)]
        return [self.itos[i] for i in ids.tolist()]

    def decode(self, ids, strip: bool = True):
        """The text of ``ids``: a string for a 1-d sequence, a list of strings for a (B, T) batch."""
        arr = _ids(ids)
        if arr.ndim == 2:
            return [self.decode(row, strip) for row in arr]
        return self.join(self.decode_tokens(arr, strip))

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        return {"kind": self.kind, "specials": list(self.specials), "itos": self.itos}

    def save(self, path) -> Path:
        """Write the vocabulary as JSON (atomically: a temporary file, then a rename)."""
        return atomic_write(path, lambda f: json.dump(self.to_dict(), f, ensure_ascii=False), text=True)

    @classmethod
    def from_dict(cls, d: dict):
        kinds = {c.kind: c for c in (Vocab, CharVocab, WordVocab)}
        kind = d.get("kind", cls.kind)
        if kind not in kinds or "itos" not in d:
            raise ValueError(f"{cls.__name__}.load: not a nabla vocabulary (kind {kind!r}, keys {sorted(d)})")
        klass = kinds[kind] if cls is Vocab else cls
        specials = tuple(d.get("specials", SPECIALS))
        itos = list(d["itos"])
        if itos[:len(specials)] != list(specials):
            raise ValueError(f"{cls.__name__}.load: the first tokens {itos[:len(specials)]} are not the specials "
                             f"{list(specials)}")
        return klass(itos[len(specials):], specials=specials)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


class CharVocab(Vocab):
    """One token per character.  ``encode`` of a string is vectorised over its characters."""

    kind = "char"

    def __init__(self, tokens=(), specials=SPECIALS):
        tokens = list(tokens)
        for t in tokens:
            if isinstance(t, str) and len(t) != 1:
                raise ValueError(f"CharVocab: tokens must be single characters, got {t!r}")
        super().__init__(tokens, specials)
        # sorted code points of the ordinary characters and their ids, for searchsorted lookups
        first = len(self.specials)
        cps = np.array([ord(c) for c in self.itos[first:]], dtype=np.int64)
        order = np.argsort(cps, kind="stable")
        self._cps, self._cp_ids = cps[order], (order + first).astype(np.int64)

    @staticmethod
    def tokenize(text: str) -> list:
        return list(text)

    @staticmethod
    def join(tokens) -> str:
        return "".join(tokens)

    def encode(self, text, add_bos: bool = False, add_eos: bool = False) -> np.ndarray:
        if not isinstance(text, str):
            return super().encode(text, add_bos, add_eos)
        cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        if self._cps.size == 0:
            ids = np.full(cps.shape, self.unk_index, np.int64)
        else:
            pos = np.minimum(np.searchsorted(self._cps, cps), self._cps.size - 1)
            ids = np.where(self._cps[pos] == cps, self._cp_ids[pos], self.unk_index)
        return self._wrap(ids, add_bos, add_eos)


class WordVocab(Vocab):
    """Tokens are words and punctuation marks: ``tokenize("Let there be light:")`` is
    ``['Let', 'there', 'be', 'light', ':']``; ``join`` puts single spaces between tokens."""

    kind = "word"

    @staticmethod
    def tokenize(text: str) -> list:
        return _WORD_RE.findall(text)


def load_vocab(path) -> Vocab:
    """A vocabulary saved by ``Vocab.save`` (its class is read from the file)."""
    return Vocab.load(path)
