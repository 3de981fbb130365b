"""The training runs: a page listing them (and other figures found beside experiment outputs), and a page per
run with its loss and metric curves (inline SVG from ``history.json``), final figures, pictures and command."""
from __future__ import annotations

import os
from html import escape

from . import html as H
from .curves import run_charts


def run_page(run, images: list, generated: str) -> str:
    """``images``: ``(site path, caption)`` of the run's pictures, already copied into the site."""
    body = [f'<h1>Training run {escape(run.name)}</h1>',
            f'<p class="sub">{escape(run.model)} on {escape(run.dataset)} ({escape(run.task)} task)</p>',
            '<section class="card"><h3>Command</h3>', H.command(run.command or "(not recorded)"),
            H.meta([("folder", run.folder), ("date", run.date), *_settings(run.config)]), "</section>"]
    charts = run_charts(run.history)
    no_charts = "history.json holds no finite numbers to draw." if run.history else "No history.json in this folder."
    body.append('<section class="card"><h3>Curves</h3>' + (
        f'<div class="charts">{"".join(charts)}</div>' if charts else f"<p>{no_charts}</p>") + "</section>")
    if run.final:
        body.append('<section class="card"><h3>Final figures (test split, last weights)</h3>'
                    + H.table([{k: v for k, v in run.final.items() if not isinstance(v, (dict, list))}])
                    + "</section>")
    if images:
        body.append('<section class="card"><h3>Pictures</h3><div class="gallery">'
                    + "".join(H.figure(src, caption, caption) for src, caption in images) + "</div></section>")
    return H.page(f"{run.name} — nabla report", "\n".join(body), generated)


def _settings(config: dict) -> list:
    settings = config.get("settings") or {}
    keep = ("optimizer", "lr", "batch_size", "epochs", "max_steps", "time_budget", "scheduler", "seed")
    pairs = [(k, settings[k]) for k in keep if settings.get(k) is not None]
    if config.get("options"):
        pairs.append(("options", ", ".join(f"{k}={v}" for k, v in config["options"].items())))
    return pairs


def _final_text(final: dict) -> str:
    numbers = [(k, v) for k, v in final.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
               and k not in ("steps", "training_seconds")]
    return ", ".join(f"{k} {v:.4g}" for k, v in numbers[:4])


def runs_page(runs: list, pages: list, figures: list, generated: str) -> str:
    """The list of runs (``pages``: each run's page name) and ``figures``: ``(site path, caption)``."""
    rows = "".join(f'<tr><td><a href="{escape(p)}">{escape(r.name)}</a></td><td>{escape(r.model)}</td>'
                   f'<td>{escape(r.dataset)}</td><td>{escape(_final_text(r.final))}</td><td>{escape(r.date)}</td></tr>'
                   for r, p in zip(runs, pages))
    body = ["<h1>Training runs</h1>"]
    body.append(f'<div class="scroll"><table><thead><tr><th>run</th><th>model</th><th>data set</th><th>final '
                f'figures</th><th>date</th></tr></thead><tbody>{rows}</tbody></table></div>' if runs else
                '<p>No training run folders were given. Train one with <code>nabla train</code> and pass its folder '
                '(or its parent, e.g. <code>runs/</code>) to <code>nabla report</code>.</p>')
    if figures:
        body.append('<h2>Other figures</h2><div class="gallery">'
                    + "".join(H.figure(src, caption, os.path.basename(src)) for src, caption in figures) + "</div>")
    return H.page("Training runs — nabla report", "\n".join(body), generated)
