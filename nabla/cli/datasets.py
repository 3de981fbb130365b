"""``nabla datasets``: the registered data sets, their task, sizes, where they come from, present or not."""
from __future__ import annotations


def add_parser(sub) -> None:
    sub.add_parser("datasets", help="list the data sets, their sizes and whether they are present")


def run(args, echo=print):
    from ..data.datasets import list_datasets
    for d in list_datasets():
        sizes = " / ".join(f"{v:,} {k}" for k, v in d["sizes"].items())
        state = "present" if d["present"] else f"missing: fetched on first use from {d['source']}, or install: " \
                                               f"{d['install']}"
        echo(f"{d['name']:14s} {d['task'] or '':15s} {sizes:28s} {'x'.join(map(str, d['shape'])):9s} "
             f"{d['num_classes']:3d} classes  {state}\n{'':14s} {d['description']}")
