"""``nabla datasets``: the registered data sets, their task, sizes, where they come from, present or not.

``nabla datasets export NAME --format coco|masks --out DIR [--split S] [--count N]``: a detection data set's
split written as PNG images with a COCO instances JSON, or as image/mask PNG pairs
(``nabla.data.datasets.export``)."""
from __future__ import annotations

from .common import UsageError, check_counts


def add_parser(sub) -> None:
    from ..data.datasets.export import FORMATS
    d = sub.add_parser("datasets", help="list the data sets, their sizes and whether they are present; "
                                        "`nabla datasets export` writes one in a standard format")
    actions = d.add_subparsers(dest="action", metavar="{export}")
    e = actions.add_parser("export", help="write a detection data set's split as PNG images and a COCO instances "
                                          "JSON (--format coco), or image and mask PNGs (--format masks)")
    e.add_argument("dataset", help="a detection data set (see `nabla datasets`)")
    e.add_argument("--format", required=True, choices=list(FORMATS),
                   help="coco: images/NNNNNN.png and annotations.json (load it back with --dataset "
                        "coco:DIR/annotations.json); masks: images/ and masks/ of same-named PNGs, a mask pixel "
                        "the class index (0 background, 1 + label)")
    e.add_argument("--out", required=True, help="a new or empty folder (nothing is overwritten)")
    e.add_argument("--split", default="test", help="the split to export (default: test)")
    e.add_argument("--count", type=int, default=None, help="export the first N items (default: all)")
    e.add_argument("--no-download", action="store_true", help="fail instead of fetching a missing data set")


def _list(echo) -> None:
    from ..data.datasets import list_datasets
    rows = list_datasets()
    sizes = [" / ".join(f"{v:,} {k}" for k, v in d["sizes"].items()) for d in rows]
    width = max(map(len, sizes), default=0)
    name_width = max((len(d["name"]) for d in rows), default=0)
    task_width = max((len(d["task"] or "") for d in rows), default=0)
    for d, size in zip(rows, sizes):
        state = "present" if d["present"] else f"missing: fetched on first use from {d['source']}, or install: " \
                                               f"{d['install']}"
        # 0 classes: a regression target, or a vocabulary built from the data when it is first read
        classes = f"{d['num_classes']:3d} classes" if d["num_classes"] else f"{'-':>3s}        "
        echo(f"{d['name']:{name_width}s} {d['task'] or '':{task_width}s} {size:{width}s} {'x'.join(map(str, d['shape'])):9s} "
             f"{classes}  {state}\n{'':{name_width}s} {d['description']}")


def _export(args, echo) -> dict:
    from ..data.datasets.export import ExportRequestError, check_export_folder, export_dataset
    check_counts(args, positive=("count",))
    try:
        check_export_folder(args.out)
    except FileExistsError as e:
        raise UsageError(f"--out: {e}") from None
    try:
        done = export_dataset(args.dataset, args.format, args.out, split=args.split, count=args.count,
                              download=not args.no_download)
    except ExportRequestError as e:
        raise UsageError(str(e)) from None
    boxes = f" with {done['annotations']:,} boxes" if "annotations" in done else ""
    echo(f"wrote {done['images']:,} images{boxes} of {done['dataset']} ({done['split']}) to {done['folder']}")
    if args.format == "coco":
        echo(f"train on them with: nabla train MODEL --dataset coco:{done['folder']}/annotations.json")
    return done


def run(args, echo=print):
    if getattr(args, "action", None) == "export":
        return _export(args, echo)
    _list(echo)
