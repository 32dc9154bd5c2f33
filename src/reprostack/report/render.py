"""Facts (report/facts.py) -> one self-contained HTML page: a release's or a run's report."""

from __future__ import annotations

from html import escape

from reprostack.report import charts
from reprostack.report.html import (
    lineage_section,
    metrics_table,
    num,
    page,
    per_class_table,
    table,
    text,
)
from reprostack.runs.diff import short


def _charts(*svgs: str) -> str:
    return '<div class="charts">' + "".join(f"<figure>{s}</figure>" for s in svgs if s) + "</div>"


def _timeline(events: list[dict]) -> str:
    if not events:
        return '<h2>Promotion and rollback history</h2><p class="muted">No events yet.</p>'
    rows = [
        [
            e["time"],
            f'<td data-key="timeline.{i}.action">{escape(e["action"])}</td>',
            ", ".join(f"{c['version']}: {c.get('from') or '-'} -> {c['to']}" for c in e.get("changes") or []),
            e.get("reason") or None,
            e.get("user"),
            e.get("tags"),
        ]
        for i, e in enumerate(events)
    ]
    return "<h2>Promotion and rollback history</h2>" + table(
        ["time (UTC)", "action", "changes", "reason", "by", "tags"], rows
    )


def _verdict(found: dict | None, run_id: str | None) -> str:
    head = "<h2>Reproduction</h2>"
    if not found:
        return (
            head
            + '<p class="muted">Not reproduced yet: <code>reprostack runs reproduce '
            + f"{escape(str(run_id))} --save</code>.</p>"
        )
    deltas = found.get("metric_deltas") or {}
    rows = [
        ["verdict", f'<td data-key="verdict.verdict">{escape(str(found.get("verdict")))}</td>'],
        ["mode", found.get("mode")],
        ["commit", found.get("commit")],
        ["seconds", num(found.get("seconds"), "verdict.seconds")],
    ]
    rows += [[f"delta {k}", num(v, f"verdict.metric_deltas.{k}", signed=True)] for k, v in sorted(deltas.items())]
    rows += [["environment difference", line] for line in found.get("environment_differences") or []]
    return head + table(["", ""], rows)


def _environment(env: dict) -> str:
    if not env:
        return '<h2>Environment</h2><p class="muted">The run record has no environment.</p>'
    rows = [[key, value] for key, value in sorted(env.items()) if key != "packages"]
    packages = env.get("packages") or {}
    rows += (
        [[f"package {name}", version] for name, version in sorted(packages.items())]
        if isinstance(packages, dict)
        else []
    )
    return "<h2>Environment</h2>" + table(["", ""], rows)


def _migrations(found: list[dict]) -> str:
    if not found:
        return ""
    parts = ["<h2>Embedding migration A/B</h2>"]
    for i, item in enumerate(found):
        comp = item.get("comparison") or {}
        prec = comp.get("precision_at_k") or {}
        rows = [
            [f"precision@{comp.get('k')} {column}", num(value, f"migrations.{i}.comparison.precision_at_k.{column}")]
            for column, value in prec.items()
        ]
        rows += [
            ["neighbour overlap", num(comp.get("neighbour_overlap"), f"migrations.{i}.comparison.neighbour_overlap")]
        ]
        rows += [
            [f"check {c.get('check')}", ("ok " if c.get("ok") else "FAILED ") + str(c.get("detail"))]
            for c in item.get("checks") or []
        ]
        parts.append(
            f"<p>{escape(str(item.get('from_model')))} ({escape(str(item.get('from_column')))}) -> "
            f"{escape(str(item.get('to_model')))} ({escape(str(item.get('to_column')))}), table "
            f"{escape(str(item.get('table')))} version {escape(str(item.get('version')))}: "
            f"<code>{escape(item['file'])}</code></p>"
        )
        parts.append(_charts(charts.migration(comp)) + table(["", ""], rows))
    return "".join(parts)


