"""The output folder: pages written as UTF-8, pictures copied into ``figures/`` under names that never clash,
so every link in the site points inside it."""
from __future__ import annotations

import os
import re
import shutil


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (letters, digits, dots, dashes)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "item"


class Site:
    def __init__(self, out: str):
        self.out = out
        self.written: list = []
        self._taken: set = set()
        os.makedirs(out, exist_ok=True)

    def reserve(self, rel: str) -> str:
        """``rel``, or ``stem-2.ext``, ``stem-3.ext``...: the first name not yet used in the site."""
        stem, ext = os.path.splitext(rel)
        k, candidate = 2, rel
        while candidate in self._taken:
            candidate, k = f"{stem}-{k}{ext}", k + 1
        self._taken.add(candidate)
        return candidate

    def copy(self, src: str, folder: str, name: str | None = None) -> str:
        """Copy ``src`` to ``figures/<folder>/<name>``; the path relative to the site, with / separators."""
        rel = self.reserve("/".join(["figures", *[slug(p) for p in folder.split("/") if p],
                                   slug(name or os.path.basename(src))]))
        dest = os.path.join(self.out, *rel.split("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(src, dest)
        self.written.append(rel)
        return rel

    def write(self, name: str, text: str) -> str:
        path = os.path.join(self.out, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        self.written.append(name)
        return path
