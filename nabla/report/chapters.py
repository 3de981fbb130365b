"""The course notes' chapters as the report's index follows them (``nabla.utils.notes``, the table the
experiments name by id); an experiment that names none, or an unknown id, is listed under ``OTHER``.
"""
from __future__ import annotations

from ..utils.notes import CHAPTERS, Chapter

__all__ = ["CHAPTERS", "Chapter", "OTHER", "chapter"]

OTHER = Chapter("other", "其他", "Other experiments", "", "experiments that name no chapter of the notes yet")

_BY_ID = {c.id: c for c in CHAPTERS}


def chapter(chapter_id: str | None) -> Chapter:
    """The chapter with this id; ``OTHER`` for None or an id the notes do not have."""
    return _BY_ID.get(chapter_id or "", OTHER)
