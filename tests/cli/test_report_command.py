"""`nabla report`'s command line: what it refuses in one line before any work, the default place it reads
(runs/), and a report written inside one of the folders it reads (it does not read itself back)."""
from __future__ import annotations

import shutil
from pathlib import Path

from nabla.experiments import experiment_names

from ..report.helpers import nabla_report
from .helpers import assert_ok, assert_one_line_error

DOCS = Path(__file__).resolve().parents[2] / "docs" / "figures"


def test_a_folder_that_does_not_exist_is_refused_in_one_line(tmp_path):
    line = assert_one_line_error(nabla_report("runs/nowhere", "--out", "site", cwd=tmp_path), 2, "runs/nowhere")
    assert "no such folder" in line
    assert not (tmp_path / "site").exists()


def test_a_path_that_is_not_a_folder_or_json_is_skipped_with_a_note_saying_why(tmp_path):
    (tmp_path / "plot.png").write_bytes(b"not a report input")
    res = assert_ok(nabla_report("plot.png", "--out", "site", cwd=tmp_path))
    assert "note: plot.png is neither a folder nor a .json file; skipped" in res.stdout


def test_an_out_that_is_a_file_is_refused_in_one_line(tmp_path):
    (tmp_path / "site").write_text("not a folder")
    assert_one_line_error(nabla_report("--out", "site", cwd=tmp_path), 2, "--out", "site")


def test_with_nothing_run_yet_every_claim_is_listed_with_its_command(tmp_path):
    res = assert_ok(nabla_report("--out", "site", cwd=tmp_path))   # no runs/ here: nothing measured
    assert f"0 of {len(experiment_names())} claims measured" in res.stdout
    pages = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "site").glob("chapter-*.html"))
    for name in experiment_names():
        assert f"nabla experiment {name} --out runs/experiments" in pages, name


def test_a_report_inside_a_folder_it_reads_does_not_read_itself_back(tmp_path):
    runs = tmp_path / "runs" / "experiments"
    runs.mkdir(parents=True)
    for f in ("gd-convex.json", "gd-convex.png", "vae-samples.png"):
        shutil.copy(DOCS / f, runs / f)
    for _ in range(2):  # the second build sees the first one's site inside runs/
        res = assert_ok(nabla_report("runs", "--out", "runs/site", cwd=tmp_path))
        assert "1 of" in res.stdout
    figures = sorted(p.name for p in (tmp_path / "runs" / "site" / "figures").rglob("*.png"))
    assert figures == ["gd-convex.png", "vae-samples.png"]


def test_a_report_inside_a_run_folder_does_not_show_its_own_pictures_as_the_runs(tmp_path):
    run = tmp_path / "runs" / "lin"
    run.mkdir(parents=True)
    (run / "history.json").write_text('{"step": [1, 2], "loss": [1.0, 0.5]}')
    shutil.copy(DOCS / "vae-samples.png", run / "samples.png")
    for _ in range(2):  # the second build sees the first one's figures inside the run folder
        assert_ok(nabla_report("runs/lin", "--out", "runs/lin/site", cwd=tmp_path))
    figures = sorted(p.relative_to(run / "site") for p in (run / "site" / "figures").rglob("*.png"))
    assert figures == [Path("figures/runs/lin/samples.png")], figures
