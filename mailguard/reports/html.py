"""One self-contained HTML page for a ``Summary``: inline SVG charts, no scripts, no
fonts or images from anywhere, so it opens from disk or an email attachment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from mailguard.reports.summary import Summary

_COLOURS = {
    "pass": "#8fbf8f",
    "tag": "#7aa6d6",
    "rewrite": "#b59ad6",
    "hold": "#e0a040",
    "reject": "#d06060",
}
_OTHER = "#999999"


def render(summary: Summary, *, title: str, subtitle: str = "") -> str:
    """The whole page, its style inline: it opens from disk or an attachment."""
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = f"<h1>{escape(title)}</h1><p class=sub>{escape(subtitle)} Made {made}.</p>"
    return _PAGE.format(title=escape(title), body=head + body(summary))


def body(summary: Summary) -> str:
    """The charts and tables alone (the review UI puts them in its own page)."""
    held = summary.actions.get("hold", 0)
    parts = [
        "<div class=totals>",
        _total("messages", summary.messages),
        *(_total(a, n) for a, n in summary.actions.most_common()),
        _total("changed by the policy change", summary.changed) if summary.compared else "",
        "</div>",
        "<h2>Actions per day</h2>",
        _per_day(summary),
        "<div class=grid>",
        _section("Holds per rule", summary.holds.most_common(15), f"{held} held"),
        _section("Rules that fired", summary.rules.most_common(15)),
        _section("Sender domains with an action other than pass", summary.domains.most_common(15)),
        _section("Messages by finding type", summary.findings.most_common(15)),
        "</div>",
    ]
    if summary.compared:
        parts.append("<h2>What the change would do, by rule</h2>")
        parts.append(_bars(summary.changed_by_rule.most_common(15)) or "<p>No message changes.</p>")
        for rule, samples in summary.samples.items():
            parts.append(f"<h3>{escape(rule)}</h3><table><tr><th>message</th><th>subject</th>"
                         "<th>now</th><th>before</th><th>findings (masked)</th></tr>")  # fmt: skip
            for s in samples:
                found = "; ".join(
                    f"{escape(t)} x{n}" + (f": {escape(d)}" if d else "") for t, n, d in s.findings
                )
                parts.append(
                    f"<tr><td>{escape(s.ref)}</td><td>{escape(s.subject)}</td>"
                    f"<td>{escape(s.action)}</td><td>{escape(s.against_action or '')}</td>"
                    f"<td>{found}</td></tr>"
                )
            parts.append("</table>")
    return "\n".join(parts)


def _total(label: str, n: int) -> str:
    return f"<div class=total><b>{n:,}</b><span>{escape(label)}</span></div>"


def _section(heading: str, items: Sequence[tuple[str, int]], note: str = "") -> str:
    chart = _bars(items) or "<p class=none>None.</p>"
    extra = f" <small>({escape(note)})</small>" if note else ""
    return f"<section><h2>{escape(heading)}{extra}</h2>{chart}</section>"


def _bars(items: Sequence[tuple[str, int]]) -> str:
    """Horizontal bars, the label on the left and the count on the right."""
    if not items:
        return ""
    top = max(n for _, n in items) or 1
    row, width, label = 22, 260, 230
    height = row * len(items) + 4
    full = label + width + 70
    svg = [
        f'<svg class=bars role=img width="{full}" height="{height}" viewBox="0 0 {full} {height}">'
    ]
    for i, (name, n) in enumerate(items):
        y = i * row + 2
        w = max(1.0, width * n / top)
        colour = _COLOURS.get(name, "#5b8bc0")
        svg.append(
            f'<text x="{label - 6}" y="{y + 15}" text-anchor="end">{escape(name[:34])}</text>'
            f'<rect x="{label}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{colour}">'
            f"<title>{escape(name)}: {n:,}</title></rect>"
            f'<text x="{label + w + 6:.1f}" y="{y + 15}">{n:,}</text>'
        )
    svg.append("</svg>")
    return "".join(svg)


def _per_day(summary: Summary) -> str:
    """Stacked columns: each day's messages by action."""
    days = sorted(summary.per_day.items())
    if not days:
        return "<p class=none>No messages.</p>"
    actions = [a for a, _ in summary.actions.most_common()]
    top = max(sum(c.values()) for _, c in days) or 1
    step = max(6.0, min(120.0, 980 / len(days)))
    chart_h, base = 200, 220
    width = step * len(days) + 60
    svg = [
        f'<svg class=days role=img width="{width:.0f}" height="{base + 40}"'
        f' viewBox="0 0 {width:.0f} {base + 40}">'
    ]
    svg.append(f'<text x="0" y="12">{top:,}</text><line x1="40" y1="{base}" x2="{width:.0f}" '
               f'y2="{base}" stroke="#666"/>')  # fmt: skip
    for i, (day, counts) in enumerate(days):
        x = 44 + i * step
        y = float(base)
        for action in actions:
            n = counts.get(action, 0)
            if not n:
                continue
            h = chart_h * n / top
            y -= h
            svg.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.8:.1f}" height="{h:.1f}" '
                f'fill="{_COLOURS.get(action, _OTHER)}"><title>{escape(day)} {escape(action)}: '
                f"{n:,}</title></rect>"
            )
        if len(days) <= 16 or i % max(1, len(days) // 8) == 0:
            svg.append(f'<text x="{x:.1f}" y="{base + 16}" class=day>{escape(day[5:])}</text>')
    svg.append("</svg>")
    legend = " ".join(
        f'<span class=key style="background:{_COLOURS.get(a, _OTHER)}"></span>{escape(a)}'
        for a in actions
    )
    return "".join(svg) + f"<p class=legend>{legend}</p>"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
h1 {{ margin-bottom: 0; }} .sub {{ color: #666; margin-top: .2em; }}
.totals {{ display: flex; gap: 1em; flex-wrap: wrap; margin: 1em 0; }}
.total {{ border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; min-width: 7em; }}
.total b {{ display: block; font-size: 1.6em; }} .total span {{ color: #555; }}
.grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1em 2em; }}
svg {{ max-width: 100%; height: auto; font-size: 12px; }} svg text {{ fill: #333; }}
.day {{ font-size: 10px; }} .none {{ color: #888; }}
.key {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; }}
table {{ border-collapse: collapse; width: 100%; margin-bottom: 1em; }}
th, td {{ border: 1px solid #ddd; padding: 4px 6px; text-align: left; vertical-align: top; }}
@media print {{ .grid {{ grid-template-columns: 1fr; }} }}
</style></head>
<body>
{body}
</body></html>
"""
