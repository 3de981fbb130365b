"""King James verses labelled by where they come from, for sequence classification.

* ``KJVBooks`` (``kjv-books``): each verse of the King James Bible (Debian ``sword-text-kjv``) is a
  sample; its label is its book, one of the 66 in canonical order (``classes``: the OSIS ids ``Gen``,
  ``Exod``, ... ``Rev``).  The book titles ("The First Book of Moses, called Genesis", each book's
  first entry) are left out: they name their book.
* ``KJVTestament`` (``kjv-testament``): the same verses and splits, labelled Old (books 1-39) or New
  Testament (books 40-66).

**Tokens**: the verse lower-cased and cut into words and punctuation marks (``WordVocab.tokenize``:
``\\w+`` runs and single marks, the paragraph sign ``¶`` included); the vocabulary holds the training
split's tokens seen at least ``min_freq`` times (``<pad>`` = 0 and ``<unk>`` among the specials), so a
word met only in a held-out passage is ``<unk>``.

**Splits** (deterministic, every book in every split): each book's verses, in order, are cut into
``m = max(1, round(n / SEGMENT))`` segments of nearly equal length (``SEGMENT = 200`` verses); in a
segment of ``L`` verses the last ``k = max(1, round(HELD * L))`` verses (``HELD = 0.05``) go to
``test``, the ``k`` before them to ``valid``, the rest to ``train``: about 90 / 5 / 5 %, each held-out
passage ~10 consecutive verses, one pair of passages every ~200 verses of every book (even 2 John's 13
verses give one valid and one test verse).  The Bible corpora's ``chunk`` split (``split_entries``:
blocks of 100 verses, two of every 20 held out) is not used here: its 15 test blocks cover only 18 of
the 66 books, and two books would be missing from training.

A batch (``get_batch``, DataLoader's fast path) is ``(tokens (B, T) int64 padded with 0, lengths (B,),
labels (B,))``, padded to the batch's longest verse (one masked gather, ``nabla.data.text.pairs``);
``BucketBatchSampler(ds.lengths, ...)`` makes batches of similar lengths.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...autograd.tensor import from_numpy
from ..dataset import _index_array, _normalize_batch_indices, _require_int_index
from .corpus import KJV
from .pairs import _Ragged
from .source import TextDataset
from .vocab import WordVocab

__all__ = ["KJVVerses", "KJVBooks", "KJVTestament", "BOOKS", "OLD_TESTAMENT", "passage_split", "SEGMENT", "HELD"]

# the 66 books (OSIS ids) in canonical order; the first 39 are the Old Testament
BOOKS = tuple("Gen Exod Lev Num Deut Josh Judg Ruth 1Sam 2Sam 1Kgs 2Kgs 1Chr 2Chr Ezra Neh Esth Job Ps Prov Eccl "
              "Song Isa Jer Lam Ezek Dan Hos Joel Amos Obad Jonah Mic Nah Hab Zeph Hag Zech Mal "
              "Matt Mark Luke John Acts Rom 1Cor 2Cor Gal Eph Phil Col 1Thess 2Thess 1Tim 2Tim Titus Phlm Heb Jas "
              "1Pet 2Pet 1John 2John 3John Jude Rev".split())
OLD_TESTAMENT = 39
SEGMENT = 200  # verses per segment of a book: one valid and one test passage each
HELD = 0.05    # share of a segment held out for valid, and again for test


def passage_split(books, split: str) -> np.ndarray:
    """Positions (into ``books``, the book of each verse, each book's verses consecutive) that form
    ``split``: the last ``k`` verses of every segment of every book are test, the ``k`` before valid
    (see the module docstring)."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"passage_split: split must be 'train', 'valid' or 'test', got {split!r}")
    books = np.asarray(books)
    N = len(books)
    starts = np.flatnonzero(np.r_[True, books[1:] != books[:-1]])   # each book's first verse
    sizes = np.diff(np.r_[starts, N])
    run = np.repeat(np.arange(len(starts)), sizes)        # which book run each verse is in
    j, n = np.arange(N) - starts[run], sizes[run]           # position in its book, the book's length
    m = np.maximum(1, np.round(n / SEGMENT)).astype(np.int64)
    seg = j * m // n                                        # segment s holds s*n/m <= j < (s+1)*n/m
    end = ((seg + 1) * n + m - 1) // m
    length = end - (seg * n + m - 1) // m
    k = np.minimum(np.maximum(1, np.round(HELD * length)), length // 3).astype(np.int64)
    from_end = end - 1 - j
    part = np.where(from_end < k, 2, np.where(from_end < 2 * k, 1, 0))
    return np.flatnonzero(part == {"train": 0, "valid": 1, "test": 2}[split])


def tokenize(text: str) -> list:
    """A verse's tokens: lower-cased words and punctuation marks."""
    return WordVocab.tokenize(text.lower())


class KJVVerses(TextDataset):
    """Verses of the KJV and a label per verse (the subclass says which: ``label_of``).

    ``KJVBooks(root=None, train=True, download=False, split=None, min_freq=2, max_vocab=None, vocab=None)``:
    ``split`` is "train", "valid" or "test" (``train`` picks train/test when ``split`` is None);
    ``vocab`` (a WordVocab) encodes the verses, by default the one built from the training split with
    ``min_freq`` / ``max_vocab``.  Attributes: ``texts``, ``books`` (OSIS id per verse), ``labels``
    (int64), ``lengths`` (tokens per verse), ``indices`` (each verse's position among all the verses),
    ``vocab``, ``classes``.
    """

    module = KJV.module
    parts = {KJV.module.module: (KJV.module.source, KJV.module.files, KJV.module.checksums)}
    task, tasks, normalize = "text-classification", ("text-classification",), None
    image_shape = ()       # variable-length token sequences
    label_of = "book"
    tokenize = staticmethod(tokenize)  # how a text becomes the tokens the vocabulary holds
    _vocab_memo: dict = {}

    @classmethod
    def folder(cls, root=None) -> Path:
        """The kjv corpus's folder: the same module files and decoded text, kept once."""
        return KJV.folder(root)

    def __init__(self, root=None, train: bool = True, download: bool = False, split: str | None = None,
                 min_freq: int = 2, max_vocab: int | None = None, vocab=None):
        self.root = Path(root).expanduser() if root is not None else None
        self.split = self._normalize_split(split, train)
        self.train = self.split == "train"
        verses = self._verses(download)
        books = [b for b, _ in verses]
        self.indices = keep = passage_split(books, self.split)
        self.texts = [verses[i][1] for i in keep]
        self.books = [books[i] for i in keep]
        index = {b: i for i, b in enumerate(BOOKS)}
        self.book_labels = np.array([index[b] for b in self.books], np.int64)
        self.labels = self.book_labels if self.label_of == "book" else \
            (self.book_labels >= OLD_TESTAMENT).astype(np.int64)
        tokens = [tokenize(t) for t in self.texts]
        if vocab is None:
            key = (int(min_freq), max_vocab)
            if key not in self._vocab_memo:  # built once per process: the training split is the same every time
                train_tokens = tokens if self.train else \
                    (tokenize(verses[i][1]) for i in passage_split(books, "train"))
                self._vocab_memo[key] = WordVocab.build(train_tokens, min_freq=min_freq, max_size=max_vocab)
            vocab = self._vocab_memo[key]
        self.vocab = vocab
        self._seqs = _Ragged([vocab.encode(t) for t in tokens])

    def _verses(self, download: bool) -> list:
        """``[(book, text)]`` of every verse in canonical order: the module's non-empty entries without the
        book titles (each book's first entry); a module whose books differ from BOOKS is refused."""
        entries = [(b, t) for b, t in self._read_module(self.module.module, download) if b and t]
        books = np.array([b for b, _ in entries])
        first = np.flatnonzero(np.r_[True, books[1:] != books[:-1]])
        found = books[first].tolist()
        if tuple(found) != BOOKS:
            raise RuntimeError(f"{type(self).__name__}: expected the 66 books of the KJV in canonical order, found "
                               f"{len(found)} ({', '.join(found[:5])}, ...): not the engKJV2006eb module?")
        titles = set(first.tolist())
        return [e for i, e in enumerate(entries) if i not in titles]

    def __len__(self) -> int:
        return len(self._seqs)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per verse (for ``BucketBatchSampler``)."""
        return self._seqs.lengths

    def token_ids(self, i) -> np.ndarray:
        return self._seqs[i]

    def get_batch(self, indices) -> tuple:
        """``(tokens (B, T), lengths (B,), labels (B,))``, int64, padded with ``<pad>`` (0)."""
        idx = _normalize_batch_indices(_index_array(indices), len(self), type(self).__name__)
        tokens, lengths = self._seqs.padded(idx, self.vocab.pad_index)
        return tokens, lengths, self.labels[idx]

    def __getitem__(self, index):
        _require_int_index(index, type(self).__name__)
        tokens, n, y = self.get_batch(np.array([index]))
        return from_numpy(tokens[0]), int(n[0]), int(y[0])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, verses={len(self):,}, classes={len(self.classes)}, "
                f"vocab={len(self.vocab):,})")


class KJVBooks(KJVVerses):
    """Which of the 66 books a King James verse comes from (see the module docstring)."""

    name = "kjv-books"
    description = ("King James verses labelled by book (66 classes, OSIS ids in canonical order), word tokens; "
                   "valid/test: ~10-verse passages held out of every book")
    classes = list(BOOKS)
    # the testament of each book: the report also scores the book predictions by testament
    label_groups = {"testament": (["OT", "NT"], [0] * OLD_TESTAMENT + [1] * (len(BOOKS) - OLD_TESTAMENT))}
    sizes = {"train": 27975, "valid": 1564, "test": 1564}


class KJVTestament(KJVVerses):
    """Old or New Testament: the verses and splits of ``kjv-books``, two classes."""

    name = "kjv-testament"
    description = ("King James verses labelled Old or New Testament (2 classes), word tokens; the verses and "
                   "splits of kjv-books")
    classes = ["OT", "NT"]
    label_of = "testament"
    sizes = {"train": 27975, "valid": 1564, "test": 1564}
