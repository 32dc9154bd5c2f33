"""HTML building blocks shared by the reports and the UI: one self-contained page (inline CSS,
no script, no external reference), tables, and the lineage graph drawn as inline SVG.

Numbers are written as Python writes them (no rounding) and carry `data-key`, the path of the
fact in the JSON sidecar, so a test (or a reader) can match every number on the page with it.
"""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1180px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}code,.hash{font-family:monospace;font-size:.9em}
.ok{color:#17692c}.failed{color:#b00020;font-weight:bold}.new,.unchecked{color:#8a6d00}
.banner{padding:.6em 1em;border-radius:4px;margin:1em 0}.banner.ok{background:#e3f4e7}.banner.failed{background:#fde4e7}
.pos{color:#17692c}.neg{color:#b00020}.charts{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
nav a{margin-right:1em}.muted{color:#777}
"""
STATUS_COLOUR = {"ok": "#17692c", "failed": "#b00020", "new": "#8a6d00", "unchecked": "#8a6d00"}


class Raw(str):
    """HTML already made (a link): a table puts it in a cell as it is."""


def page(title: str, body: str, nav: str = "") -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body>{nav}<h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def text(value: Any) -> str:
    if value is None:
        return '<span class="muted">-</span>'
    if isinstance(value, list):
        return escape(", ".join(map(str, value)))
    if isinstance(value, dict):
        return "<code>" + escape(", ".join(f"{k}={v}" for k, v in sorted(value.items()))) + "</code>"
    return escape(str(value))


def num(value: Any, key: str, signed: bool = False) -> str:
    """A numeric cell tied to its fact by data-key."""
    if value is None:
        return '<td class="num muted">-</td>'
    shown = f"{value:+}" if signed and isinstance(value, int | float) else str(value)
    cls = " pos" if signed and value > 0 else " neg" if signed and value < 0 else ""
    return f'<td class="num{cls}" data-key="{escape(key)}">{escape(shown)}</td>'


def table(headers: list[str], rows: list[list[str]]) -> str:
    """rows: already-rendered <td> cells, or plain values (escaped here)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, Raw):
        return f"<td>{value}</td>"
    if isinstance(value, str) and value.startswith("<td"):
        return value
    return f"<td>{text(value)}</td>"


def link(href: str, label: str) -> Raw:
    return Raw(f'<a href="{escape(href)}">{escape(label)}</a>')


def lineage_svg(links: list[dict]) -> str:
    """The lineage as a left-to-right chain of boxes, each coloured by its check."""
    width, height, gap, top = 124, 92, 14, 10
    parts = []
    for i, item in enumerate(links):
        x = i * (width + gap) + 2
        colour = STATUS_COLOUR.get(item["status"], "#777")
        value = str(item.get("value") or "")
        short = value if len(value) <= 16 else f"{value[:14]}…"
        words = item["label"].split(" ")
        first, second = " ".join(words[:2]), " ".join(words[2:])
        parts.append(
            f'<g class="link {escape(item["status"])}" data-link="{escape(item["id"])}">'
            f'<rect x="{x}" y="{top}" width="{width}" height="{height}" rx="6" fill="white" '
            f'stroke="{colour}" stroke-width="3"/>'
            f'<text x="{x + 8}" y="{top + 20}" font-size="12" font-weight="bold">{escape(first[:18])}</text>'
            f'<text x="{x + 8}" y="{top + 36}" font-size="11">{escape(second[:20])}</text>'
            f'<text x="{x + 8}" y="{top + 56}" font-size="11" font-family="monospace">{escape(short)}</text>'
            f'<text x="{x + 8}" y="{top + 78}" font-size="12" fill="{colour}" font-weight="bold">'
            f"{escape(item['status'])}</text></g>"
        )
        if i + 1 < len(links):
            ax, mid, tip = x + width, top + height / 2, x + width + gap
            parts.append(
                f'<line x1="{ax}" y1="{mid}" x2="{tip - 4}" y2="{mid}" stroke="#555" stroke-width="2"/>'
                f'<polygon points="{tip - 4},{mid - 4} {tip},{mid} {tip - 4},{mid + 4}" fill="#555"/>'
            )
    total = len(links) * (width + gap)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{total}" height="{height + 2 * top}" '
        f'viewBox="0 0 {total} {height + 2 * top}" role="img" aria-label="lineage">{"".join(parts)}</svg>'
    )


def lineage_section(links: list[dict], ok: bool) -> str:
    failed = [item for item in links if item["status"] == "failed"]
    banner = (
        '<div class="banner ok" id="lineage-status">Lineage verified: every hash was re-checked '
        "when this report was made.</div>"
        if ok
        else f'<div class="banner failed" id="lineage-status">LINEAGE BROKEN: {len(failed)} check(s) failed: '
        + escape("; ".join(f"{item['label']}: {item['problem']}" for item in failed))
        + "</div>"
    )
    rows = [
        [
            item["label"],
            f'<td class="hash" data-key="lineage.{escape(item["id"])}.value">{escape(str(item.get("value")))}</td>',
            item["detail"],
            f'<td class="{escape(item["status"])}">{escape(item["status"])}</td>',
            item.get("problem"),
        ]
        for item in links
    ]
    return (
        "<h2>Lineage</h2>"
        + banner
        + f'<div style="overflow-x:auto">{lineage_svg(links)}</div>'
        + table(["link", "value", "checked", "status", "problem"], rows)
    )


def metrics_table(metrics: dict, names: tuple[str, str], keys: tuple[str, str] = ("this", "production")) -> str:
    this, other, deltas = metrics.get(keys[0]) or {}, metrics.get(keys[1]) or {}, metrics.get("deltas") or {}
    rows = [
        [
            name,
            num(this.get(name), f"metrics.{keys[0]}.{name}"),
            num(other.get(name), f"metrics.{keys[1]}.{name}"),
            num(deltas.get(name), f"metrics.deltas.{name}", signed=True),
        ]
        for name in sorted(set(this) | set(other))
        if name != "schema_version"
    ]
    return table(["metric", names[0], names[1], "delta"], rows)


def per_class_table(this: dict | None, other: dict | None, names: tuple[str, str], keys: tuple[str, str]) -> str:
    mine, theirs = (this or {}).get("per_class") or {}, (other or {}).get("per_class") or {}
    rows = []
    for label in sorted(set(mine) | set(theirs)):
        row = [label]
        for metric in ("precision", "recall", "f1"):
            a, b = (mine.get(label) or {}).get(metric), (theirs.get(label) or {}).get(metric)
            row += [
                num(a, f"confusion.{keys[0]}.per_class.{label}.{metric}"),
                num(b, f"confusion.{keys[1]}.per_class.{label}.{metric}"),
            ]
        rows.append(row)
    headers = ["class"] + [f"{m} ({n})" for m in ("precision", "recall", "f1") for n in names]
    return table(headers, rows) if rows else '<p class="muted">No confusion matrix was committed with these models.</p>'
