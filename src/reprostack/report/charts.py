"""Charts as inline SVG, rendered from Vega-Lite specs by vl-convert (no browser, no JavaScript
on the page). Each function takes the report's facts and returns SVG text, or "" when there
is nothing to draw.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
COLOURS = {"range": ["#4c78a8", "#f58518"]}


_STARTED_IN: int | None = None  # the process whose vl-convert runtime is running
_HELPER: subprocess.Popen | None = None  # a fresh process rendering for a process forked after that
# reads one spec per line, answers one SVG per line; ends when its stdin closes (its parent died)
_HELPER_CODE = (
    "import json, sys, vl_convert\n"
    "for line in sys.stdin:\n"
    "    print(json.dumps(vl_convert.vegalite_to_svg(json.loads(line))), flush=True)\n"
)


def warm_up() -> None:
    """Start vl-convert's JavaScript engine on a thread (it releases the GIL), so its start-up
    overlaps the lineage checks instead of following them. Only where svg() would run it."""
    global _STARTED_IN
    if _STARTED_IN is None:
        import threading

        _STARTED_IN = os.getpid()
        threading.Thread(target=svg, args=({"data": {"values": []}, "mark": "point"},), daemon=True).start()


def svg(spec: dict) -> str:
    global _STARTED_IN, _HELPER
    full = {"$schema": SCHEMA, "config": {"font": "sans-serif"}, **spec}
    if _STARTED_IN is None:
        _STARTED_IN = os.getpid()
    if _STARTED_IN == os.getpid():
        import vl_convert

        text = vl_convert.vegalite_to_svg(full)
    else:
        # vl-convert runs its JavaScript engine on a thread that fork() does not copy: in a
        # forked child (multiprocessing's default, the kill tests' harness) a call would wait
        # for that thread forever. Render in a helper process of this child's own instead.
        if _HELPER is None or _HELPER.poll() is not None:
            _HELPER = subprocess.Popen(
                [sys.executable, "-c", _HELPER_CODE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
            )
        _HELPER.stdin.write(json.dumps(full) + "\n")
        _HELPER.stdin.flush()
        text = json.loads(_HELPER.stdout.readline())
    # the XML prolog adds nothing inline
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
