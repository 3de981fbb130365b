"""Word segmentation of King James text with the spaces removed: a per-character tagging task.

``KJVSegment`` (``kjv-segment``): each sample is one entry of the King James text (a verse, a book
title or a psalm heading; ``nabla.data.text.KJV``'s entries), its spaces removed.  Character ``t`` is
tagged

    y_t = 1  if it begins a word (the first character, or one that followed a space),  else 0

so the labels come from the text itself (the "B/I" scheme: 1 = B, begins; 0 = I, inside).  A *word* is
a run of characters between spaces, as the text writes it: punctuation stays with its word
(``earth.`` is one word), case is kept, and the paragraph mark ``¶`` is a word of its own.  Nothing is
dropped, so putting a space before every tagged character but the first gives the verse back
(``insert_spaces(chars, tags) == verse``).

**Splits** as the Bible corpora's (``split_entries``, ``split_by="chunk"``): blocks of 100 consecutive
entries, block ``k % 20 == 18`` valid and ``== 19`` test: held-out passages of ~100 verses spread over
the whole Bible (``split_by="book"``: whole held-out books).

**Batches** (``get_batch``, DataLoader's fast path): ``(tokens (B, T), lengths (B,), tags (B, T))``,
int64; ``tokens`` padded with ``<pad>`` (id 0), ``tags`` with ``IGNORE_INDEX = -100`` (PyTorch's
``CrossEntropyLoss`` default: padding contributes nothing to the loss).  The character vocabulary
(``CharVocab``: specials ``<pad> <bos> <eos> <unk>`` = 0-3, then the characters by descending count) is
built from the training split whatever split is asked for, so ids agree between splits; pass
``vocab=`` (e.g. a checkpoint's) to use a saved one.  A character the vocabulary lacks is ``<unk>``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...autograd.tensor import from_numpy
from ..dataset import Dataset, _index_array, _normalize_batch_indices, _require_int_index
from .corpus import KJV, split_entries
from .source import TextDataset
from .vocab import CharVocab, gather_padded

__all__ = ["KJVSegment", "remove_spaces", "insert_spaces", "IGNORE_INDEX", "TAGS"]

IGNORE_INDEX = -100         # the tag of a padding position (CrossEntropyLoss's default ignore_index)
TAGS = ("inside", "begin")  # tag 0: continues a word; tag 1: begins one


def remove_spaces(lines) -> tuple:
    """``(chars, tags, lengths)`` of texts whose words are separated by single spaces: ``chars`` the
    texts' characters without the spaces, concatenated (one string), ``tags`` (int64, one per character)
    1 where a character begins a word, ``lengths`` the characters per text.  One pass over the joined
    text's code points (no loop over characters)."""
    lines = list(lines)
    joined = " ".join(lines)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    space = cps == ord(" ")
    # a character begins a word when a space (or the start of the text: each text's start follows the
    # joining space) comes before it
    begins = np.concatenate([[True], space[:-1]]) if cps.size else np.zeros(0, bool)
    keep = ~space
    chars = cps[keep].tobytes().decode("utf-32-le")
    lengths = np.fromiter((len(s) - s.count(" ") for s in lines), np.int64, len(lines))
    return chars, begins[keep].astype(np.int64), lengths


def insert_spaces(chars: str, tags) -> str:
    """The text with a space before every character tagged 1 except the first: the inverse of
    ``remove_spaces`` for one text, and how a tagger's output reads."""
    tags = np.asarray(tags).reshape(-1)
    if len(tags) != len(chars):
        raise ValueError(f"insert_spaces: {len(chars)} characters but {len(tags)} tags; expected one tag a character")
    starts = np.nonzero(tags[1:] == 1)[0] + 1
    bounds = np.concatenate([[0], starts, [len(chars)]])
    return " ".join(chars[a:b] for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()))


