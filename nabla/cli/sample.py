"""``nabla sample CKPT``: text from a language-model checkpoint, the prompt converted by a seq2seq one, or a
picture from an image model's checkpoint (a grid of samples, one class, a latent walk, completions)."""
from __future__ import annotations

from .train import add_sampling_arguments


def add_parser(sub) -> None:
    s = sub.add_parser("sample", help="sample from a checkpoint: text (language models, seq2seq) or images "
                                      "(VAE, GAN, PixelCNN)")
    s.add_argument("checkpoint")
    add_sampling_arguments(s, num_samples=None)
    s.add_argument("--beam-size", type=int, default=5, help="beam width for seq2seq checkpoints")
    s.add_argument("--seed", type=int, default=0)
    g = s.add_argument_group("image models")
    g.add_argument("--out", help="the PNG to write (default: samples.png beside the checkpoint, never replacing "
                                 "a file); --num-samples defaults to 64 here")
    g.add_argument("--label", type=int, help="the class a conditional model draws")
    g.add_argument("--interpolate", action="store_true",
                   help="VAE: latent walks between pairs of test images (a row of 10 steps each)")
    g.add_argument("--inpaint", metavar="IMAGE", help="PixelCNN, VAE: complete a PNG/JPEG, or test:INDEX (a test "
                                                      "image), of which only the --keep half is given")
    g.add_argument("--keep", default="top", choices=("top", "bottom", "left", "right"),
                   help="the half of the --inpaint image that is kept (default top)")


def run(args, echo=print):
    from ..train import run as runs
    from .common import check_counts
    check_counts(args, positive=("beam_size", "length", "num_samples"), non_negative=("temperature", "top_k"))
    options = {k: getattr(args, k) for k in ("prompt", "temperature", "top_k", "length", "num_samples",
                                             "beam_size", "seed", "out", "label", "interpolate", "inpaint", "keep")}
    options["checkpoint"] = args.checkpoint
    return runs.sample(args.checkpoint, options, echo=echo)
