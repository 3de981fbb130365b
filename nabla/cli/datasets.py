"""``nabla datasets``: the registered data sets, their task, sizes, where they come from, present or not."""
from __future__ import annotations


def add_parser(sub) -> None:
    sub.add_parser("datasets", help="list the data sets, their sizes and whether they are present")


def run(args, echo=print):
    from ..data.datasets import list_datasets
    rows = list_datasets()
    sizes = [" / ".join(f"{v:,} {k}" for k, v in d["sizes"].items()) for d in rows]
    width = max(map(len, sizes), default=0)
    name_width = max((len(d["name"]) for d in rows), default=0)
    for d, size in zip(rows, sizes):
        state = "present" if d["present"] else f"missing: fetched on first use from {d['source']}, or install: " \
                                               f"{d['install']}"
        # 0 classes: a regression target, or a vocabulary built from the data when it is first read
        classes = f"{d['num_classes']:3d} classes" if d["num_classes"] else f"{'-':>3s}        "
        echo(f"{d['name']:{name_width}s} {d['task'] or '':14s} {size:{width}s} {'x'.join(map(str, d['shape'])):9s} "
             f"{classes}  {state}\n{'':{name_width}s} {d['description']}")