class KJVSegment(TextDataset, Dataset):
    """King James entries without their spaces, each character tagged 1 where it begins a word.

    ``KJVSegment(root=None, train=True, download=False, split=None, split_by="chunk", vocab=None)``.
    ``.texts`` are the split's entries (with their spaces), ``.books`` their OSIS books, ``.positions``
    their places among all entries, ``.chars`` the
    space-free characters concatenated, ``.tags`` their tags, ``.lengths`` and ``.offsets`` where each
    sample lies in them; ``.ids`` the characters' vocabulary ids.  ``sizes`` count samples (entries).
    """

    name = "kjv-segment"
    task, tasks, normalize = "tagging", ("tagging",), None
    description = ("King James verses with the spaces removed, each character tagged 1 if it begins a word "
                   "(word segmentation); 'classes' = the tags inside / begin")
    parts = dict(KJV.parts)
    classes = list(TAGS)
    sizes = {"train": 28169, "valid": 1500, "test": 1500}
    _vocab_memo: dict = {}

    def __init__(self, root=None, train: bool = True, download: bool = False, split: str | None = None,
                 split_by: str = "chunk", vocab=None):
        self.root = Path(root).expanduser() if root is not None else None
        self.split = self._normalize_split(split, train)
        self.train, self.split_by = self.split == "train", split_by
        entries = [e for e in self._read_module(KJV.module.module, download) if e[1] and e[0]]  # as KJV's
        books = [b for b, _ in entries]
        keep = split_entries(books, self.split, split_by)
        self.positions = keep  # into the non-empty entries, in canonical order (the splits partition them)
        self.texts = [entries[i][1] for i in keep]
        self.books = [books[i] for i in keep]
        self.chars, self.tags, self.lengths = remove_spaces(self.texts)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        if vocab is None:
            vocab = self._training_vocab(entries, books, split_by)
        self.vocab = vocab
        self.ids = vocab.encode(self.chars)

    def _training_vocab(self, entries, books, split_by) -> CharVocab:
        """The characters of the training split (built once per process for each split rule)."""
        if split_by not in self._vocab_memo:
            if self.split == "train":
                text = self.chars
            else:
                text = "".join(entries[i][1] for i in split_entries(books, "train", split_by)).replace(" ", "")
            self._vocab_memo[split_by] = CharVocab.build([text])
        return self._vocab_memo[split_by]

    def __len__(self) -> int:
        return len(self.lengths)

    def get_batch(self, indices) -> tuple:
        """``(tokens (B, T), lengths (B,), tags (B, T))`` int64: tokens padded with ``<pad>``, tags with
        ``IGNORE_INDEX``; ``T`` is the longest sample of the batch."""
        idx = _normalize_batch_indices(_index_array(indices), len(self), type(self).__name__)
        offsets, lengths = self.offsets[idx], self.lengths[idx]
        tokens = gather_padded(self.ids, offsets, lengths, self.vocab.pad_index)
        tags = gather_padded(self.tags, offsets, lengths, IGNORE_INDEX)
        return tokens, lengths, tags   # lengths: already a copy (fancy indexing)

    def __getitem__(self, index):
        _require_int_index(index, type(self).__name__)
        tokens, lengths, tags = self.get_batch(np.array([index]))
        return from_numpy(tokens[0]), int(lengths[0]), from_numpy(tags[0])

    def sample_chars(self, i: int) -> str:
        """Sample ``i``'s characters (its entry without the spaces)."""
        a = int(self.offsets[i])
        return self.chars[a:a + int(self.lengths[i])]

    def sample_tags(self, i: int) -> np.ndarray:
        a = int(self.offsets[i])
        return self.tags[a:a + int(self.lengths[i])]

    def words(self) -> list:
        """The split's words (its entries split at the spaces), e.g. a segmenter's dictionary."""
        return [w for t in self.texts for w in t.split(" ")]

    def __repr__(self) -> str:
        return (f"KJVSegment(split={self.split!r}, split_by={self.split_by!r}, samples={len(self):,}, "
                f"characters={len(self.chars):,}, vocab={len(self.vocab)})")
