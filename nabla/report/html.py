"""HTML pieces the pages share: the page frame, tables, badges, quotes, commands, figures.

Every text that comes from a file is escaped here; every link is relative (the site opens from disk).  The
pages need no script: the one script, ``IMAGE_CHECK``, only records in ``<body data-broken-images>`` how many
pictures failed to load (the browser test reads it).
"""
from __future__ import annotations

import json
import math
from html import escape

from .style import CSS

IMAGE_CHECK = """<script>
window.addEventListener("load", function () {
  var broken = Array.prototype.filter.call(document.images, function (im) {
    return !im.complete || im.naturalWidth === 0;
  });
  document.body.setAttribute("data-broken-images", String(broken.length));
  document.body.setAttribute("data-images", String(document.images.length));
});
</script>"""

NAV = (("index.html", "Contents"), ("runs.html", "Training runs"))


def page(title: str, body: str, generated: str) -> str:
    """A whole page: the title, the navigation bar, ``body`` and the footer line ``generated``."""
    nav = "".join(f'<a href="{href}">{escape(text)}</a>' for href, text in NAV)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
            f'<style>{CSS}</style>\n</head>\n<body>\n<header class="top"><span class="brand">∇ nabla</span> '
            f'&nbsp; {nav}</header>\n<main>\n{body}\n</main>\n<footer>{escape(generated)}</footer>\n'
            f'{IMAGE_CHECK}\n</body>\n</html>\n')


def cell(value) -> str:
    """One table cell: numbers to four significant digits, right-aligned; anything nested as compact JSON."""
    if isinstance(value, bool) or value is None:
        return f"<td>{'' if value is None else escape(str(value).lower())}</td>"
    if isinstance(value, (int, float)):
        text = f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)
        return f'<td class="num">{escape(text)}</td>'
    if isinstance(value, (list, dict)):
        text = json.dumps(value, ensure_ascii=False)
        return f"<td>{escape(text if len(text) <= 120 else text[:117] + '...')}</td>"
    return f"<td>{escape(str(value))}</td>"


def table(rows: list) -> str:
    """Rows (dicts) as a table, columns in first-seen order; "" for no rows."""
    if not rows:
        return ""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{escape(str(k))}</th>" for k in keys)
    body = "".join("<tr>" + "".join(cell(r.get(k)) for k in keys) + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def badge(result) -> str:
    """The verdict of an ``ExperimentResult`` as a coloured label; None: not run yet."""
    if result is None:
        return '<span class="badge todo">not run yet</span>'
    if result.supported is None:
        return '<span class="badge quick">no verdict</span>'
    if result.supported:
        return '<span class="badge ok">supported</span>'
    return '<span class="badge bad">not supported</span>'


def quote(notes) -> str:
    """The notes' sentence, in Chinese and in English; a line saying there is none yet otherwise."""
    if not notes:
        return '<p class="sub">(the notes\' sentence for this claim is not recorded yet)</p>'
    zh, en = notes
    return (f'<blockquote><p class="zh" lang="zh">{escape(zh)}</p>'
            f'<p class="en">{escape(en)}</p></blockquote>')


def command(text: str) -> str:
    return f'<pre class="cmd"><code>{escape(text)}</code></pre>'


def meta(pairs) -> str:
    """``(label, value)`` pairs as a definition list."""
    return '<dl class="meta">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in pairs) + "</dl>"


def figure(src: str, caption: str, alt: str) -> str:
    return (f'<figure class="figure"><a href="{escape(src)}"><img src="{escape(src)}" alt="{escape(alt)}">'
            f'</a><figcaption>{escape(caption)}</figcaption></figure>')
