"""Charts as inline SVG, rendered from Vega-Lite specs by vl-convert (no browser, no JavaScript
on the page). Each function takes the report's facts and returns SVG text, or "" when there
is nothing to draw.
"""

from __future__ import annotations

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
COLOURS = {"range": ["#4c78a8", "#f58518"]}


def svg(spec: dict) -> str:
    import vl_convert

    text = vl_convert.vegalite_to_svg({"$schema": SCHEMA, "config": {"font": "sans-serif"}, **spec})
    # the XML prolog and a fixed white background add nothing inline
    return text[text.index("<svg") :] if "<svg" in text else text


def _bars(rows: list[dict], x: str, title: str, column: str | None = None) -> str:
    if not rows:
        return ""
    encoding = {
        "x": {"field": x, "type": "nominal", "title": None},
        "y": {"field": "value", "type": "quantitative", "title": None},
        "xOffset": {"field": "who", "type": "nominal"},
        "color": {"field": "who", "type": "nominal", "title": None, "scale": COLOURS},
        "tooltip": [{"field": "who"}, {"field": x}, {"field": "value"}],
    }
    spec: dict = {"data": {"values": rows}, "mark": "bar", "title": title}
    if column:
        spec = {
            "data": {"values": rows},
            "title": title,
            "facet": {"column": {"field": column, "type": "nominal", "title": None}},
            "spec": {"mark": "bar", "encoding": encoding, "width": 60 * max(1, len({r[x] for r in rows}))},
        }
    else:
        spec.update(encoding=encoding, width=90 * max(1, len({r[x] for r in rows})))
    return svg(spec)


def metrics(this: dict, other: dict | None, names: tuple[str, str]) -> str:
    """The [0, 1] metrics of two versions side by side (counts such as n_test left out)."""
    rows = [
        {"who": who, "metric": key, "value": value}
        for who, found in zip(names, (this, other or {}))
        for key, value in sorted(found.items())
        if isinstance(value, float) and 0 <= value <= 1
    ]
    return _bars(rows, "metric", "Metrics")


def per_class(this: dict | None, other: dict | None, names: tuple[str, str]) -> str:
    rows = [
        {"who": who, "class": label, "metric": metric, "value": scores[metric]}
        for who, found in zip(names, ((this or {}).get("per_class"), (other or {}).get("per_class")))
        for label, scores in sorted((found or {}).items())
        for metric in ("precision", "recall")
    ]
    return _bars(rows, "class", "Per-class precision and recall", column="metric")


def confusion(found: dict | None, title: str) -> str:
    if not found:
        return ""
    rows = [
        {"actual": actual, "predicted": predicted, "count": found["matrix"][i][j]}
        for i, actual in enumerate(found["labels"])
        for j, predicted in enumerate(found["labels"])
    ]
    side = 40 * len(found["labels"])
    base = {"x": {"field": "predicted", "type": "nominal"}, "y": {"field": "actual", "type": "nominal"}}
    return svg(
        {
            "data": {"values": rows},
            "title": title,
            "width": side,
            "height": side,
            "layer": [
                {
                    "mark": "rect",
                    "encoding": {**base, "color": {"field": "count", "type": "quantitative", "legend": None}},
                },
                {"mark": {"type": "text", "color": "black"}, "encoding": {**base, "text": {"field": "count"}}},
            ],
        }
    )


def migration(comparison: dict) -> str:
    """Label precision@k of the old and the new embedding column."""
    rows = [
        {"who": column, "metric": f"precision@{comparison.get('k')}", "value": value}
        for column, value in (comparison.get("precision_at_k") or {}).items()
    ]
    return _bars(rows, "metric", "A/B: label precision of nearest neighbours")
