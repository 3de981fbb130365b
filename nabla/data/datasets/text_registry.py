"""The text data sets in the registry (``nabla datasets``): Bible corpora and sequence pairs.

Their rows read as the image sets' do: ``sizes`` per split (characters for the corpora, pairs for
the pair sets), ``shape`` a sample's shape (a 128-character window for the corpora, ``(1,)`` for
variable-length pairs), ``num_classes`` the output vocabulary's size (specials included; 0 where it
is built from the data).  The classes live in ``nabla.data.text``.
"""
from __future__ import annotations

from ..text import CMUDict, EnglishSpanish, KJV, WEB
from ..text.verses import KJVBooks, KJVTestament
from ..text.segmentation import KJVSegment
from . import register

register(KJV, "bible", "kjv-bible", "king-james", "king_james")
register(WEB, "world-english-bible", "web-bible")
register(CMUDict, "cmu", "cmudict-g2p", "g2p")
register(KJVBooks, "kjv_books", "kjvbooks")
register(KJVTestament, "kjv_testament", "kjvtestament")
register(KJVSegment, "kjv_segment", "kjv-segmentation")
register(EnglishSpanish, "en-es", "english-spanish", "kjv_rv1909", "verse-pairs")

__all__ = ["KJV", "WEB", "CMUDict", "EnglishSpanish", "KJVBooks", "KJVTestament", "KJVSegment"]
