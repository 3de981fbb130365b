"""The Bible corpora for language modelling, and batching of a token stream.

* ``KJV`` (King James Version, 1769 text; Debian ``sword-text-kjv``) and ``WEB`` (World English
  Bible, modern English, with the deuterocanon; Debian ``sword-text-web``): plain text, one verse (or
  book title / psalm heading) a line, ``\\n`` between lines.  Both are public domain.
* ``CharLMDataset``: windows of a token stream for next-token prediction; sample ``i`` is
  ``(ids[s:s+T], ids[s+1:s+T+1])`` with ``s = i * stride``; ``get_batch`` builds a batch with one
  fancy-index (DataLoader's fast path).
* ``LMStreamLoader``: the stream cut into ``batch_size`` parallel rows and walked ``seq_len`` tokens
  at a time, so that batch ``k + 1`` continues batch ``k`` row by row (truncated backpropagation
  through time: carry the recurrent state across batches, detached).

**Splits** (deterministic, documented, the same on every machine):

* ``split_by="chunk"`` (default): the non-empty entries in canonical order are cut into blocks of
  ``CHUNK = 100`` consecutive entries; block ``k`` goes to ``valid`` when ``k % 20 == 18``, to ``test``
  when ``k % 20 == 19``, else to ``train``: about 90 / 5 / 5 %, each held-out block a contiguous
  passage of ~100 verses, spread evenly over the whole Bible (so every genre is in every split).
* ``split_by="book"``: whole books, by position ``i`` in the module's order: ``i % 10 == 8`` is
  ``valid``, ``i % 10 == 9`` is ``test``, the rest ``train`` (KJV: valid 1 Samuel, Psalms, Joel,
  Malachi, Ephesians, James; test 2 Samuel, Proverbs, Amos, Matthew, Philippians, 1 Peter).  A harder,
  out-of-book evaluation.
"""
from __future__ import annotations

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ..dataset import Dataset, _index_array, _normalize_batch_indices, _require_int_index, as_generator
from .source import SwordModule, TextDataset
from .vocab import CharVocab

__all__ = ["CharLMDataset", "LMStreamLoader", "batchify", "BibleCorpus", "KJV", "WEB", "split_entries",
           "CHUNK", "KJV_ALPHABET", "WEB_ALPHABET"]

CHUNK = 100        # entries per block of the "chunk" split
_PERIOD = 20       # blocks 18 and 19 of every 20 are valid and test
_BOOK_PERIOD = 10  # books 8 and 9 of every 10 are valid and test

# every character of the clean texts, in code point order (checked against the data by the tests)
KJV_ALPHABET = ("\n !(),-.:;?ABCDEFGHIJKLMNOPQRSTUVWYZ[]abcdefghijklmnopqrstuvwxyz\u00b6\u00c6\u00e6"
                "\u05d0\u05d1\u05d2\u05d3\u05d4\u05d5\u05d6\u05d7\u05d8\u05d9\u05db\u05dc\u05de\u05e0"
                "\u05e1\u05e2\u05e4\u05e6\u05e7\u05e8\u05e9\u05ea\u2014\u2019")  # Hebrew: Psalm 119's headings
WEB_ALPHABET = ("\n !(),-.012345678:;?ABCDEFGHIJKLMNOPQRSTUVWXYZ[]abcdefghijklmnopqrstuvwxyz"
                "\u2014\u2018\u2019\u201c\u201d")


