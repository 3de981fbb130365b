"""The claims by chapter: the registered experiments (``Claim``) joined with the results found on disk.

A result whose experiment is not registered (an older name) is still shown, under the chapter its JSON
records, else under "other"; a registered experiment with no result is listed as not run yet.
"""
from __future__ import annotations

from dataclasses import dataclass

from .chapters import CHAPTERS, OTHER, chapter


@dataclass
class Item:
    name: str
    summary: str
    claim: str
    chapter: str
    notes: tuple | None
    command: str                     # the command that runs it (full budget)
    result: object = None            # ExperimentResult, or None: not run yet


def by_chapter(claims: list, results: dict) -> list:
    """``[(Chapter, [Item, ...]), ...]`` in the notes' order, "other" last, chapters with no claim left out."""
    items = []
    for c in claims:
        items.append(Item(c.name, c.summary, c.claim, chapter(c.chapter).id, c.notes, c.command, results.get(c.name)))
    known = {c.name for c in claims}
    for name, r in results.items():
        if name not in known:
            items.append(Item(name, r.summary, r.claim, chapter(r.chapter).id, r.notes,
                              f"nabla experiment {name} --out runs/experiments", r))
    return [(ch, [i for i in items if i.chapter == ch.id]) for ch in CHAPTERS + (OTHER,)
            if any(i.chapter == ch.id for i in items)]
