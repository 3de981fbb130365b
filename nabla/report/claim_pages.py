"""A chapter's page: each of its claims with the notes' sentence, the verdict, the plot, the table, the command
that reproduces it and where it ran; claims not run yet with the command that would run them."""
from __future__ import annotations

from html import escape

from . import html as H
from .chapters import Chapter


def _sub_claims(claims: dict) -> str:
    if not claims:
        return ""
    items = "".join(f'<li class="{"ok" if held else "bad"}">{escape(str(text))}</li>' for text, held in claims.items())
    return f'<ul class="claims">{items}</ul>'


def _result(result, plot_src) -> str:
    """The body of a claim that was measured."""
    parts = [f"<p>{escape(result.verdict)}</p>", _sub_claims(result.claims)]
    if plot_src:
        parts.append(H.figure(plot_src, f"{result.name}: the experiment's figure", f"plot of {result.name}"))
    parts += [H.table(result.table), "<p><strong>Reproduce:</strong></p>", H.command(result.command),
              H.meta([("date", result.date), ("nabla", result.nabla_version), ("commit", result.commit),
                      ("machine", result.machine), ("budget", "quick (--quick)" if result.quick else "full"),
                      ("numbers", result.path)])]
    return "\n".join(p for p in parts if p)


def claim_section(item, plot_src: str | None) -> str:
    """One claim: ``item`` has ``name, summary, claim, notes, result`` (result None: not run yet)."""
    r = item.result
    quick = ' <span class="badge quick">quick run</span>' if r is not None and r.quick else ""
    head = (f'<section class="card" id="{escape(item.name)}">\n<h3>{escape(item.name)}'
            f'{H.badge(r)}{quick}</h3>\n'
            f'<p><strong>Claim:</strong> {escape(item.claim or (r.claim if r else ""))}</p>\n'
            f'{H.quote(item.notes)}\n<p class="sub">{escape(item.summary)}</p>\n')
    if r is None:
        return head + f"<p><strong>Not run yet.</strong> Run it with:</p>{H.command(item.command)}</section>"
    return head + _result(r, plot_src) + "\n</section>"


def chapter_page(chapter: Chapter, items: list, plots: dict, generated: str) -> str:
    """The page of one chapter; ``plots`` maps an experiment name to its copied figure."""
    done = sum(i.result is not None for i in items)
    body = [f'<p class="sub">{escape(chapter.part)}</p>' if chapter.part else "",
            f'<h1><span class="zh" lang="zh">{escape(chapter.zh)}</span> · {escape(chapter.en)}</h1>',
            f'<p class="sub">{escape(chapter.topics)} — {len(items)} claims, {done} measured.</p>']
    body += [claim_section(i, plots.get(i.name)) for i in items]
    return H.page(f"{chapter.en} — nabla report", "\n".join(body), generated)