def split_entries(books, split: str, split_by: str = "chunk") -> np.ndarray:
    """Positions (into the list of non-empty entries, whose books are ``books``) that form ``split``."""
    n = len(books)
    if split_by == "chunk":
        block = (np.arange(n) // CHUNK) % _PERIOD
        part = np.where(block == _PERIOD - 2, 1, np.where(block == _PERIOD - 1, 2, 0))
    elif split_by == "book":
        names = list(dict.fromkeys(books))
        pos = {b: i % _BOOK_PERIOD for i, b in enumerate(names)}
        rank = np.array([pos[b] for b in books], dtype=np.int64)
        part = np.where(rank == _BOOK_PERIOD - 2, 1, np.where(rank == _BOOK_PERIOD - 1, 2, 0))
    else:
        raise ValueError(f"split_entries: split_by must be 'chunk' or 'book', got {split_by!r}")
    return np.nonzero(part == {"train": 0, "valid": 1, "test": 2}[split])[0]


class CharLMDataset(Dataset):
    """Windows of a token stream for next-token prediction (characters, or any ids).

    ``CharLMDataset(ids, seq_len, stride=None)``: sample ``i`` is ``(x, y)`` with
    ``x = ids[i*stride : i*stride + seq_len]`` and ``y = ids[i*stride + 1 : i*stride + seq_len + 1]``
    (the same window shifted by one: ``y[t]`` is the token after ``x[t]``), both int64.  ``stride``
    defaults to ``seq_len`` (windows that tile the stream without overlap).  ``ids`` may also be a
    string, encoded with ``vocab`` (a CharVocab).
    """

    def __init__(self, ids, seq_len: int, stride: int | None = None, vocab=None):
        if isinstance(ids, str):
            if vocab is None:
                raise ValueError("CharLMDataset: a text needs a vocab to encode it")
            ids = vocab.encode(ids)
        ids = np.ascontiguousarray(ids.data if isinstance(ids, Tensor) else ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu":
            raise ValueError(f"CharLMDataset: expected a 1-d integer array of token ids, got shape {ids.shape} "
                             f"and dtype {ids.dtype}")
        seq_len = int(seq_len)
        stride = seq_len if stride is None else int(stride)
        if seq_len < 1 or stride < 1:
            raise ValueError(f"CharLMDataset: seq_len and stride must be positive, got {seq_len} and {stride}")
        self.ids, self.seq_len, self.stride, self.vocab = ids.astype(np.int64, copy=False), seq_len, stride, vocab
        self._offsets = np.arange(seq_len + 1, dtype=np.int64)

    def __len__(self) -> int:
        return max(0, (len(self.ids) - 1 - self.seq_len) // self.stride + 1)

    def get_batch(self, indices) -> tuple:
        """``(x (B, T), y (B, T))`` int64 for an array of sample indices: one gather of (B, T+1) windows."""
        idx = _normalize_batch_indices(_index_array(indices), len(self), type(self).__name__)
        win = self.ids[idx[:, None] * self.stride + self._offsets]
        return win[:, :-1], win[:, 1:]

    def __getitem__(self, index):
        _require_int_index(index, type(self).__name__)
        x, y = self.get_batch(np.array([index]))
        return from_numpy(x[0]), from_numpy(y[0])

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(tokens={len(self.ids):,}, seq_len={self.seq_len}, stride={self.stride}, "
                f"samples={len(self):,})")


def batchify(ids, batch_size: int) -> np.ndarray:
    """The stream cut into ``batch_size`` equal rows (B, N // B), the remainder dropped: row ``b`` is the
    ``b``-th contiguous stretch of the text (the layout of PyTorch's word_language_model example)."""
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids).reshape(-1)
    if batch_size < 1 or len(ids) < batch_size:
        raise ValueError(f"batchify: cannot cut {len(ids)} tokens into {batch_size} rows")
    n = len(ids) // batch_size
    return np.ascontiguousarray(ids[:n * batch_size].reshape(batch_size, n))


class LMStreamLoader:
    """Consecutive ``(x, y)`` batches (B, seq_len) of int64 Tensors for truncated BPTT.

    The stream is cut into ``batch_size`` rows (``batchify``); batch ``k`` holds columns
    ``[k*seq_len, (k+1)*seq_len)`` and ``y`` the columns one to the right, so row ``b`` of batch
    ``k + 1`` continues row ``b`` of batch ``k``: carry the hidden state over (detached).  With
    ``random_offset=True`` each epoch starts at a random offset below ``seq_len`` (drawn from
    ``generator``/``seed``), so window boundaries move between epochs.  The last, shorter batch is
    kept unless ``drop_last``.
    """

    def __init__(self, ids, batch_size: int, seq_len: int, drop_last: bool = False, random_offset: bool = False,
                 generator=None, seed: int | None = None):
        self.ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids, dtype=np.int64).reshape(-1)
        self.batch_size, self.seq_len, self.drop_last = int(batch_size), int(seq_len), bool(drop_last)
        self.random_offset = bool(random_offset)
        self.generator = as_generator(seed if seed is not None else generator, default_global=True) \
            if random_offset else None
        batchify(self.ids, self.batch_size)  # validates the sizes

    def _columns(self, offset: int) -> int:
        return (len(self.ids) - offset) // self.batch_size - 1  # input columns (one kept for the target)

    def __len__(self) -> int:
        cols = self._columns(self.seq_len - 1 if self.random_offset else 0)
        return cols // self.seq_len if self.drop_last else -(-cols // self.seq_len)

    def __iter__(self):
        offset = int(self.generator.integers(self.seq_len)) if self.random_offset else 0
        rows = batchify(self.ids[offset:], self.batch_size)
        cols = rows.shape[1] - 1
        for k in range(len(self)):
            a = k * self.seq_len
            b = min(a + self.seq_len, cols)
            if b <= a:
                return
            yield from_numpy(rows[:, a:b]), from_numpy(rows[:, a + 1:b + 1])


class BibleCorpus(TextDataset, CharLMDataset):
    """A Bible text for character-level language modelling.

    ``KJV(root=None, train=True, download=False, split=None, split_by="chunk", seq_len=128, stride=None)``:
    a CharLMDataset of ``seq_len``-character windows of the split's text (see the module docstring
    for the splits: ``"train"``, ``"valid"``, ``"test"``).  Also: ``.text`` (the split as one string),
    ``.lines`` and ``.books`` (its entries and their OSIS book ids), ``.vocab`` (a CharVocab of the
    module's fixed alphabet; the same for every split, so ids agree between splits).
    ``sizes`` counts characters (with the default chunk split).
    """

    module: SwordModule = None
    alphabet: str = ""
    image_shape = (128,)
    task = "lm"        # character-level language models train on it
    normalize = None

    def __init__(self, root=None, train: bool = True, download: bool = False, split: str | None = None,
                 split_by: str = "chunk", seq_len: int = 128, stride: int | None = None):
        from pathlib import Path
        self.root = Path(root).expanduser() if root is not None else None
        self.split = self._normalize_split(split, train)
        self.train, self.split_by = self.split == "train", split_by
        entries = [e for e in self._read_module(self.module.module, download) if e[1] and e[0]]  # no front matter
        keep = split_entries([b for b, _ in entries], self.split, split_by)
        self.lines = [entries[i][1] for i in keep]
        self.books = [entries[i][0] for i in keep]
        self.text = "\n".join(self.lines) + "\n"
        CharLMDataset.__init__(self, self.vocab.encode(self.text), seq_len, stride, vocab=self.vocab)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.alphabet:
            cls.vocab = CharVocab(cls.alphabet)
            cls.classes = list(cls.vocab.itos)
            cls.parts = {cls.module.module: (cls.module.source, cls.module.files, cls.module.checksums)}

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, split_by={self.split_by!r}, "
                f"characters={len(self.ids):,}, seq_len={self.seq_len}, samples={len(self):,}, vocab={len(self.vocab)})")


