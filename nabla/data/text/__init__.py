"""Text data: vocabularies, the Bible corpora for language models, sequence pairs for seq2seq.

* ``vocab``: ``CharVocab``, ``WordVocab`` (specials ``<pad> <bos> <eos> <unk>`` = ids 0-3), encode /
  decode, JSON save / load.
* ``corpus``: ``KJV``, ``WEB`` (Bible texts from Debian SWORD packages), ``CharLMDataset`` (windows for
  next-character prediction), ``LMStreamLoader`` (contiguous batches for truncated BPTT).
* ``pairs``: ``CMUDict`` (grapheme-to-phoneme), ``EnglishSpanish`` (verse pairs), ``PairDataset``
  with padded ``(src, src_lengths, tgt_in, tgt_out)`` batches, ``BucketBatchSampler``.

All of them are in ``nabla datasets`` (``nabla.data.get_dataset("kjv", split="valid")``).
"""
from .corpus import KJV, WEB, BibleCorpus, CharLMDataset, LMStreamLoader, batchify, split_entries
from .pairs import (CMUDict, EnglishSpanish, PairDataset, BucketBatchSampler, pad_collate, read_cmudict,
                    split_by_word, GRAPHEMES, PHONEMES, PHONEMES_STRESS)
from .source import read_ztext
from .vocab import BOS, EOS, PAD, SPECIALS, UNK, CharVocab, Vocab, WordVocab, load_vocab, pad_sequences

__all__ = ["Vocab", "CharVocab", "WordVocab", "load_vocab", "pad_sequences", "SPECIALS", "PAD", "BOS", "EOS", "UNK",
           "KJV", "WEB", "BibleCorpus", "CharLMDataset", "LMStreamLoader", "batchify", "split_entries",
           "CMUDict", "EnglishSpanish", "PairDataset", "BucketBatchSampler", "pad_collate", "read_cmudict",
           "split_by_word", "GRAPHEMES", "PHONEMES", "PHONEMES_STRESS", "read_ztext"]
