"""``build_report``: the whole site from the folders given and the registered claims.

    out/index.html                the chapters, each claim's verdict, the runs
    out/chapter-<id>.html         each claim of a chapter in full
    out/runs.html, run-<n>.html   the training runs
    out/figures/...               every picture, copied (the site opens from disk, with no network)
"""
from __future__ import annotations

import datetime
import os
import tempfile

from .catalogue import by_chapter
from .claim_pages import chapter_page
from .discover import discover
from .index_page import index_page
from ..utils.provenance import machine, nabla_commit, nabla_version
from .predictions import draw_predictions
from .results import UNKNOWN, machine_text
from .run_pages import run_page, runs_page
from .site import Site, slug


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _run_images(site: Site, run, page_slug: str, predictions: int, echo) -> list:
    """The run's pictures copied into the site, ``(site path, caption)``; a detection or segmentation run with
    none gets its checkpoint's predictions on ``predictions`` test images."""
    images = [(site.copy(path, f"runs/{page_slug}/{os.path.dirname(os.path.relpath(path, run.folder))}"),
               os.path.relpath(path, run.folder)) for path in run.images]
    with tempfile.TemporaryDirectory(prefix="nabla-report-") as tmp:
        for path in draw_predictions(run, tmp, predictions, echo):
            images.append((site.copy(path, f"runs/{page_slug}/predictions"),
                           f"predicted on test image {os.path.basename(path)} (score >= 0.5)"))
    return images


def _write_runs(site: Site, runs: list, figures: list, generated: str, predictions: int, echo) -> list:
    names = []
    for run in runs:
        name = site.reserve(f"run-{slug(run.name)}.html")
        site.write(name, run_page(run, _run_images(site, run, name[4:-5], predictions, echo), generated))
        names.append(name)
    others = [(site.copy(p, "other"), os.path.basename(p)) for p in figures]
    site.write("runs.html", runs_page(runs, names, others, generated))
    return names


def build_report(paths, out: str, claims: list, predictions: int = 4, echo=print) -> dict:
    """Write the site into ``out``; ``claims``: the registered experiments (``records.Claim``), in order;
    ``predictions``: test images a detection or segmentation run's checkpoint is drawn on (0: none).
    Returns what was found and written (``index``: the index page's path)."""
    found = discover(paths, exclude=(out,))
    for path in found.missing:
        echo(f"note: {path} is neither a folder nor a .json file; skipped")
    site = Site(out)
    built = [("built", _now()), ("nabla", nabla_version() or UNKNOWN),
             ("commit", nabla_commit(short=True, mark_dirty=True) or UNKNOWN), ("machine", machine_text(machine())),
             ("from", ", ".join(map(str, paths)) if paths else "runs/ (the default)")]
    generated = f"nabla report · built {built[0][1]} · nabla {built[1][1]} · commit {built[2][1]}"
    chapters = by_chapter(claims, found.results)
    plots = {name: site.copy(r.plot, "experiments") for name, r in found.results.items() if r.plot}
    pages = {ch.id: f"chapter-{ch.id}.html" for ch, _ in chapters}
    for ch, items in chapters:
        site.write(pages[ch.id], chapter_page(ch, items, plots, generated))
    run_names = _write_runs(site, found.runs, found.figures, generated, predictions, echo)
    index = site.write("index.html", index_page(chapters, pages, found.runs, run_names, built, generated))
    measured = sum(i.result is not None for _, items in chapters for i in items)
    echo(f"report: {measured} of {sum(len(i) for _, i in chapters)} claims measured, {len(found.runs)} training "
         f"runs, {len(site.written)} files in {out}")
    echo(f"open {os.path.abspath(index)}")
    return {"index": index, "results": found.results, "runs": found.runs, "files": list(site.written),
            "missing": found.missing}