class KJV(BibleCorpus):
    """The King James Version (Debian ``sword-text-kjv``, module engKJV2006eb): 66 books, ~4.15 M
    characters of clean text (``¶`` paragraph marks kept), public domain."""

    name = "kjv"
    description = ("King James Bible text for character-level language models (sizes in characters; samples are "
                   "128-character windows; 'classes' = vocabulary)")
    module = SwordModule("engKJV2006eb", "sword-text-kjv", {
        "ot.bzs": "0d518856e8c6ceae0ca58bef944ba9a2809b5d4489cf81900853ad4af227510b",
        "ot.bzv": "b4fae54cb0b979b7f3f78fe6eaa94bad1f1d408eccb4a40410402b794b5c2f0f",
        "ot.bzz": "69f7e4e9b42ecef2e212ea957a388fccbeed1e3e333a38cf52e1b4064c6ce373",
        "nt.bzs": "e7f9bc653743217cdcdf95890a708f997a03af056161d84bb540efef79e4e638",
        "nt.bzv": "9d1daab8fb6ef43b53642cdd3276c1fa95ecfde08901bbb349be6378d1e1b972",
        "nt.bzz": "135b6e70af49372f3a82c5d9cc3c00278f38dbb2c12af74ea8d4b54c18d0cd56",
    }, size="a 2.8 MB .deb")
    alphabet = KJV_ALPHABET
    sizes = {"train": 3733326, "valid": 210080, "test": 209898}


class WEB(BibleCorpus):
    """The World English Bible (Debian ``sword-text-web``, module engWEB2015eb): modern English, 80 books
    (with the deuterocanon), ~4.85 M characters, public domain.  The preface (front matter) is left out."""

    name = "web"
    description = ("World English Bible (modern English) text for character-level language models (sizes in "
                   "characters; samples are 128-character windows; 'classes' = vocabulary)")
    module = SwordModule("engWEB2015eb", "sword-text-web", {
        "ot.bzs": "2c16645bb829c05b20f39769e1fa23212743335143833a819f29e412c6def8ce",
        "ot.bzv": "dbd3b762b7159c5dd4b535f75b6ab643fb62ae44f4655aff3c5098a955a1ae57",
        "ot.bzz": "4633066d3872f1a3e600d2d10e667a13cd6c32bf116ca971d3c8f288bc3ea453",
        "nt.bzs": "bec87a360bbc6bfbcd7de513edf928ceebb428dd2baff813aebf521bb0c6cc83",
        "nt.bzv": "bb7a522d8323ccd7be462fca4dcd53c06d966c140fe260a6295e05393d259338",
        "nt.bzz": "5429389d9331b7a86901a73afa74f32d089cae3d5bd8dfe304b11808714a69ba",
    }, size="a 4.0 MB .deb")
    alphabet = WEB_ALPHABET
    sizes = {"train": 4328976, "valid": 246590, "test": 249996}
