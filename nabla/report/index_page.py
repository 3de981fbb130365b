"""The index: the notes' chapters in order, each claim with its verdict and a link to it; then the training runs."""
from __future__ import annotations

from html import escape

from . import html as H


def _claim_line(page: str, item) -> str:
    r = item.result
    return (f'<li><a href="{page}#{escape(item.name)}">{escape(item.name)}</a>'
            f'{H.badge(r)} <span class="count">{escape(item.summary)}</span></li>')


def _chapter_block(chapter, items, page: str) -> str:
    done = sum(i.result is not None for i in items)
    return (f'<section class="card toc"><h3><a href="{page}"><span class="zh" lang="zh">{escape(chapter.zh)}</span> · '
            f'{escape(chapter.en)}</a> <span class="count">{done}/{len(items)} measured</span></h3>'
            f'<p class="sub">{escape(chapter.topics)}</p><ul>'
            + "".join(_claim_line(page, i) for i in items) + "</ul></section>")


def index_page(chapters: list, pages: dict, runs: list, run_pages: list, built: list, generated: str) -> str:
    """``chapters``: ``[(Chapter, [Item])]``; ``pages``: chapter id -> page name; ``built``: (label, value) pairs."""
    items = [i for _, group in chapters for i in group]
    measured = [i for i in items if i.result is not None]
    supported = sum(i.result.supported is True for i in measured)
    refuted = sum(i.result.supported is False for i in measured)  # a result with no verdict is neither
    body = ['<h1>The course notes, measured</h1>',
            '<p class="sub">Each claim of the notes (<span class="zh" lang="zh">正则化和优化 · 神经网络 · '
            f'卷积神经网络 · 现代深度学习架构</span>) tested by an experiment: {len(items)} claims, {len(measured)} measured, '
            f'{supported} supported, {refuted} not' + (f', {len(measured) - supported - refuted} without a verdict'
                                                      if len(measured) > supported + refuted else "")
            + f'; {len(runs)} training runs.</p>']
    part = None
    for chapter, group in chapters:
        if chapter.part and chapter.part != part:
            body.append(f'<h2 class="zh">{escape(chapter.part)}</h2>')
        elif not chapter.part:
            body.append("<h2>Other</h2>")
        part = chapter.part
        body.append(_chapter_block(chapter, group, pages[chapter.id]))
    body.append(f'<h2>Training runs</h2><p><a href="runs.html">{len(runs)} training run'
                f'{"" if len(runs) == 1 else "s"}</a>' + "".join(
                    f' · <a href="{p}">{escape(r.name)}</a>' for r, p in zip(runs, run_pages)) + "</p>")
    body.append("<h2>This report</h2>" + H.meta(built))
    return H.page("nabla report — the course notes, measured", "\n".join(body), generated)