def release_page(facts: dict) -> str:
    names = (facts["version"], facts["compared_with"] or "production: none")
    conf = facts["confusion"]
    entry = facts["entry"]
    summary = table(
        ["", ""],
        [
            ["stage", facts["stage"]],
            ["released", entry.get("created_at")],
            ["by", entry.get("released_by")],
            ["run", entry.get("run_id")],
            ["classifier", entry["model"].get("classifier")],
            ["classes", entry["model"].get("classes")],
        ],
    )
    body = [
        f"<p>Report made {escape(facts['generated_utc'])} (UTC). Compared with the version in production: "
        f"<b>{escape(str(facts['compared_with'] or 'none'))}</b>.</p>",
        summary,
        lineage_section(facts["lineage"], facts["lineage_ok"]),
        "<h2>Metrics against production</h2>",
        metrics_table(facts["metrics"], names),
        _charts(charts.metrics(facts["metrics"]["this"], facts["metrics"]["production"], names)),
        "<h2>Per class</h2>",
        per_class_table(conf.get("this"), conf.get("production"), names, ("this", "production")),
        _charts(charts.per_class(conf.get("this"), conf.get("production"), names)),
        "<h2>Confusion matrices</h2>",
        _charts(
            charts.confusion(conf.get("this"), f"{facts['version']} (rows: actual)"),
            charts.confusion(conf.get("production"), f"{facts['compared_with']} (production)")
            if conf.get("production")
            else "",
        ),
        _timeline(facts["timeline"]),
        _verdict(facts["verdict"], facts["run"]["run_id"]),
        _environment(facts["environment"]),
        _migrations(facts["migrations"]),
    ]
    return page(f"Release report: {facts['title']}", "\n".join(body))


def diff_table(found: dict | None) -> str:
    if not found:
        return '<p class="muted">No run to compare with.</p>'
    if not found["differences"]:
        return f"<p>No differences ({found['same']} values compared).</p>"
    rows = [
        [
            section,
            row["key"],
            short(row["a"], 64),
            short(row["b"], 64),
            num(row["delta"], f"diff.sections.{section}.{row['key']}.delta", signed=True) if "delta" in row else None,
        ]
        for section, found_rows in found["sections"].items()
        for row in found_rows
    ]
    return f"<p>{found['differences']} differences, {found['same']} values the same.</p>" + table(
        ["section", "key", f"a: {found['a']}", f"b: {found['b']}", "delta"], rows
    )


def run_page(facts: dict) -> str:
    record = facts["record"]
    code, data = record.get("code") or {}, record.get("data") or {}
    model = (record.get("outputs") or {}).get("model") or {}
    names = (facts["run_id"][:22], (facts["compared_with"] or "previous: none")[:22])
    summary = table(
        ["", ""],
        [
            ["code commit", code.get("commit")],
            ["uncommitted changes", code.get("changed") or None],
            ["data snapshot", f"{data.get('dataset')}/{data.get('snapshot')}"],
            ["snapshot digest", data.get("digest")],
            [
                "vectors",
                text((record.get("vectors") or {}).get("table"))
                + f" version {(record.get('vectors') or {}).get('version')}",
            ],
            ["model sha256", model.get("sha256")],
            ["released as", facts["releases"] or None],
        ],
    )
    body = [
        f"<p>Report made {escape(facts['generated_utc'])} (UTC).</p>",
        summary,
        "<h2>Metrics against the previous run</h2>",
        metrics_table(facts["metrics"], names, ("this", "previous")),
        "<h2>Per class</h2>",
        per_class_table(facts["confusion"]["this"], None, (names[0], "-"), ("this", "none")),
        _charts(
            charts.per_class(facts["confusion"]["this"], None, names),
            charts.confusion(facts["confusion"]["this"], "confusion matrix"),
        ),
        "<h2>What changed since the previous run</h2>",
        diff_table(facts["diff"]),
        _verdict(facts["verdict"], facts["run_id"]),
        _environment(facts["environment"]),
        _migrations(facts["migrations"]),
    ]
    return page(f"Run report: {facts['run_id']}", "\n".join(body))
