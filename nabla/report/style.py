"""The report's look: one inline style sheet (no fonts or files fetched; the notes' Chinese uses whatever CJK
font the system has, e.g. Noto Sans CJK)."""

CSS = """
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dee7; --ok: #17803d; --bad: #b42318; --todo: #8a6d00;
        --paper: #ffffff; --shade: #f5f7fa; --link: #1a56b8; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 "Noto Sans", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
       "Microsoft YaHei", system-ui, sans-serif; color: var(--ink); background: var(--shade); }
header.top { background: #202a3c; color: #fff; padding: 14px 28px; }
header.top a { color: #cfe0ff; text-decoration: none; margin-right: 18px; }
header.top .brand { font-weight: 700; font-size: 18px; color: #fff; }
main { max-width: 1120px; margin: 0 auto; padding: 10px 28px 40px; }
h1 { font-size: 26px; margin: 22px 0 4px; } h2 { font-size: 21px; margin: 30px 0 8px; }
h3 { font-size: 17px; margin: 0 0 6px; }
.zh { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", "Source Han Sans SC", "PingFang SC", serif; }
.sub { color: var(--muted); margin: 0 0 14px; }
a { color: var(--link); }
section.card { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
               margin: 16px 0; }
blockquote { margin: 8px 0 12px; padding: 8px 14px; border-left: 4px solid #8fa8d6; background: #f0f4fb; }
blockquote p { margin: 2px 0; } blockquote .en { color: var(--muted); font-style: italic; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12.5px; font-weight: 600;
         color: #fff; vertical-align: 2px; margin-left: 6px; }
.badge.ok { background: var(--ok); } .badge.bad { background: var(--bad); } .badge.todo { background: var(--todo); }
.badge.quick { background: #6b7280; }
ul.claims { margin: 6px 0; padding-left: 20px; } ul.claims li.ok::marker { content: "✓  "; color: var(--ok); }
ul.claims li.bad::marker { content: "✗  "; color: var(--bad); }
.figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
.figure figcaption { color: var(--muted); font-size: 13px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: var(--shade); } td.num { text-align: right; font-variant-numeric: tabular-nums; }
pre.cmd { background: #111827; color: #e5e7eb; padding: 8px 12px; border-radius: 6px; overflow-x: auto;
          font-size: 13px; margin: 6px 0; white-space: pre-wrap; word-break: break-all; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; font-size: 13px;
          color: var(--muted); margin: 8px 0 0; }
dl.meta dt { font-weight: 600; } dl.meta dd { margin: 0; }
.toc li { margin: 3px 0; } .toc .count { color: var(--muted); font-size: 13px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { background: #fff; border: 1px solid var(--line); border-radius: 4px; max-width: 100%; height: auto; }
svg.chart text { font-size: 11px; fill: var(--ink); } svg.chart text.title { font-size: 13px; font-weight: 600; }
svg.chart .axis { stroke: #444; } svg.chart .grid { stroke: #e6e9ef; }
.gallery { display: flex; flex-wrap: wrap; gap: 14px; } .gallery figure { margin: 0; max-width: 100%; }
.gallery img { max-height: 420px; }
footer { color: var(--muted); font-size: 12.5px; text-align: center; padding: 20px; }
"""
