"""``nabla eval CKPT``: the checkpoint's model on a data set's test split, rebuilt from the file alone."""
from __future__ import annotations


def add_parser(sub) -> None:
    e = sub.add_parser("eval", help="evaluate a checkpoint on a data set's test split")
    e.add_argument("checkpoint")
    e.add_argument("--dataset", help="default: the one the checkpoint trained on")
    e.add_argument("--no-download", action="store_true", help="fail instead of fetching a missing data set")
    e.add_argument("--beam-size", type=int, default=1, help="beam width for seq2seq checkpoints (1: greedy)")
    e.add_argument("--eval-limit", type=int, default=None,
                   help="evaluate on the first N test tokens or pairs (sequence checkpoints; default: all); "
                        "generative models: the first N test images (the VAE's IWAE estimate: at most 1,000)")
    e.add_argument("--iwae-k", type=int, default=None,
                   help="VAE: importance samples per image of the IWAE NLL estimate (default 1,000)")


def run(args, echo=print):
    from ..train import run as runs
    from .common import check_counts
    check_counts(args, positive=("beam_size", "eval_limit", "iwae_k"))
    return runs.evaluate(args.checkpoint, dataset=args.dataset, download=not args.no_download,
                         eval_limit=args.eval_limit, beam_size=args.beam_size, iwae_k=args.iwae_k, echo=echo)
