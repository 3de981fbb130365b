"""``nabla export CKPT --format onnx --out model.onnx``: a checkpoint's model in a format other tools read."""
from __future__ import annotations

FORMATS = ("onnx",)


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="write a checkpoint's model as ONNX (needs nabla[onnx])")
    e.add_argument("checkpoint")
    e.add_argument("--format", default="onnx", choices=FORMATS)
    e.add_argument("--out", default=None, help="the file to write (default: model.onnx beside the checkpoint)")
    e.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")


def run(args, echo=print):
    import os
    from ..onnx.checkpoint import export_checkpoint
    from .common import UsageError
    if args.opset < 13:
        raise UsageError(f"--opset must be >= 13, got {args.opset}")
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "model.onnx")
    result = export_checkpoint(args.checkpoint, out, opset_version=args.opset, echo=echo)
    return result["ok"] is not False
