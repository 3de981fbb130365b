"""``nabla predict CKPT IMAGE [IMAGE ...] --out DIR``: a detector's boxes, or a segmentation model's masks,
drawn on image files and printed (``nabla.train.predict``)."""
from __future__ import annotations

HELP = """Images of any size: one of the model's input size goes straight through; any other is scaled to fit
it with its aspect ratio kept (up or down), padded right and bottom with black, and the boxes are mapped
back to its own pixels (big images are shrunk whole, not tiled). Colour images are turned grey for a grey
model. Each detection prints as `IMAGE LABEL SCORE X0 Y0 X1 Y1` (original pixels, right/bottom exclusive);
each image is written to DIR/<its name>.png with the boxes, labels and scores drawn (small images enlarged
so the labels read). A segmentation checkpoint's mask is brought back to each image's own size (nearest
neighbour), blended over it in a colour per class (class 0, the background, uncoloured) with a legend at the
right, written to DIR/<its name>.png; each image prints as `IMAGE CLASS=SHARE ...`, the share of its pixels
per predicted class, largest first. Nothing is overwritten. Needs Pillow: pip install "nabla[vision]"."""


def add_parser(sub) -> None:
    p = sub.add_parser("predict", help="draw a detector's boxes or a segmentation model's masks on "
                                       "PNG/JPEG images of any size and print them", description=HELP)
    p.add_argument("checkpoint", help="a detector's or segmentation model's checkpoint "
                                                  "written by `nabla train`")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...: what Pillow reads)")
    p.add_argument("--out", required=True, help="folder for the drawn images (created if needed)")
    p.add_argument("--score-thresh", type=float, default=0.5,
                   help="report and draw detections scoring at least this (default 0.5; "
                        "detectors only)")


def run(args, echo=print):
    from ..train.predict import predict
    from .common import UsageError
    if not 0 <= args.score_thresh <= 1:  # NaN is refused too
        raise UsageError(f"--score-thresh must be in [0, 1], got {args.score_thresh}")
    return predict(args.checkpoint, args.images, args.out, score_thresh=args.score_thresh, echo=echo)
