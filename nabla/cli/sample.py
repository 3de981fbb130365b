"""``nabla sample CKPT``: text from a language-model checkpoint, or a prompt converted by a seq2seq one."""
from __future__ import annotations

from .train import add_sampling_arguments


def add_parser(sub) -> None:
    s = sub.add_parser("sample", help="sample text from a language-model checkpoint (or decode with a seq2seq one)")
    s.add_argument("checkpoint")
    add_sampling_arguments(s)
    s.add_argument("--beam-size", type=int, default=5, help="beam width for seq2seq checkpoints")
    s.add_argument("--seed", type=int, default=0)


def run(args, echo=print):
    from ..train import run as runs
    from .common import check_counts
    check_counts(args, positive=("beam_size", "length", "num_samples"), non_negative=("temperature", "top_k"))
    options = {k: getattr(args, k) for k in ("prompt", "temperature", "top_k", "length", "num_samples",
                                             "beam_size", "seed")}
    return runs.sample(args.checkpoint, options, echo=echo)
